"""Images in and out: load anything a student has into a (1, 3, H, W) tensor in [0, 1], and back."""

import contextlib
import functools
import io
import os
import tempfile
import urllib.parse
import urllib.request
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import PIL.Image
import PIL.ImageOps
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
import torchvision.utils

from .devices import default_device
from .download import DownloadError, download, is_url
from .validate import SizeError, check_device, check_image, check_number
from .validate import check_size as check_canvas

MAX_SIZE = 2048
MIN_SIZE = 32
LARGEST_SIZE = 8192               # the largest side load_image makes when asked (0.8 GB as float32)
MAX_DECODED_PIXELS = 8192 * 8192  # pixels decoded at once (JPEGs are reduced while decoding)
PIL.Image.MAX_IMAGE_PIXELS = 20_000 * 20_000  # refuse decompression bombs, allow big photos
_ORIENTATION = 0x0112  # the EXIF tag
_DRAFT_FORMATS = ("JPEG", "MPO")  # decoded at 1/2, 1/4 or 1/8 of their size on request


class ImageError(ValueError):
    """An input that cannot be turned into an image (corrupt, not an image, wrong shape, too big)."""


class OutputError(ValueError):
    """An output path where an image cannot or must not be written (checked before the work)."""


@dataclass(frozen=True)
class _Request:
    """What `load_image` was asked for: the size, the longest side without one, the smallest side."""

    size: int | tuple[int, int] | None
    max_size: int
    min_size: int

    def shape_for(self, h: int, w: int) -> tuple[int, int]:
        """The (H, W) returned for an h x w image; refuses images that are or come out too small."""
        if min(h, w) < self.min_size:
            raise ImageError(f"The image is only {w}x{h} pixels; the networks need at least "
                             f"{self.min_size} on each side. Use a larger image.")
        size = self.max_size if self.size is None and max(h, w) > self.max_size else self.size
        if size is None:
            return h, w
        shape = fit_longer_side(h, w, size) if isinstance(size, int) else size
        if min(shape) < self.min_size:
            raise ImageError(f"size={self.size} makes the image {shape[1]}x{shape[0]} pixels; "
                             f"the networks need at least {self.min_size} on each side.")
        return shape


def load_image(src: Any, size: int | tuple[int, int] | None = None,
               device: torch.device | str | None = None, max_size: int = MAX_SIZE,
               min_size: int = MIN_SIZE) -> torch.Tensor:
    """Load an image as an RGB tensor in [0, 1], decoding no more pixels than needed.

    Accepts a file path, an http(s) or file:// URL, a PIL image, a numpy array (H, W), (H, W, 3) or
    (H, W, 4) of uint8, uint16 or floats in [0, 1], a tensor (3, H, W) or (1, 3, H, W) in [0, 1],
    raw file bytes, or the value of an ipywidgets ``FileUpload``. Grayscale, RGBA (composited on
    white), palette, 16-bit (by its mode, whatever its values) and CMYK images are converted;
    EXIF rotation is applied. Large images are reduced while decoding (JPEG) or right after,
    in 8 bits, and images over ``MAX_DECODED_PIXELS`` that cannot be reduced are refused.

    Args:
        src: the image.
        size: an int makes the longer side that many pixels (aspect kept); (H, W) is exact;
            at most ``LARGEST_SIZE``.
        device: where the tensor goes; `default_device()` when None.
        max_size: a longer side above this is scaled down to it, with a warning.
        min_size: a shorter side below this (before or after resizing) is refused.

    Returns:
        (1, 3, H, W) float32 tensor in [0, 1].

    Raises:
        FileNotFoundError: the path does not exist.
        ImageError: the input is not a readable image, is too small or too large, or holds
            values outside [0, 1] (NaN included).
        SizeError: ``size`` is not a whole number nor a pair of them, or out of bounds.
        DeviceError: ``device`` is misspelt or not on this machine.
    """
    device = check_device(device) if device is not None else default_device()
    request = _Request(check_size(size, min_size), max_size, min_size)
    image, (h, w) = _to_tensor(src, request)
    shape = request.shape_for(h, w)
    if size is None and max(h, w) > max_size:
        warnings.warn(f"The image is {w}x{h} pixels; scaled down to {max_size} on its longer "
                      "side. Pass size=... to choose another size.", stacklevel=2)
    return resize(image, shape).to(device)


