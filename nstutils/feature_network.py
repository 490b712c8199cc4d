"""A pretrained network seen as a chain of named layers that takes RGB images in [0, 1].

`FeatureNetwork` wraps any classifier given as stages (callables run in order) and a map from
readable layer names to the modules whose outputs they are. ``nstutils.models`` builds them.
"""

import contextlib
import difflib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .validate import ImageArgumentError, check_image

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
        self.weights = "imagenet"  # or "random" (see load_model)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))
        self._shapes: dict[str, tuple[int, ...]] = {}

    @property
    def layers(self) -> list[str]:
        """The readable layer names, shallow to deep (``"logits"`` last)."""
        return list(self._layers)

    @property
    def spatial_layers(self) -> list[str]:
        """The layers with an (h, w) map, shallow to deep: every layer but ``"logits"``."""
        return [name for name, shape in self._probe_shapes().items() if len(shape) == 4]

    def __repr__(self) -> str:
        weights = "" if self.weights == "imagenet" else f", weights={self.weights!r}"
        return (f"FeatureNetwork({self.name!r}, {len(self._layers)} layers{weights}, "
                f"device={self.device})")

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
        image = self._check_image(image)
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
                                 f"{self.layers[len(self.layers) // 2]!r} (see model.spatial_layers).")
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

    def _check_image(self, image: torch.Tensor) -> torch.Tensor:
        """Refuse what the network cannot take; cheap (no look at the pixel values).

        Args:
            image: (N, 3, H, W) RGB, on the network's device, each side at least ``min_size``.

        Returns:
            (N, 3, H, W) the image, of the network's float type (float64 is converted).
        """
        image = check_image(image, device=self.device, pixels=False, dtype=self.mean.dtype)
        if min(image.shape[-2:]) < self.min_size:
            raise ImageArgumentError(
                f"The image is {image.shape[-1]}x{image.shape[-2]} pixels; {self.name} needs at "
                f"least {self.min_size} on each side. Load it larger.")
        return image
