"""The checks at the public boundary: every argument a student passes is checked here, once.

Each public function (`style_transfer`, `deep_dream`, `visualize`, `saliency`, ...) runs its
arguments through these checks before any work starts; past that point the package trusts them.
A wrong argument raises one error whose message says what to pass instead, of one type per kind
so that a notebook can catch it (``except nstutils.SizeError``). Each type is both a
`ValueError` and a `TypeError`, so code written against the plain Python errors keeps working.
"""

import difflib
import math
import os
import warnings
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch

# Memory of an image optimization per canvas pixel (activations, their gradients, the
# optimizer's state). Measured: a 2048 px style transfer with EfficientNet-Lite0 peaks at
# 6.3 GB on the CPU, about 2.2 KB per pixel. Sizes needing more than the device has are refused.
BYTES_PER_PIXEL = 2200
DEVICE_TYPES = ("cpu", "cuda", "mps")


class ArgumentError(ValueError, TypeError):
    """A bad argument to a public function; the message says what to pass instead."""


class ImageArgumentError(ArgumentError):
    """An image argument of the wrong type, shape, dtype, device or pixel values."""


class SizeError(ArgumentError):
    """A size that is not a whole number of pixels, too small for the network or too large."""


class NumberError(ArgumentError):
    """A count or a setting (steps, log_every, k, lr, a weight) that is not a valid number."""


class TargetError(ArgumentError):
    """A class target or a channel that is not a valid index or class name."""


class DeviceError(ArgumentError):
    """A device that is misspelt or not available on this machine."""


# --- devices ----------------------------------------------------------------------------------

def check_device(device: torch.device | str) -> torch.device:
    """Parse a device and make sure this machine has it.

    Args:
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or a `torch.device`.

    Returns:
        torch.device.
    """
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        close = difflib.get_close_matches(str(device).split(":")[0].lower(), DEVICE_TYPES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise DeviceError(f"device={device!r} is not a device.{hint} Use 'cpu', 'cuda', "
                          "'cuda:1', 'mps' or nstutils.default_device().") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device={device!r}: CUDA is not available on this machine. Use "
                          "device='cpu', or nstutils.default_device() to pick the best one.")
    if parsed.type == "cuda" and (parsed.index or 0) > 0 and parsed.index >= torch.cuda.device_count():
        raise DeviceError(f"device={device!r}: this machine has {torch.cuda.device_count()} "
                          f"GPU(s), numbered from 0. Use device='cuda'.")
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"device={device!r}: Apple's MPS is not available here. Use "
                          "device='cpu', or nstutils.default_device().")
    if parsed.type not in DEVICE_TYPES:
        raise DeviceError(f"device={device!r} cannot run the course (it holds no data, or "
                          "needs a backend the course does not use): use 'cpu', 'cuda' or 'mps'.")
    return parsed


def device_memory(device: torch.device) -> int | None:
    """Return the memory a computation on a device can use, in bytes.

    Args:
        device: a CPU, CUDA or MPS device.

    Returns:
        int: for CUDA the free memory plus what PyTorch holds unused; for MPS the recommended
        maximum; for the CPU the physical memory. None when it cannot be found out.
    """
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    if device.type == "mps" and hasattr(torch.mps, "recommended_max_memory"):
        return torch.mps.recommended_max_memory()
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # Windows has no sysconf
        return None


# --- images -----------------------------------------------------------------------------------

def check_activations(features: Any, caller: str) -> torch.Tensor:
    """Refuse anything but one layer's activations, and give them in float32 (float64 kept).

    Args:
        features: what the caller was given, expected (N, C, H, W).
        caller: the function's name, for the message.

    Returns:
        (N, C, H, W) float32, or float64 for float64 features.
    """
    if not isinstance(features, torch.Tensor) or features.dim() != 4:
        shape = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features)
        raise ValueError(f"{caller} takes activations shaped (N, C, H, W), got {shape}.")
    return features.to(torch.promote_types(features.dtype, torch.float32))