def check_size(size: Any, min_size: int = MIN_SIZE) -> int | tuple[int, int] | None:
    """Check a requested image size: an int for the longer side, or (H, W), within what fits.

    Args:
        size: what the caller asked for (None: keep the image's own size).
        min_size: the smallest side the networks take.

    Returns:
        The size as Python ints: an int, an (H, W) tuple, or None.

    Raises:
        SizeError: not a whole number nor a pair of them (``64.5``, ``"64"``, ``(64,)``), or a
            side below ``min_size`` or above ``LARGEST_SIZE``.
    """
    if size is None:
        return None
    hw = check_canvas(size, "size", min_size, largest=LARGEST_SIZE)
    if max(hw) > LARGEST_SIZE:
        raise SizeError(f"size={size!r} is too large: images are made up to {LARGEST_SIZE} "
                        f"pixels on a side ({LARGEST_SIZE}x{LARGEST_SIZE} takes "
                        f"{3 * 4 * LARGEST_SIZE ** 2 / 1e9:.1f} GB as float32, and painting at "
                        "that size needs many times more); 512 to 2048 suits most machines.")
    return hw if isinstance(size, (tuple, list)) else hw[0]


def fit_longer_side(h: int, w: int, side: int) -> tuple[int, int]:
    """The (H, W) of an h x w image scaled so that its longer side is ``side`` (aspect kept)."""
    scale = side / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


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
    size = fit_longer_side(h, w, size) if isinstance(size, int) else tuple(size)
    if size == (h, w):
        return image
    out = F.interpolate(image, size=size, mode="bicubic", antialias=True, align_corners=False)
    return out.clamp(0, 1)


def overlay(photo: torch.Tensor, painting: torch.Tensor, alpha: float = 0.5) -> torch.Tensor:
    """Blend a painting over a photo pixel by pixel: the naive baseline style transfer beats.

    Args:
        photo: (N, 3, H, W) in [0, 1].
        painting: (1, 3, h, w) in [0, 1], resized to (H, W) (stretched if its aspect differs).
        alpha: the photo's share, from 0 (only the painting) to 1 (only the photo).

    Returns:
        (N, 3, H, W) ``alpha * photo + (1 - alpha) * painting``, on the photo's device.
    """
    photo = check_image(photo, "photo")
    painting = check_image(painting, "painting", batch_one=True)
    alpha = check_number(alpha, "alpha")
    if alpha > 1:
        raise ValueError(f"alpha is the photo's share, from 0 to 1; got {alpha}.")
    painting = resize(painting.to(photo.device), tuple(photo.shape[-2:]))
    return alpha * photo + (1 - alpha) * painting


def _to_tensor(src: Any, request: _Request) -> tuple[torch.Tensor, tuple[int, int]]:
    """Turn any supported input into a float32 CPU image, reduced no further than ``request`` needs.

    Returns:
        (1, 3, h', w') in [0, 1], and the (h, w) of the image as given (before any reduction).
    """
    if isinstance(src, torch.Tensor):
        image = _from_tensor(src)
        return image, tuple(image.shape[-2:])
    if isinstance(src, np.ndarray):
        return _from_array(src, request)
    if isinstance(src, PIL.Image.Image):
        return _from_pil(src, request, "the image")
    if isinstance(src, (bytes, bytearray, memoryview)):
        return _from_file(io.BytesIO(bytes(src)), request, "the bytes given")
    upload = _upload_content(src)
    if upload is not None:
        return _to_tensor(upload, request)
    if isinstance(src, (str, Path)):
        text = str(src)
        if is_url(text):
            return _from_file(io.BytesIO(_download_image(text)), request, text)
        path = Path(text).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"No image file at {path.resolve()}. Check the path, or use "
                                    "nstutils.sample_image(name) for a built-in image.")
        return _from_file(path, request, str(path))
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


