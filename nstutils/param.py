"""Image parametrizations: what the optimizer changes when it "optimizes an image".

The plain choice is one number per pixel and colour (`PixelImage`). Feature visualization works
much better when the optimizer changes other numbers from which the image is computed:

- **Fourier**: the coefficients of the image's 2-D spectrum, each scaled by 1/frequency
  (`FourierImage`). A step of the same size then moves coarse structure more than fine detail,
  which is what the spectra of natural photos look like; the high-frequency noise of naive
  ascent never gets a foothold.
- **Colour decorrelation**: the three numbers per pixel are not R, G, B but coordinates along
  the principal colour axes of natural photos (brightness, then two colour-opponent axes),
  measured here on the scikit-image photos. Gradient steps then change colours the way photos
  vary, instead of in garish independent R, G, B.

Both end in a sigmoid, so every image lies in (0, 1). Each parametrization also encodes a given
image (`from_image`), so optimization can start from a photo, and ``decode(encode(x)) == x``.
"""

import functools

import numpy as np
import torch

_COLOUR_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
_EPS = 1e-6


@functools.cache
def colour_correlation_sqrt() -> torch.Tensor:
    """Return the square root of the RGB covariance of natural photos, as principal axes.

    Columns are the principal colour directions (brightness first), each scaled by the standard
    deviation along it, then divided by the largest column norm. ``M @ z`` for white ``z`` has
    the colour correlations of the photos.

    Returns:
        (3, 3) float32 tensor M.
    """
    import skimage.data

    pixels = np.concatenate([getattr(skimage.data, name)()[..., :3].reshape(-1, 3)[::7] / 255.0
                             for name in _COLOUR_PHOTOS])
    variances, axes = np.linalg.eigh(np.cov(pixels.T))
    order = np.argsort(variances)[::-1]
    sqrt = axes[:, order] * np.sqrt(variances[order])
    sqrt *= np.sign(sqrt[np.abs(sqrt).argmax(axis=0), range(3)])  # largest entry positive
    return torch.tensor(sqrt / np.linalg.norm(sqrt, axis=0).max(), dtype=torch.float32)


def _size_pair(size: int | tuple[int, int]) -> tuple[int, int]:
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or not all(isinstance(s, int) and s > 0 for s in pair):
        raise ValueError(f"size must be a positive int or (H, W), got {size!r}.")
    return pair


class ImageParam:
    """An image computed from parameters: ``param()`` gives it, ``param.params`` are optimized.

    Subclasses define `encode` and `decode`. Use `PixelImage` or `FourierImage`.

    Args:
        size: an int for a square image, or (H, W).
        batch: how many images.
        decorrelate: work along the principal colour axes instead of R, G, B.
        sd: the standard deviation of the random start (0 starts at mean gray).
        seed: the seed of the random start.
        device: where the parameters live.
    """

    def __init__(self, size: int | tuple[int, int] = 128, batch: int = 1,
                 decorrelate: bool = True, sd: float = 0.01, seed: int = 0,
                 device: torch.device | str | None = None):
        self.size = _size_pair(size)
        if not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be a positive int, got {batch!r}.")
        if sd < 0:
            raise ValueError(f"sd must be 0 or more, got {sd}.")
        self.batch = batch
        self.decorrelate = decorrelate
        self.device = torch.device(device if device is not None else "cpu")
        generator = torch.Generator().manual_seed(seed)
        shape = self._param_shape()
        self.params = (torch.randn(shape, generator=generator) * sd).to(self.device)

    @classmethod
    def from_image(cls, image: torch.Tensor, **kwargs) -> "ImageParam":
        """Build the parametrization whose image is a given one.

        Args:
            image: (N, 3, H, W) in [0, 1] (values are kept a hair inside (0, 1)).
            **kwargs: options of the class, e.g. ``decorrelate=False``.

        Returns:
            ImageParam: ``param()`` returns ``image`` (up to float error).
        """
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f"Expected an image (N, 3, H, W), got {tuple(image.shape)}.")
        param = cls(size=tuple(image.shape[-2:]), batch=image.shape[0], sd=0.0,
                    device=image.device, **kwargs)
        param.params = param.encode(image.detach())
        return param

    def __call__(self) -> torch.Tensor:
        """Return the current image, (N, 3, H, W) in (0, 1), differentiable in ``params``."""
        return self.decode(self.params)

    def __repr__(self) -> str:
        h, w = self.size
        return (f"{type(self).__name__}({h}x{w}, batch={self.batch}, "
                f"decorrelate={self.decorrelate})")

    def clone(self) -> "ImageParam":
        """Return an independent copy (optimizing it leaves this one unchanged)."""
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        twin.params = self.params.detach().clone()
        return twin

    def encode(self, image: torch.Tensor) -> torch.Tensor:
        """Return the parameters of an image (N, 3, H, W) in [0, 1]."""
        raise NotImplementedError

    def decode(self, params: torch.Tensor) -> torch.Tensor:
        """Return the image (N, 3, H, W) in (0, 1) of some parameters."""
        raise NotImplementedError

    def _param_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    # colour: parameters hold coordinates along the colour axes, before the sigmoid
    def _to_rgb(self, z: torch.Tensor) -> torch.Tensor:
        if self.decorrelate:
            z = torch.einsum("ij,njhw->nihw", colour_correlation_sqrt().to(z), z)
        return torch.sigmoid(z)

    def _from_rgb(self, image: torch.Tensor) -> torch.Tensor:
        z = torch.logit(image.clamp(_EPS, 1 - _EPS))
        if self.decorrelate:
            inverse = torch.linalg.inv(colour_correlation_sqrt().double()).to(z)
            z = torch.einsum("ij,njhw->nihw", inverse, z)
        return z


