"""Images in and out: load anything a student has into a (1, 3, H, W) tensor in [0, 1], and back."""

import io
import math
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import PIL.ImageOps
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
import torchvision.utils

from .devices import default_device
from .download import DownloadError, download

MAX_SIZE = 2048
MIN_SIZE = 32
PIL.Image.MAX_IMAGE_PIXELS = 20_000 * 20_000  # refuse decompression bombs, allow big photos


class ImageError(ValueError):
    """An input that cannot be turned into an image (corrupt, not an image, wrong shape)."""


def load_image(src: Any, size: int | tuple[int, int] | None = None,
               device: torch.device | str | None = None, max_size: int = MAX_SIZE,
               min_size: int = MIN_SIZE) -> torch.Tensor:
    """Load an image as an RGB tensor in [0, 1].

    Accepts a file path, an http(s) URL, a PIL image, a numpy array (H, W), (H, W, 3) or
    (H, W, 4) of uint8, uint16 or floats in [0, 1], a tensor (3, H, W) or (1, 3, H, W) in [0, 1],
    raw file bytes, or the value of an ipywidgets ``FileUpload``. Grayscale, RGBA (composited on
    white), palette, 16-bit and CMYK images are converted; EXIF rotation is applied.

    Args:
        src: the image.
        size: an int makes the longer side that many pixels (aspect kept); (H, W) is exact.
        device: where the tensor goes; `default_device()` when None.
        max_size: a longer side above this is scaled down to it, with a warning.
        min_size: a shorter side below this (before or after resizing) is refused.

    Returns:
        (1, 3, H, W) float32 tensor in [0, 1].

    Raises:
        FileNotFoundError: the path does not exist.
        ImageError: the input is not a readable image or is too small.
    """
    image = _to_tensor(src)
    h, w = image.shape[-2:]
    if min(h, w) < min_size:
        raise ImageError(f"The image is only {w}x{h} pixels; the networks need at least "
                         f"{min_size} on each side. Use a larger image.")
    if size is not None:
        image = resize(image, size)
    elif max(h, w) > max_size:
        warnings.warn(f"The image is {w}x{h} pixels; scaled down to {max_size} on its longer "
                      "side. Pass size=... to choose another size.", stacklevel=2)
        image = resize(image, max_size)
    if min(image.shape[-2:]) < min_size:
        raise ImageError(f"size={size} makes the image {image.shape[-1]}x{image.shape[-2]} "
                         f"pixels; the networks need at least {min_size} on each side.")
    return image.to(device if device is not None else default_device())