@contextlib.contextmanager
def _reading(what: str) -> Iterator[None]:
    """Turn Pillow's errors while opening or decoding ``what`` into one clear `ImageError`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PIL.Image.DecompressionBombWarning)
            yield
    except (PIL.Image.DecompressionBombError, PIL.Image.DecompressionBombWarning) as err:
        raise ImageError(f"{what} is too large to open safely ({err}). Use an image under "
                         f"{MAX_DECODED_PIXELS / 1e6:.0f} megapixels.") from None
    except PIL.Image.UnidentifiedImageError:
        raise ImageError(f"{what} is not an image file that Pillow can read.") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageError(f"{what} is a damaged or truncated image ({err}). "
                         "Save it again or use another file.") from None


def _from_file(fp: Any, request: _Request, what: str) -> tuple[torch.Tensor, tuple[int, int]]:
    """Decode an image file (a path or a file object); only its header is read before the checks."""
    with _reading(what):
        image = PIL.Image.open(fp)
    with image:
        return _from_pil(image, request, what, owned=True)


def _from_pil(image: PIL.Image.Image, request: _Request, what: str,
              owned: bool = False) -> tuple[torch.Tensor, tuple[int, int]]:
    """PIL image of any mode -> (1, 3, h', w') float32 in [0, 1], EXIF rotation applied.

    The declared size is checked before decoding; a JPEG opened here is decoded at 1/2, 1/4 or
    1/8 of its size when that is still at least the size asked for, and any image is reduced by
    a whole factor in 8 (or 16) bits before it becomes floats.

    Args:
        image: the image, decoded or not.
        request: what `load_image` was asked for.
        what: how error messages name it.
        owned: opened here, so it may be changed in place (a caller's image is left alone).

    Returns:
        The tensor and the (h, w) of the image as given, after EXIF rotation.
    """
    declared = image.size  # (width, height) as stored, read from the header alone
    request.shape_for(*declared[::-1])  # too small either way round: refused before decoding
    if owned and image.format in _DRAFT_FORMATS:
        shape = request.shape_for(*_display_size(image, declared))
        image.draft(None, shape if _turned(image) else shape[::-1])
    if image.width * image.height > MAX_DECODED_PIXELS:
        raise ImageError(f"{what} is {declared[0]}x{declared[1]} pixels "
                         f"({declared[0] * declared[1] / 1e6:.0f} megapixels); images up to "
                         f"{MAX_DECODED_PIXELS / 1e6:.0f} megapixels can be decoded (JPEGs "
                         "larger, as they are reduced while decoding). Scale it down first.")
    with _reading(what):
        image.load()
    h, w = _display_size(image, declared)
    shape = request.shape_for(h, w)
    transposed = PIL.ImageOps.exif_transpose(image, in_place=owned)  # None when in place
    image = _common_mode(transposed or image)
    factor = min(image.height // shape[0], image.width // shape[1])
    if factor > 1:
        image = image.reduce(factor)
    return _pil_to_tensor(image), (h, w)


def _turned(image: PIL.Image.Image) -> bool:
    """Whether the EXIF orientation turns the image by 90 degrees (a PNG is decoded to find out)."""
    return image.getexif().get(_ORIENTATION, 1) in (5, 6, 7, 8)


def _display_size(image: PIL.Image.Image, stored: tuple[int, int]) -> tuple[int, int]:
    """The (h, w) shown for a (width, height) as stored, after the EXIF rotation."""
    return stored if _turned(image) else stored[::-1]


def _common_mode(image: PIL.Image.Image) -> PIL.Image.Image:
    """Convert to one of L, RGB, RGBA, I (16-bit values) or F, decided by the mode alone."""
    if image.mode.startswith("I;16"):
        return image.convert("I")
    if image.mode in ("L", "RGB", "RGBA", "I", "F"):
        return image
    if image.mode in ("LA", "PA", "RGBa", "La") or (image.mode == "P"
                                                     and "transparency" in image.info):
        return image.convert("RGBA")
    return image.convert("RGB")


def _pil_to_tensor(image: PIL.Image.Image) -> torch.Tensor:
    """A PIL image in a mode of `_common_mode` -> (1, 3, H, W) float32 in [0, 1]."""
    if image.mode == "I":  # 16-bit integers (PNG, TIFF): 65535 is white, whatever the values
        array = np.asarray(image)
        if array.min() < 0 or array.max() > 65535:
            raise ImageError(f"The image holds integers from {array.min()} to {array.max()}; "
                             "only 8- and 16-bit images are read. Save it as a 16-bit PNG.")
        return _array_to_tensor(array.astype(np.uint16))
    if image.mode == "F":
        return _array_to_tensor(np.asarray(image))
    if image.mode == "RGBA":
        background = PIL.Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = PIL.Image.alpha_composite(background, image)
    return _array_to_tensor(np.asarray(image.convert("RGB")))


def _from_array(array: np.ndarray, request: _Request) -> tuple[torch.Tensor, tuple[int, int]]:
    """(H, W), (H, W, 1|3|4) array of uint8, uint16 or floats in [0, 1] -> (1, 3, h', w').

    8-bit arrays go through Pillow, so large ones are reduced before they become floats.
    """
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[2] not in (1, 3, 4):
        raise ImageError(f"The array is shaped {array.shape}, channels first; numpy images are "
                         "(H, W, 3): use array.transpose(1, 2, 0).")
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ImageError(f"Cannot read an array shaped {array.shape} as an image: expected "
                         "(H, W), (H, W, 3) or (H, W, 4).")
    if array.dtype == np.uint8:
        return _from_pil(PIL.Image.fromarray(array.squeeze(2) if array.ndim == 3
                                             and array.shape[2] == 1 else array),
                         request, "the array")
    return _array_to_tensor(array), array.shape[:2]


def _array_to_tensor(array: np.ndarray) -> torch.Tensor:
    """(H, W) or (H, W, 1|3|4) array -> (1, 3, H, W) float32 in [0, 1], alpha on white."""
    array = array[:, :, None] if array.ndim == 2 else array
    values = torch.from_numpy(_unit_float32(array))
    if values.shape[2] == 4:
        rgb, alpha = values[..., :3], values[..., 3:]
        values = rgb * alpha + (1 - alpha)  # composite on white
    return values.expand(-1, -1, 3).permute(2, 0, 1)[None].contiguous()


def _unit_float32(array: np.ndarray) -> np.ndarray:
    """A new float32 array in [0, 1] from uint8, uint16 (by their type), bool or float values."""
    if array.dtype == np.uint8 or (array.dtype.kind == "u" and array.dtype.itemsize == 2):
        values = array.astype(np.float32)
        values /= 255 if array.dtype.itemsize == 1 else 65535
        return values
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if not np.issubdtype(array.dtype, np.floating):
        raise ImageError(f"Cannot read an array of {array.dtype} as an image: use uint8, "
                         "uint16 or floats in [0, 1].")
    if not np.isfinite(array).all():
        raise ImageError("The image holds NaN or infinite values: replace them (for example "
                         "with np.nan_to_num) before loading it.")
    lo, hi = float(array.min()), float(array.max())
    if lo < 0 or hi > 1:
        raise ImageError(f"A float image must hold values in [0, 1]; this one spans "
                         f"[{lo:.3g}, {hi:.3g}]. Divide by 255 if it holds 0-255 values.")
    return array.astype(np.float32)


def _from_tensor(tensor: torch.Tensor) -> torch.Tensor:
    """(3, H, W) or (1, 3, H, W) tensor in [0, 1], on any device -> a float32 CPU copy."""
    if tensor.is_meta:
        raise ImageError("The tensor is a meta tensor: it has a shape but no values. Create it "
                         "on 'cpu' or a GPU.")
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


def save_image(image: torch.Tensor, path: str | Path, overwrite: bool = False) -> Path:
    """Save one image atomically; the format follows the extension (.png, .jpg ...).

    The image goes to a temporary file in the same folder that is renamed into place, so a full
    disk or a crash never leaves a half-written file under ``path``.

    Args:
        image: (1, 3, H, W) or (3, H, W) in [0, 1].
        path: where to write; missing folders are created.
        overwrite: replace an existing file (refused otherwise).

    Returns:
        Path: the file written.

    Raises:
        OutputError: see `check_output`, or the file could not be written (nothing is left).
    """
    path = check_output(path, overwrite=overwrite)
    picture = to_pil(image)
    return write_atomically(path, lambda file: picture.save(file, format=_output_format(path)))


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> Path:
    """Write a file through a temporary file in the same folder, then rename it into place.

    A full disk or a crash never leaves a half-written file under ``path``; an existing file
    there stays as it was until the new one is complete.

    Args:
        path: the file to write (checked with `check_output`); missing folders are created.
        write: writes the whole file into the binary file object it is given.

    Returns:
        Path: ``path``.

    Raises:
        OutputError: the file could not be written (nothing is left behind).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        with open(temporary, "xb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as err:
        raise OutputError(f"Could not write {path} ({err.strerror or err}); nothing was written "
                          "there. Free some space or choose another folder.") from None
    finally:
        temporary.unlink(missing_ok=True)
    return path


def check_output(path: str | Path, inputs: Sequence[Any] = (), overwrite: bool = False,
                 image: bool = True) -> Path:
    """Check, before any long work, that an image (or another file) can be saved at ``path``.

    Refuses an extension Pillow cannot write (``.psd`` is read-only), a folder, a path under a
    regular file or in a folder that cannot be written, one of the ``inputs`` (always), and an
    existing file unless ``overwrite``.

    Args:
        path: where the image will go.
        inputs: the run's inputs (paths; URLs and names are skipped), never to be replaced.
        overwrite: an existing file may be replaced.
        image: check that Pillow can write the extension; False for other files (a stylizer).

    Returns:
        Path: ``path`` with ``~`` expanded.

    Raises:
        OutputError: the message says what to change.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        example = path / ("out.png" if image else "out.pt")
        raise OutputError(f"{path} is a folder: give a file name such as {example}.")
    if image:
        _output_format(path)
    if any(_same_file(path, src) for src in inputs):
        raise OutputError(f"{path} is one of the inputs; inputs are never overwritten: choose "
                          "another output name.")
    if path.exists() and not overwrite:
        raise OutputError(f"{path} already exists: choose another name, or allow replacing it "
                          "(overwrite=True in Python, --force for nst).")
    _check_folder(path.parent)
    return path


def _output_format(path: Path) -> str:
    """The Pillow format that writes ``path``, from its extension; refuses read-only formats."""
    name = PIL.Image.registered_extensions().get(path.suffix.lower())
    if name is None or not _can_write(name):
        why = (f"Pillow reads {path.suffix} but cannot write it" if name else
               f"{path.suffix or 'no extension'} is not a picture format")
        raise OutputError(f"{path.name}: give the output a picture extension such as .png or "
                          f".jpg ({why}).")
    return name


@functools.cache
def _can_write(name: str) -> bool:
    """Whether Pillow can write an RGB picture in format ``name`` (tried on a tiny one)."""
    try:
        PIL.Image.new("RGB", (8, 8)).save(io.BytesIO(), format=name)
    except Exception:  # noqa: BLE001 - any failure (no encoder, stub plugin, wrong mode) means no
        return False
    return True


def _same_file(path: Path, src: Any) -> bool:
    """Whether ``src`` (a path or a file:// URL; other URLs and names are none) is ``path``."""
    text = str(src)
    parts = urllib.parse.urlsplit(text)
    if is_url(text) and parts.scheme.lower() == "file":
        text = urllib.request.url2pathname(parts.path)
    other = Path(text).expanduser()
    return path.exists() and other.is_file() and os.path.samefile(path, other)


def _check_folder(folder: Path) -> None:
    """Refuse a folder that is under a regular file or cannot be written (a file is tried)."""
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise OutputError(f"Cannot save into {folder}: {existing} is a file, not a folder. "
                          "Choose another output path.")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise OutputError(f"Cannot write into the folder {existing} ({err.strerror or err}): "
                          "choose a folder you can write to.") from None


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
