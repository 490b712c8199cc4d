"""Regularizers for feature visualization, each a small named piece that composes with others.

Gradient ascent on the pixels of an image finds high-frequency patterns that excite a unit but
look like noise to us. Two kinds of pieces push it towards images a person can read:

- **transforms** change the image before the network sees it, at random at every step, so the
  optimized pattern must still work when shifted, scaled or rotated ("transformation
  robustness"): `Pad`, `Jitter`, `RandomScale`, `RandomRotate`; `Blur` low-passes the image so
  every gradient step is smooth;
- **penalties** add a named term to the loss: `L2Decay` pulls the pixels towards mean gray.

`nstutils.visualize(..., transforms=[...], penalties=[...])` takes a list of each kind;
`standard_transforms()` is the recipe of transforms used by default. Each random piece draws
from a ``torch.Generator`` so a seed repeats a run exactly, and each rests on a plain function
(`roll`, `rescale`, `rotate`, `gaussian_blur`) that can be checked on a small tensor.
"""

import functools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

GRAY = 0.5


# --- the plain functions --------------------------------------------------------------------

def roll(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Shift an image cyclically: what leaves one side comes back on the other.

    Args:
        image: (N, C, H, W).
        dy: rows to shift down (negative: up).
        dx: columns to shift right (negative: left).

    Returns:
        (N, C, H, W).
    """
    return torch.roll(image, shifts=(dy, dx), dims=(-2, -1))


def rescale(image: torch.Tensor, factor: float) -> torch.Tensor:
    """Resize an image by a factor with bilinear interpolation.

    Args:
        image: (N, C, H, W).
        factor: e.g. 1.1 for 10 % larger; the new sides are rounded.

    Returns:
        (N, C, round(H * factor), round(W * factor)).
    """
    if factor <= 0:
        raise ValueError(f"A scale factor must be positive, got {factor}.")
    h, w = image.shape[-2:]
    size = (max(1, round(h * factor)), max(1, round(w * factor)))
    if size == (h, w):
        return image
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False)


def rotate(image: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate an image about its centre, counter-clockwise, keeping its size.

    Corners that come from outside the image are filled by reflection.

    Args:
        image: (N, C, H, W).
        degrees: the angle.

    Returns:
        (N, C, H, W).
    """
    if degrees == 0:
        return image
    n, _, h, w = image.shape
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    # affine_grid works in [-1, 1] coordinates on both axes: correct for the aspect ratio.
    theta = torch.tensor([[cos, -sin * h / w, 0.0], [sin * w / h, cos, 0.0]],
                         dtype=image.dtype, device=image.device)
    grid = F.affine_grid(theta.expand(n, 2, 3), list(image.shape), align_corners=False)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="reflection",
                         align_corners=False)