class PixelImage(ImageParam):
    """One parameter per pixel and colour channel (R, G, B unless ``decorrelate``).

    Args: see `ImageParam`; ``decorrelate`` is False by default here.
    """

    def __init__(self, size: int | tuple[int, int] = 128, batch: int = 1,
                 decorrelate: bool = False, sd: float = 0.01, seed: int = 0,
                 device: torch.device | str | None = None):
        super().__init__(size, batch, decorrelate, sd, seed, device)

    def _param_shape(self):
        return (self.batch, 3, *self.size)

    def encode(self, image):
        return self._from_rgb(image)

    def decode(self, params):
        return self._to_rgb(params)


class FourierImage(ImageParam):
    """The image's 2-D Fourier coefficients, each scaled by 1 / frequency^decay_power.

    ``params`` has shape (N, 3, H, W // 2 + 1, 2): real and imaginary parts of the half
    spectrum of a real image (``torch.fft.rfft2``).

    Args: see `ImageParam`, and
        decay_power: how much faster fine detail is damped (0: like pixels, 1: 1/f, like photos).
    """

    def __init__(self, size: int | tuple[int, int] = 128, batch: int = 1,
                 decorrelate: bool = True, sd: float = 0.01, seed: int = 0,
                 device: torch.device | str | None = None, decay_power: float = 1.0):
        self.decay_power = decay_power
        super().__init__(size, batch, decorrelate, sd, seed, device)

    def _param_shape(self):
        h, w = self.size
        return (self.batch, 3, h, w // 2 + 1, 2)

    def spectrum_scale(self) -> torch.Tensor:
        """Return the factor of each coefficient: 1/f^decay_power, normalized to unit RMS.

        Returns:
            (H, W // 2 + 1) float tensor on the parameters' device.
        """
        return _spectrum_scale(*self.size, self.decay_power, self.params.device)

    def encode(self, image):
        spectrum = torch.fft.rfft2(self._from_rgb(image), norm="ortho")
        return torch.view_as_real(spectrum / _spectrum_scale(*self.size, self.decay_power,
                                                             spectrum.device))

    def decode(self, params):
        scale = _spectrum_scale(*self.size, self.decay_power, params.device)
        spectrum = torch.view_as_complex(params.contiguous()) * scale
        return self._to_rgb(torch.fft.irfft2(spectrum, s=self.size, norm="ortho"))


@functools.lru_cache(maxsize=16)
def _spectrum_scale(h: int, w: int, decay_power: float, device: torch.device) -> torch.Tensor:
    """1/f^decay_power per rfft2 coefficient, unit RMS; built once per size and device."""
    fy = torch.fft.fftfreq(h)[:, None]
    fx = torch.fft.rfftfreq(w)[None, :]
    frequency = torch.sqrt(fy ** 2 + fx ** 2).clamp(min=1.0 / max(h, w))
    scale = frequency ** -decay_power
    return (scale / scale.pow(2).mean().sqrt()).to(device)


PARAMETRIZATIONS = {"pixel": PixelImage, "fourier": FourierImage}


def make_param(param: str | ImageParam, size: int | tuple[int, int], batch: int, seed: int,
               device: torch.device | str) -> ImageParam:
    """Resolve a parametrization name into a fresh one, or copy a given one.

    Args:
        param: ``"pixel"`` (plain R, G, B pixels), ``"fourier"`` (Fourier with colour
            decorrelation), or an `ImageParam` to start from (copied, never changed).
        size: side or (H, W), used for a name.
        batch: images, used for a name.
        seed: the random start's seed, used for a name.
        device: where the parameters go.

    Returns:
        ImageParam: a new object the caller may optimize.
    """
    if isinstance(param, ImageParam):
        twin = param.clone()
        twin.params = twin.params.to(device)
        twin.device = torch.device(device)
        return twin
    if param not in PARAMETRIZATIONS:
        raise ValueError(f"Unknown parametrization {param!r}: use 'pixel', 'fourier', or an "
                         "ImageParam such as nstutils.PixelImage(128, decorrelate=True).")
    return PARAMETRIZATIONS[param](size=size, batch=batch, seed=seed, device=device)


def spectrum_power(image: torch.Tensor, bins: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Measure how an image's power spreads over spatial frequencies (radially averaged).

    Args:
        image: (N, 3, H, W).
        bins: frequency bands between 0 and 0.5 cycles per pixel.

    Returns:
        (bins,) band centres in cycles per pixel, and (bins,) mean power per band.
    """
    h, w = image.shape[-2:]
    power = torch.fft.rfft2(image - image.mean(dim=(-2, -1), keepdim=True), norm="ortho")
    power = power.abs().pow(2).mean(dim=(0, 1)).cpu()
    frequency = torch.sqrt(torch.fft.fftfreq(h)[:, None] ** 2 + torch.fft.rfftfreq(w)[None, :] ** 2)
    band = (frequency / 0.5 * bins).long().clamp(max=bins - 1)
    totals = torch.zeros(bins).index_add_(0, band.flatten(), power.flatten())
    counts = torch.zeros(bins).index_add_(0, band.flatten(), torch.ones(band.numel()))
    centres = (torch.arange(bins) + 0.5) * 0.5 / bins
    return centres, totals / counts.clamp(min=1)