def check_image(image: Any, name: str = "image", *, batch_one: bool = False,
                device: torch.device | None = None, pixels: bool = True,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Check an image argument: a float RGB tensor (N, 3, H, W), on the right device, in [0, 1].

    Args:
        image: what the caller passed.
        name: its name in messages ("content", "guide" ...).
        batch_one: require one image, (1, 3, H, W).
        device: the device it must be on (the model's); any when None.
        pixels: also check the values: finite and in [0, 1] (one look at the data).
        dtype: the float type to convert it to (float64 images become float32).

    Returns:
        (N, 3, H, W) the image, of ``dtype``.
    """
    shape = "(1, 3, H, W)" if batch_one else "(N, 3, H, W)"
    if not isinstance(image, torch.Tensor):
        raise ImageArgumentError(
            f"{name} must be an image tensor {shape}, got {type(image).__name__}: load one with "
            "nstutils.load_image(...) or nstutils.sample_image(...).")
    if image.dim() != 4 or image.shape[1] != 3 or (batch_one and image.shape[0] != 1):
        fix = " Add a batch dimension with image[None]." if image.dim() == 3 else ""
        raise ImageArgumentError(f"{name} must be RGB shaped {shape}, got "
                                 f"{tuple(image.shape)}.{fix}")
    if not image.is_floating_point():
        raise ImageArgumentError(f"{name} must be a float image in [0, 1], got {image.dtype}: "
                                 "divide by 255 (image / 255) or use nstutils.load_image.")
    image = _check_data(image, name, dtype)
    if device is not None:
        check_on(image, device, name)
    if pixels:
        _check_range(image, name)
    return image


def check_input(x: Any, name: str = "x", device: torch.device | None = None,
                dtype: torch.dtype | None = None) -> torch.Tensor:
    """Check a batch for a model of any kind: a float tensor (N, ...) with finite values.

    Args:
        x: what the caller passed.
        name: its name in messages.
        device: the device it must be on (the model's); any when None.
        dtype: the float type to convert it to (the model's); kept when None.

    Returns:
        (N, ...) the tensor, of ``dtype``.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ImageArgumentError(f"{name} must be a float tensor (N, ...), e.g. an image "
                                 f"(N, 3, H, W) in [0, 1]; got {_describe(x)}.")
    if x.dim() < 2:
        raise ImageArgumentError(f"{name} must be a batch (N, ...), got shape {tuple(x.shape)}: "
                                 "add a batch dimension with x[None].")
    x = _check_data(x, name, dtype or x.dtype)
    if device is not None:
        check_on(x, device, name)
    _check_finite(x, name)
    return x


def check_on(x: torch.Tensor, device: torch.device, name: str = "image") -> None:
    """Refuse a tensor that is not on the model's device, saying how to move it.

    Args:
        x: a checked tensor.
        device: the model's device.
        name: its name in messages.
    """
    if x.device != torch.device(device):
        raise ImageArgumentError(f"{name} is on {x.device} but the model is on {device}: move "
                                 f"it with {name}.to(model.device).")


def _check_data(x: torch.Tensor, name: str, dtype: torch.dtype) -> torch.Tensor:
    """Refuse meta tensors; convert to ``dtype`` (float64 images to float32 ...)."""
    if x.is_meta:
        raise ImageArgumentError(f"{name} is a meta tensor: it has a shape but no values. "
                                 "Create it on 'cpu' or a GPU.")
    return x if x.dtype == dtype else x.to(dtype)


def _check_finite(x: torch.Tensor, name: str) -> None:
    bad = int((~torch.isfinite(x)).sum())
    if bad:
        raise ImageArgumentError(f"{name} holds {bad} NaN or infinite value(s) (of {x.numel()}): "
                                 f"replace them, e.g. with {name}.nan_to_num(0.5).clamp(0, 1).")


def _check_range(image: torch.Tensor, name: str) -> None:
    _check_finite(image, name)
    low, high = float(image.min()), float(image.max())
    if low >= 0 and high <= 1:
        return
    if low >= 0 and high <= 255:
        fix = f"its values look like 0 to 255: divide by 255 ({name} / 255)"
    elif low < 0 and high <= 3:
        fix = ("it looks normalized (mean/std): pass plain RGB in [0, 1], the model normalizes "
               "inside")
    else:
        fix = f"rescale it, or clamp it with {name}.clamp(0, 1)"
    raise ImageArgumentError(f"{name} must hold values in [0, 1], got {low:.4g} to {high:.4g}: "
                             f"{fix}.")


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor"
    return type(value).__name__


# --- numbers ----------------------------------------------------------------------------------

def check_count(value: Any, name: str, low: int = 0, high: int | None = None,
                error: type[ArgumentError] = NumberError) -> int:
    """Check a whole number (steps, log_every, k, a channel ...) in [low, high].

    Args:
        value: what the caller passed.
        name: its name in messages.
        low: the smallest allowed value.
        high: the largest allowed value; no limit when None.
        error: the error type to raise.

    Returns:
        int.
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        allowed = f"{low} or more" if high is None else f"from {low} to {high}"
        raise error(f"{name} must be a whole number ({allowed}), got {value!r}.")
    value = int(value)
    if value < low or (high is not None and value > high):
        limits = f"between {low} and {high}" if high is not None else f"{low} or more"
        raise error(f"{name} must be {limits}, got {value}.")
    return value


def check_number(value: Any, name: str, low: float = 0.0, positive: bool = False) -> float:
    """Check a real number (a learning rate, a weight): finite, and >= low (> low if positive).

    Args:
        value: what the caller passed.
        name: its name in messages.
        low: the bound.
        positive: the bound itself is not allowed.

    Returns:
        float.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise NumberError(f"{name} must be a number, got {value!r}.")
    value = float(value)
    if not math.isfinite(value) or value < low or (positive and value == low):
        bound = f"above {low:g}" if positive else f"{low:g} or more"
        raise NumberError(f"{name} must be a finite number {bound}, got {value}.")
    return value


# --- sizes ------------------------------------------------------------------------------------

def check_size(size: Any, name: str = "size", min_size: int = 1,
               largest: int | None = None) -> tuple[int, int]:
    """Check a canvas size: a whole number (a square side) or a pair (H, W), each >= min_size.

    Args:
        size: what the caller passed.
        name: its name in messages.
        min_size: the network's smallest accepted side.
        largest: the largest side the caller accepts (checked by the caller), for the message.

    Returns:
        (H, W).
    """
    pair = (size, size) if not isinstance(size, (tuple, list)) else tuple(size)
    if len(pair) != 2 or not all(isinstance(s, Integral) and not isinstance(s, bool)
                                 for s in pair):
        raise SizeError(f"{name} must be a whole number of pixels such as {name}=128, or a pair "
                        f"(H, W) such as {name}=(96, 128); got {size!r}.")
    if min(pair) < min_size:
        span = f"; use {min_size} to {largest}" if largest else ""
        raise SizeError(f"{name}={size!r} is too small: the networks need at least {min_size} "
                        f"pixels on each side{span}.")
    return int(pair[0]), int(pair[1])


def memory_needed(hw: tuple[int, int], batch: int = 1,
                  bytes_per_pixel: float = BYTES_PER_PIXEL) -> float:
    """Estimate the bytes an optimization of canvases needs: pixels times batch times bytes per pixel.

    Args:
        hw: the canvas (H, W).
        batch: how many canvases are optimized together.
        bytes_per_pixel: the memory per canvas pixel (activations, their gradients, the
            optimizer's state); `BYTES_PER_PIXEL` was measured with EfficientNet-Lite0.

    Returns:
        float: bytes.
    """
    return hw[0] * hw[1] * batch * bytes_per_pixel


def check_memory(hw: tuple[int, int], batch: int, device: torch.device, what: str,
                 bytes_per_pixel: float = BYTES_PER_PIXEL,
                 smaller: Callable[[float], str] | None = None) -> None:
    """Refuse a canvas whose optimization cannot fit in the device's memory, saying what fits.

    A canvas that fits but needs more than half the memory gets a warning with the estimate.

    Args:
        hw: the canvas (H, W).
        batch: how many canvases are optimized together.
        device: where they are optimized.
        what: how the message names the size (``"size=4096"``).
        bytes_per_pixel: the memory per canvas pixel.
        smaller: says what to pass instead, given the factor the sides must shrink by; a longer
            side when None.
    """
    device = torch.device(device)
    memory = device_memory(device)
    need = memory_needed(hw, batch, bytes_per_pixel)
    if memory is None or need <= memory / 2:
        return
    canvas = f"{what} ({hw[1]}x{hw[0]} pixels, batch {batch}) needs about {need / 2**30:.1f} GiB"
    if need <= memory:
        warnings.warn(f"{canvas} of the {memory / 2**30:.1f} GiB {device.type} has: close other "
                      "programs, or use a smaller size if the machine slows down.", stacklevel=3)
        return
    factor = math.sqrt(memory / need)
    instead = (smaller(factor) if smaller is not None
               else f"a longer side of {int(max(hw) * factor) // 8 * 8} or less")
    raise SizeError(f"{canvas}, and {device.type} has {memory / 2**30:.1f} GiB: use {instead}"
                    f"{' or a smaller batch' if batch > 1 else ''}.")


# --- targets ----------------------------------------------------------------------------------

def check_target(target: Any, n: int, device: torch.device,
                 lookup: Callable[[str], int] | None = None) -> torch.Tensor | None:
    """Check class targets: one index (or class name) for all inputs, or one per input.

    Args:
        target: an int, a class name (with ``lookup``), a sequence / tensor of ints, or None.
        n: how many inputs.
        device: where the returned indices go.
        lookup: turns a class name into its index, e.g. `nstutils.class_index`.

    Returns:
        (n,) long tensor, or None when ``target`` is None.
    """
    if target is None:
        return None
    if isinstance(target, str):
        if lookup is None:
            raise TargetError(f"target={target!r}: this model has no class names; give an index.")
        target = lookup(target)
    if isinstance(target, Integral) and not isinstance(target, bool):
        return torch.full((n,), check_count(target, "target", error=TargetError),
                          dtype=torch.long, device=device)
    values = _integer_array(target)
    if values.size != n:
        raise TargetError(f"Got {values.size} targets for {n} inputs: give one class index, or "
                          "one per input.")
    if (values < 0).any():
        raise TargetError(f"Class indices are 0 or more, got {values.tolist()}.")
    return torch.as_tensor(values, dtype=torch.long, device=device)


def _integer_array(target: Any) -> np.ndarray:
    """A sequence or tensor of class indices -> a flat numpy int array, refusing other kinds."""
    if isinstance(target, torch.Tensor):
        target = target.detach().cpu().numpy()
    values = np.asarray(target)
    if values.dtype.kind not in "iu":
        raise TargetError(f"target must be a class index (a whole number such as 281) or a "
                          f"class name, got {target!r}.")
    return values.reshape(-1)