def resize(image: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Resize with bicubic antialiasing, then clamp to [0, 1] (bicubic overshoots at edges).

    Because of the clamp this is for images only: resize a signed difference (such as
    DeepDream's detail) with ``F.interpolate`` instead. A same-size call returns ``image``
    itself, unclamped.

    Args:
        image: (N, C, H, W).
        size: an int for the longer side (aspect kept), or (H, W).

    Returns:
        (N, C, H', W') clamped to [0, 1].
    """
    h, w = image.shape[-2:]
    if isinstance(size, int):
        scale = size / max(h, w)
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
    if tuple(size) == (h, w):
        return image
    out = F.interpolate(image, size=tuple(size), mode="bicubic", antialias=True,
                        align_corners=False)
    return out.clamp(0, 1)


def check_image(image: Any, name: str = "image", batch_one: bool = False) -> None:
    """Refuse anything but float RGB images shaped (N, 3, H, W), with a message saying what to do.

    Cheap (no look at the pixel values), so networks can call it on every forward.

    Args:
        image: what the caller was given.
        name: how the message calls it ("content", "guide" ...).
        batch_one: require exactly one image, (1, 3, H, W).
    """
    shape = "(1, 3, H, W)" if batch_one else "(N, 3, H, W)"
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"{name} must be an image tensor {shape}, got {type(image).__name__}: "
                        "load one with nstutils.load_image(...) or nstutils.sample_image(...).")
    if image.dim() != 4 or image.shape[1] != 3 or (batch_one and image.shape[0] != 1):
        fix = " Add a batch dimension with image[None]." if image.dim() == 3 else ""
        raise ValueError(f"{name} must be RGB shaped {shape}, got {tuple(image.shape)}.{fix}")
    if not image.is_floating_point():
        raise TypeError(f"{name} must be a float image in [0, 1], got {image.dtype}: divide by "
                        "255 or use nstutils.load_image.")


def _to_tensor(src: Any) -> torch.Tensor:
    """Turn any supported input into a (1, 3, H, W) float32 CPU tensor in [0, 1]."""
    if isinstance(src, torch.Tensor):
        return _from_tensor(src)
    if isinstance(src, np.ndarray):
        return _from_array(src)
    if isinstance(src, PIL.Image.Image):
        return _from_pil(src)
    if isinstance(src, (bytes, bytearray, memoryview)):
        return _from_pil(_open(io.BytesIO(bytes(src)), "the bytes given"))
    upload = _upload_content(src)
    if upload is not None:
        return _to_tensor(upload)
    if isinstance(src, (str, Path)):
        text = str(src)
        if text.startswith(("http://", "https://")):
            return _from_pil(_open(io.BytesIO(_download_image(text)), text))
        path = Path(text).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"No image file at {path.resolve()}. Check the path, or use "
                                    "nstutils.sample_image(name) for a built-in image.")
        return _from_pil(_open(path, str(path)))
    raise ImageError(f"Cannot load an image from a {type(src).__name__}: give a path, a URL, "
                     "a PIL image, a numpy array, a tensor or bytes.")


def _upload_content(src: Any) -> bytes | None:
    """Return the file bytes of an ipywidgets ``FileUpload`` (the widget or its value), else None."""
    value = getattr(src, "value", src)
    if isinstance(value, dict):  # ipywidgets 7: {filename: {"content": ...}}
        value = list(value.values())
    if not isinstance(value, (tuple, list)):
        return None
    if not value:
        if src is not value:
            raise ImageError("The upload widget holds no file yet: choose a file first.")
        return None
    if isinstance(value[0], dict) and "content" in value[0]:
        return bytes(value[0]["content"])
    return None


def _download_image(url: str) -> bytes:
    """The bytes behind an image URL, through the package's one download path (a temporary file)."""
    with tempfile.TemporaryDirectory(prefix="nstutils-") as folder:
        try:
            path = download(url, Path(folder) / "image", "an image",
                            hint="Check the address and the network, or save the file and load "
                                 "its path.", progressbar=False)
        except DownloadError as err:
            raise ImageError(str(err)) from None
        return path.read_bytes()


def _open(fp: Any, what: str) -> PIL.Image.Image:
    try:
        image = PIL.Image.open(fp)
        image.load()
    except PIL.Image.UnidentifiedImageError:
        raise ImageError(f"{what} is not an image file that Pillow can read.") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageError(f"{what} is a damaged or truncated image ({err}). "
                         "Save it again or use another file.") from None
    return image


def _from_pil(image: PIL.Image.Image) -> torch.Tensor:
    """PIL image of any mode -> (1, 3, H, W) float32 in [0, 1], EXIF rotation applied."""
    image = PIL.ImageOps.exif_transpose(image)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        array = np.asarray(image).astype(np.float64)
        top = 1.0 if image.mode == "F" and array.max() <= 1 else 65535.0 if array.max() > 255 else 255.0
        return _from_array((array / top).clip(0, 1).astype(np.float32))
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = PIL.Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = PIL.Image.alpha_composite(background, rgba)
    return _from_array(np.asarray(image.convert("RGB")))


def _from_array(array: np.ndarray) -> torch.Tensor:
    """(H, W), (H, W, 1|3|4) array of uint8, uint16 or floats in [0, 1] -> (1, 3, H, W)."""
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[2] not in (1, 3, 4):
        raise ImageError(f"The array is shaped {array.shape}, channels first; numpy images are "
                         "(H, W, 3): use array.transpose(1, 2, 0).")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ImageError(f"Cannot read an array shaped {array.shape} as an image: expected "
                         "(H, W), (H, W, 3) or (H, W, 4).")
    if array.dtype == np.uint8:
        array = array / 255.0
    elif array.dtype == np.uint16:
        array = array / 65535.0
    elif array.dtype == np.bool_:
        array = array.astype(np.float64)
    elif np.issubdtype(array.dtype, np.floating):
        lo, hi = float(np.nanmin(array)), float(np.nanmax(array))
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo < 0 or hi > 1:
            raise ImageError(f"A float image must hold values in [0, 1]; this one spans "
                             f"[{lo:.3g}, {hi:.3g}]. Divide by 255 if it holds 0-255 values.")
    else:
        raise ImageError(f"Cannot read an array of {array.dtype} as an image: use uint8, "
                         "uint16 or floats in [0, 1].")
    if array.shape[2] == 4:
        rgb, alpha = array[..., :3], array[..., 3:]
        array = rgb * alpha + (1 - alpha)  # composite on white
    elif array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).permute(2, 0, 1)[None]


def _from_tensor(tensor: torch.Tensor) -> torch.Tensor:
    image = tensor.detach().to("cpu", torch.float32)
    if image.dim() == 3:
        image = image[None]
    if image.dim() != 4 or image.shape[:2] != (1, 3):
        raise ImageError(f"Expected a tensor shaped (3, H, W) or (1, 3, H, W), "
                         f"got {tuple(tensor.shape)}.")
    if not torch.isfinite(image).all() or image.min() < 0 or image.max() > 1:
        raise ImageError("A tensor image must hold finite values in [0, 1]: clamp it with "
                         ".clamp(0, 1) or divide by 255.")
    return image.clone()


def to_pil(image: torch.Tensor) -> PIL.Image.Image:
    """Convert one image to PIL, each value rounded to the nearest of the 256 levels.

    Args:
        image: (1, 3, H, W) or (3, H, W), values in [0, 1] (clamped).

    Returns:
        PIL.Image.Image: RGB, 8 bits per channel.
    """
    if image.dim() == 4:
        if image.shape[0] != 1:
            raise ValueError(f"Expected one image, got a batch of {image.shape[0]}: "
                             "index it, or use nstutils.image_grid.")
        image = image[0]
    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError("Expected an RGB image (1, 3, H, W) or (3, H, W), "
                         f"got {tuple(image.shape)}.")
    # to_pil_image truncates floats (0.999 -> 254), so round to uint8 first.
    return TF.to_pil_image(image.detach().float().clamp(0, 1).mul(255).round().byte())


def to_numpy(image: torch.Tensor) -> np.ndarray:
    """Convert one image to a uint8 array for matplotlib or PIL (rounded as `to_pil` does).

    Args:
        image: (1, 3, H, W) or (3, H, W), values in [0, 1] (clamped).

    Returns:
        np.ndarray: (H, W, 3) uint8, writable.
    """
    return np.array(to_pil(image))


def save_image(image: torch.Tensor, path: str | Path) -> Path:
    """Save one image; the format follows the extension (.png, .jpg ...).

    Args:
        image: (1, 3, H, W) or (3, H, W) in [0, 1].
        path: where to write; missing folders are created.

    Returns:
        Path: the file written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    to_pil(image).save(path)
    return path


def image_grid(images: torch.Tensor | list[torch.Tensor], ncols: int | None = None,
               pad: int = 4, fill: float = 1.0) -> torch.Tensor:
    """Tile images into one, resizing each to the first one's height (torchvision's make_grid).

    Narrower images are left-aligned in cells as wide as the widest one; there is padding
    between the images but not around the grid.

    Args:
        images: (N, 3, H, W), or a list of (1, 3, H_i, W_i) / (3, H_i, W_i).
        ncols: images per row (at most ``len(images)``); all in one row when None.
        pad: pixels between images.
        fill: the colour of the padding and of empty cells (1 = white).

    Returns:
        (1, 3, H', W') in [0, 1].
    """
    items = list(images.unbind(0)) if isinstance(images, torch.Tensor) else \
        [im[0] if im.dim() == 4 else im for im in images]
    if not items:
        raise ValueError("image_grid got no images.")
    h = items[0].shape[-2]
    items = [resize(im[None], (h, max(1, round(im.shape[-1] * h / im.shape[-2]))))[0]
             for im in items]
    w = max(im.shape[-1] for im in items)
    cells = torch.stack([F.pad(im, (0, w - im.shape[-1]), value=fill) for im in items])
    grid = torchvision.utils.make_grid(cells, nrow=ncols or len(items), padding=pad, pad_value=fill)
    if len(items) > 1:  # make_grid frames the grid (but not a single image): drop the frame
        grid = grid[:, pad:grid.shape[1] - pad, pad:grid.shape[2] - pad]
    return grid[None]
