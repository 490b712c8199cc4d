"""Lesson 09's failures, made on purpose: a network fed the wrong input, and views of what went wrong.

- `misnormalized`: the same network (the same weights, not a copy) with one classic mistake in
  its input normalization: BGR channel order, 0-255 values, another network's mean and std, or
  none at all. It runs wherever a `FeatureNetwork` does (`style_transfer`, `top_k`, ...).
- `high_pass`: the fine detail of an image, made visible (the noise of naive feature
  visualization lives there).
- `mark_out_of_range`: paints the pixels outside [0, 1] in one colour (what an unclamped
  optimization leaves behind).
- `memory_estimate`: the memory an optimization of a canvas needs, from `BYTES_PER_PIXEL`.
"""

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .feature_network import FeatureNetwork
from .models import IMAGENET_MEAN, IMAGENET_STD, LITE0_MEAN, LITE0_STD
from .validate import BYTES_PER_PIXEL, check_count, check_image, check_number, memory_needed

MISTAKES = ("bgr", "0-255", "other_stats", "none")
MISTAKE_TITLES = {"bgr": "BGR channel order", "0-255": "values 0-255",
                  "other_stats": "another network's mean/std", "none": "no normalization"}


class MisnormalizedNetwork(FeatureNetwork):
    """A `FeatureNetwork` sharing another's weights whose input normalization makes one mistake.

    Args:
        model: the correctly normalized network (its weights are shared, not copied).
        mistake: one of `MISTAKES`: ``"bgr"`` (the channels reversed before the correct
            normalization), ``"0-255"`` (the image times 255, then the correct normalization),
            ``"other_stats"`` (another network's mean and std: ImageNet's for a network that
            uses 0.5, 0.5, and 0.5, 0.5 otherwise) or ``"none"`` (the [0, 1] pixels as they are).
    """

    def __init__(self, model: FeatureNetwork, mistake: str):
        if not isinstance(model, FeatureNetwork):
            raise TypeError(f"model must be a FeatureNetwork, got {type(model).__name__}: use "
                            "nstutils.load_model(...).")
        if isinstance(model, MisnormalizedNetwork):
            raise ValueError("This network is already misnormalized: start from the right one.")
        if mistake not in MISTAKES:
            raise ValueError(f"Unknown mistake {mistake!r}: use one of {', '.join(MISTAKES)}.")
        mean, std = model.mean.flatten().tolist(), model.std.flatten().tolist()
        if mistake == "other_stats":
            uses_lite0 = torch.allclose(model.mean.flatten().cpu(), torch.tensor(LITE0_MEAN))
            mean, std = (IMAGENET_MEAN, IMAGENET_STD) if uses_lite0 else (LITE0_MEAN, LITE0_STD)
        super().__init__(model.name, model.net, model._stages, model._layers, mean, std,
                         model.min_size)  # the same name: the same default layers
        self.mistake = mistake
        self.weights = model.weights
        self.to(model.device)

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, mistake={self.mistake!r})"

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        """Apply the wrong normalization.

        Args:
            image: (N, 3, H, W) RGB in [0, 1].

        Returns:
            (N, 3, H, W) what this network feeds its first layer.
        """
        image = self._check_image(image)
        if self.mistake == "none":
            return image
        if self.mistake == "bgr":
            image = image.flip(1)
        elif self.mistake == "0-255":
            image = image * 255
        return (image - self.mean) / self.std


def misnormalized(model: FeatureNetwork, mistake: str) -> MisnormalizedNetwork:
    """Return the network with one mistake in its input normalization (see `MisnormalizedNetwork`).

    Args:
        model: a correctly normalized `FeatureNetwork` (its weights are shared).
        mistake: ``"bgr"``, ``"0-255"``, ``"other_stats"`` or ``"none"``.

    Returns:
        MisnormalizedNetwork: takes (N, 3, H, W) RGB in [0, 1] like ``model``.
    """
    return MisnormalizedNetwork(model, mistake)


def high_pass(image: torch.Tensor, gain: float = 4.0) -> torch.Tensor:
    """Show an image's fine detail: the image minus its 3x3 local mean, around mid-grey.

    Args:
        image: (N, 3, H, W) in [0, 1], each side at least 2.
        gain: how much the detail is amplified for display.

    Returns:
        (N, 3, H, W) in [0, 1]: 0.5 where the image is smooth, far from it at fine detail.
    """
    image = check_image(image, pixels=False)
    gain = check_number(gain, "gain", positive=True)
    if min(image.shape[-2:]) < 2:
        raise ValueError(f"high_pass needs at least 2 pixels on each side, got "
                         f"{tuple(image.shape[-2:])}.")
    smooth = F.avg_pool2d(F.pad(image, (1, 1, 1, 1), mode="reflect"), 3, stride=1)
    return (0.5 + gain * (image - smooth)).clamp(0, 1)


def mark_out_of_range(image: torch.Tensor,
                      color: Sequence[float] = (1.0, 0.0, 1.0)) -> torch.Tensor:
    """Paint every pixel with a value outside [0, 1] in one colour, the others clamped.

    Args:
        image: (N, 3, H, W) of any values (e.g. `style_transfer(..., pixels="none")`).
        color: the RGB colour of the out-of-range pixels, each in [0, 1] (magenta).

    Returns:
        (N, 3, H, W) in [0, 1].
    """
    image = check_image(image, pixels=False)
    if len(color) != 3 or not all(0 <= c <= 1 for c in color):
        raise ValueError(f"color must be three numbers in [0, 1], got {color!r}.")
    outside = ((image < 0) | (image > 1)).any(dim=1, keepdim=True)
    paint = torch.tensor(color, dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    return torch.where(outside, paint, image.clamp(0, 1))


def memory_estimate(side: int, batch: int = 1, aspect: float = 1.0,
                    bytes_per_pixel: float = BYTES_PER_PIXEL) -> float:
    """The memory (GiB) an optimization of a canvas needs: pixels times batch times bytes per pixel.

    Args:
        side: the canvas' longer side in pixels.
        batch: how many canvases are optimized together.
        aspect: the shorter side over the longer one (1 for a square).
        bytes_per_pixel: the memory per canvas pixel (activations, their gradients, the
            optimizer's state); `BYTES_PER_PIXEL` was measured with EfficientNet-Lite0.

    Returns:
        float: GiB.
    """
    side = check_count(side, "side", low=1)
    batch = check_count(batch, "batch", low=1)
    if not 0 < aspect <= 1:
        raise ValueError(f"aspect is the shorter side over the longer one, in (0, 1]; got {aspect}.")
    return memory_needed((round(side * aspect), side), batch, bytes_per_pixel) / 2**30