@functools.lru_cache(maxsize=32)
def gaussian_kernel(sigma: float) -> torch.Tensor:
    """Return the normalized 1-D Gaussian kernel used by `gaussian_blur`.

    Args:
        sigma: the standard deviation in pixels (> 0).

    Returns:
        (2 * ceil(2 * sigma) + 1,) weights that sum to 1 (cached per sigma: do not change it).
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}.")
    radius = math.ceil(2 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-x ** 2 / (2 * sigma ** 2))
    return (kernel / kernel.sum()).float()


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur each channel with a Gaussian, reflecting the image at its borders.

    Args:
        image: (N, C, H, W), each side larger than 2 * ceil(2 * sigma).
        sigma: the standard deviation in pixels.

    Returns:
        (N, C, H, W).
    """
    kernel = gaussian_kernel(sigma).to(image)
    radius = kernel.numel() // 2
    if radius >= min(image.shape[-2:]):
        raise ValueError(f"A blur with sigma={sigma} needs an image larger than {2 * radius} "
                         f"pixels on each side, got {tuple(image.shape[-2:])}: use a smaller "
                         "sigma or a larger image.")
    c = image.shape[1]
    x = F.pad(image, [radius] * 4, mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


# --- the composable pieces ------------------------------------------------------------------

class Transform:
    """A change applied to the image before the network sees it (subclasses say which)."""

    def __call__(self, image: torch.Tensor,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Apply the transform.

        Args:
            image: (N, 3, H, W).
            generator: the source of randomness (a CPU generator); the global one when None.

        Returns:
            (N, 3, H', W').
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{v!r}" for v in vars(self).values())
        return f"{type(self).__name__}({args})"


class Penalty:
    """A term added to the loss, computed on the image itself (subclasses say which)."""

    name = "penalty"

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """Compute the penalty.

        Args:
            image: (N, 3, H, W) in [0, 1].

        Returns:
            scalar tensor, to be minimized.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{v!r}" for v in vars(self).values())
        return f"{type(self).__name__}({args})"


def _randint(low: int, high: int, generator: torch.Generator | None) -> int:
    """A random integer in [low, high] inclusive."""
    return int(torch.randint(low, high + 1, (), generator=generator))


def _check_positive(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}.")


class Pad(Transform):
    """Add a constant border (mean gray by default), so the edges are no special place.

    Args:
        pixels: the border width on every side.
        value: the fill value.
    """

    def __init__(self, pixels: int, value: float = GRAY):
        _check_positive("pixels", pixels)
        self.pixels = int(pixels)
        self.value = value

    def __call__(self, image, generator=None):
        return F.pad(image, [self.pixels] * 4, value=self.value)


class Jitter(Transform):
    """Roll the image by a random number of pixels in [-pixels, pixels] on each axis.

    Args:
        pixels: the largest shift.
    """

    def __init__(self, pixels: int):
        _check_positive("pixels", pixels)
        self.pixels = int(pixels)

    def __call__(self, image, generator=None):
        dy = _randint(-self.pixels, self.pixels, generator)
        dx = _randint(-self.pixels, self.pixels, generator)
        return roll(image, dy, dx)


class RandomScale(Transform):
    """Resize the image by a factor drawn from a list.

    Args:
        factors: the candidate factors, e.g. (0.9, 0.95, 1.0, 1.05, 1.1).
    """

    def __init__(self, factors: Sequence[float] = (0.9, 0.95, 1.0, 1.05, 1.1)):
        factors = tuple(float(f) for f in factors)
        if not factors or min(factors) <= 0:
            raise ValueError(f"RandomScale needs positive factors, got {factors}.")
        self.factors = factors

    def __call__(self, image, generator=None):
        return rescale(image, self.factors[_randint(0, len(self.factors) - 1, generator)])


class RandomRotate(Transform):
    """Rotate the image by a whole number of degrees drawn in [-degrees, degrees].

    Args:
        degrees: the largest angle.
    """

    def __init__(self, degrees: int):
        _check_positive("degrees", degrees)
        self.degrees = int(degrees)

    def __call__(self, image, generator=None):
        return rotate(image, _randint(-self.degrees, self.degrees, generator))


class Blur(Transform):
    """Show the network a Gaussian-blurred image, so each gradient step is blurred too.

    Args:
        sigma: the blur's standard deviation in pixels.
    """

    def __init__(self, sigma: float):
        _check_positive("sigma", sigma)
        self.sigma = float(sigma)

    def __call__(self, image, generator=None):
        return gaussian_blur(image, self.sigma) if self.sigma > 0 else image


class L2Decay(Penalty):
    """Penalize the distance from mean gray: ``weight * mean((image - 0.5)^2)``.

    Args:
        weight: how hard to pull towards gray.
    """

    name = "l2_decay"

    def __init__(self, weight: float):
        _check_positive("weight", weight)
        self.weight = float(weight)

    def __call__(self, image):
        return self.weight * (image - GRAY).pow(2).mean()


def standard_transforms() -> list[Transform]:
    """Return the default recipe of transformation robustness used by `nstutils.visualize`.

    Returns:
        list: pad 16, jitter 16, scale by 0.8 to 1.2, rotate up to 15 degrees, jitter 8.
    """
    return [Pad(16), Jitter(16), RandomScale(tuple(round(0.8 + 0.05 * i, 2) for i in range(9))),
            RandomRotate(15), Jitter(8)]


_KINDS = {"transforms": Transform, "penalties": Penalty}


def check_pieces(pieces: Sequence[Transform | Penalty] | None, parameter: str) -> list:
    """Check that every piece is of the kind a parameter takes, refusing anything else.

    Args:
        pieces: the pieces given, in order; None for none.
        parameter: ``"transforms"`` (`Transform` pieces) or ``"penalties"`` (`Penalty` pieces).

    Returns:
        list: the pieces in their order (a new list).
    """
    kind = _KINDS[parameter]
    pieces = [] if pieces is None else list(pieces)
    for piece in pieces:
        if isinstance(piece, kind):
            continue
        home = [name for name, other in _KINDS.items() if isinstance(piece, other)]
        hint = (f"it belongs in {home[0]}=[...]" if home else
                "use the pieces of nstutils.transforms, e.g. Jitter(8) or L2Decay(1.0)")
        raise TypeError(f"{parameter}= takes {kind.__name__} pieces, got {piece!r}: {hint}.")
    return pieces


def apply_transforms(image: torch.Tensor, transforms: Sequence[Transform],
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply transforms in order.

    Args:
        image: (N, 3, H, W).
        transforms: the pieces, first applied first.
        generator: their source of randomness.

    Returns:
        (N, 3, H', W').
    """
    for transform in transforms:
        image = transform(image, generator)
    return image
