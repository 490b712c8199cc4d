"""Clips of frames: a camera moving across a photo, painted frame by frame, and its flicker.

A clip is a (T, 3, H, W) tensor in [0, 1], one frame per row. `pan_zoom` films a photo with a
camera that slides and zooms smoothly; it can also return where each frame looked, its box
``(left, top, width, height)`` in the photo's pixels. Knowing the camera's motion, a frame can
be moved onto the next one (what optical flow estimates in a real video), so that `flicker`
measures only the changes the camera does not explain, and `smooth` blends each painted frame
with the previous one without leaving trails. `save_gif` writes a clip as an animated GIF.
"""

from collections.abc import Sequence
from numbers import Real
from pathlib import Path

import torch
import torch.nn.functional as F

from . import dream
from .images import resize
from .validate import ArgumentError, ImageArgumentError, check_count, check_image, check_number
from .validate import check_size as check_frame_size


def pan_zoom(photo: torch.Tensor, frames: int = 24, size: int | tuple[int, int] = 128,
             zoom: float = 1.5, start: Sequence[float] = (0.0, 0.5),
             end: Sequence[float] = (1.0, 0.5), return_boxes: bool = False
             ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Film a photo with a camera that pans and zooms smoothly across it (deterministic).

    The first frame is the largest crop of the frames' shape inside the photo; each next one is
    smaller by the same factor, the last ``zoom`` times smaller than the first. Its place goes
    in a straight line from ``start`` to ``end``. Crops are sampled bilinearly at sub-pixel
    positions (so the motion does not jump from pixel to pixel), from a copy of the photo
    resized once so that the last crop has about the frames' size.

    Args:
        photo: (1, 3, h, w) in [0, 1].
        frames: T, the number of frames (at least 1).
        size: the frames' side in pixels, or their (H, W).
        zoom: how many times smaller the last crop is than the first (1: a pan only; play the
            clip backwards, ``clip.flip(0)``, for a zoom out).
        start: (x, y) of the first crop: 0 puts it against the photo's left (top) edge, 1
            against its right (bottom) edge, 0.5 in the middle.
        end: (x, y) of the last crop, the same way.
        return_boxes: also return where each frame looked.

    Returns:
        (T, 3, H, W) the frames, on the photo's device; with ``return_boxes``, also (T, 4)
        float64 boxes ``(left, top, width, height)`` in the photo's pixels.
    """
    photo = check_image(photo, "photo", batch_one=True)
    frames = check_count(frames, "frames", low=1)
    out_hw = check_frame_size(size)
    zoom = check_number(zoom, "zoom", low=1.0)
    start, end = _check_place(start, "start"), _check_place(end, "end")
    h, w = photo.shape[-2:]
    boxes = _camera_path((h, w), out_hw, frames, zoom, start, end)
    shrink = min(1.0, out_hw[0] / float(boxes[-1, 3]))  # the last crop at about the frames' size
    if shrink < 1:
        photo = resize(photo, (max(1, round(h * shrink)), max(1, round(w * shrink))))
    grid = _positions(boxes, out_hw) / torch.tensor([w, h], dtype=boxes.dtype) * 2 - 1
    clip = F.grid_sample(photo.expand(frames, -1, -1, -1), grid.float().to(photo.device),
                         mode="bilinear", padding_mode="border", align_corners=False)
    return (clip, boxes) if return_boxes else clip


def flicker(frames: torch.Tensor, boxes: torch.Tensor | None = None) -> float:
    """Measure flicker: the mean absolute change of a pixel from one frame to the next.

    0 means a still clip; 0.1 means that a pixel changes on average by a tenth of the full
    brightness (25 of 255 levels) between two frames. Without ``boxes``, a moving camera counts
    as flicker too. With them, each frame is first moved onto the next one by the known camera
    motion, and only the pixels both frames see are compared: what remains is the change the
    camera does not explain, such as brush strokes that jump, shimmer or change colour.

    Args:
        frames: (T, 3, H, W) in [0, 1], T >= 2.
        boxes: (T, 4) each frame's box ``(left, top, width, height)`` in the photo, from
            `pan_zoom` (``return_boxes=True``); None compares frames pixel by pixel.

    Returns:
        float: the mean absolute change, in [0, 1].
    """
    frames = _check_clip(frames, boxes, low=2)
    before, after = frames[:-1], frames[1:]
    if boxes is None:
        return float((after - before).abs().mean())
    moved, seen = _moved_onto_next(before, boxes, tuple(frames.shape[-2:]))
    return float(((after - moved).abs() * seen).sum() / (3 * seen.sum()).clamp(min=1))


def smooth(frames: torch.Tensor, boxes: torch.Tensor | None = None,
           keep: float = 0.5) -> torch.Tensor:
    """Reduce flicker: blend each frame with the previous result, moved by the camera motion.

    ``out[0] = frames[0]`` and ``out[t] = (1 - keep) * frames[t] + keep * out[t - 1]``, where
    ``out[t - 1]`` is first moved onto frame t by the known camera motion (``boxes``), so that
    the blend averages the same place of the scene; pixels the previous frame did not see keep
    ``frames[t]``. Without ``boxes``, anything that moves leaves a trail.

    Args:
        frames: (T, 3, H, W) in [0, 1], painted frames.
        boxes: (T, 4) the boxes from `pan_zoom` (``return_boxes=True``), or None for a still
            camera.
        keep: the share of the previous result in each frame, in [0, 1): 0 changes nothing,
            closer to 1 is steadier but slower to follow real changes.

    Returns:
        (T, 3, H, W) in [0, 1].
    """
    frames = _check_clip(frames, boxes, low=1)
    keep = check_number(keep, "keep")
    if keep >= 1:
        raise ArgumentError(f"keep must be below 1 (1 would freeze the first frame), got {keep}.")
    out = [frames[0]]
    for t in range(1, len(frames)):
        if boxes is None:
            previous = out[-1]
        else:
            moved, seen = _moved_onto_next(out[-1][None], boxes[t - 1:t + 1], tuple(frames.shape[-2:]))
            previous = torch.where(seen[0] > 0, moved[0], frames[t])
        out.append((1 - keep) * frames[t] + keep * previous)
    return torch.stack(out)


def save_gif(frames: torch.Tensor, path: str | Path, fps: int = 8, overwrite: bool = True) -> Path:
    """Write a clip as a looping animated GIF: `nstutils.dream.save_gif` on its frames.

    Args:
        frames: (T, 3, H, W) in [0, 1].
        path, fps, overwrite: as for `nstutils.dream.save_gif`.

    Returns:
        Path: the file written.
    """
    frames = _check_clip(frames, None, low=1)
    return dream.save_gif(list(frames.split(1)), path, fps=fps, overwrite=overwrite)


# --- the camera -------------------------------------------------------------------------------

def _check_place(place: Sequence[float], name: str) -> tuple[float, float]:
    """Check an (x, y) place of a crop: two numbers in [0, 1]."""
    if (isinstance(place, (str, bytes)) or not isinstance(place, Sequence) or len(place) != 2
            or not all(isinstance(v, Real) and not isinstance(v, bool) and 0 <= v <= 1
                       for v in place)):
        raise ArgumentError(f"{name} must be (x, y), two numbers from 0 (left or top edge) to 1 "
                            f"(right or bottom edge), such as (0.5, 0.5); got {place!r}.")
    return float(place[0]), float(place[1])


def _camera_path(photo_hw: tuple[int, int], out_hw: tuple[int, int], frames: int, zoom: float,
                 start: tuple[float, float], end: tuple[float, float]) -> torch.Tensor:
    """Each frame's box in the photo: (T, 4) float64 ``(left, top, width, height)``."""
    (h, w), (out_h, out_w) = photo_hw, out_hw
    first_h = min(h, w * out_h / out_w)  # the largest crop of the frames' shape
    s = torch.linspace(0, 1, frames, dtype=torch.float64) if frames > 1 else torch.zeros(1, dtype=torch.float64)
    crop_h = first_h * zoom ** -s
    crop_w = crop_h * out_w / out_h
    left = (start[0] + s * (end[0] - start[0])) * (w - crop_w)
    top = (start[1] + s * (end[1] - start[1])) * (h - crop_h)
    return torch.stack([left, top, crop_w, crop_h], dim=1)


def _positions(boxes: torch.Tensor, out_hw: tuple[int, int]) -> torch.Tensor:
    """Where each frame's pixel centres lie in the photo: (T, H, W, 2) ``(x, y)`` in its pixels."""
    out_h, out_w = out_hw
    across = (torch.arange(out_w, dtype=boxes.dtype) + 0.5) / out_w
    down = (torch.arange(out_h, dtype=boxes.dtype) + 0.5) / out_h
    x = boxes[:, 0, None] + across * boxes[:, 2, None]  # (T, W)
    y = boxes[:, 1, None] + down * boxes[:, 3, None]    # (T, H)
    return torch.stack(torch.broadcast_tensors(x[:, None, :], y[:, :, None]), dim=-1)


def _moved_onto_next(before: torch.Tensor, boxes: torch.Tensor, out_hw: tuple[int, int]
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Move frames 0..T-2 onto frames 1..T-1 by the camera motion.

    Args:
        before: (T - 1, 3, H, W) the earlier frame of each pair.
        boxes: (T, 4) every frame's box.
        out_hw: (H, W).

    Returns:
        (T - 1, 3, H, W) the moved frames, and (T - 1, 1, H, W) 1 where the earlier frame saw
        the pixel, else 0.
    """
    later = _positions(boxes[1:], out_hw)  # the next frames' pixels, in the photo
    corner, extent = boxes[:-1, None, None, :2], boxes[:-1, None, None, 2:]
    grid = ((later - corner) / extent * 2 - 1).float().to(before.device)
    seen = (grid.abs() <= 1).all(dim=-1)[:, None].to(before.dtype)
    moved = F.grid_sample(before, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return moved, seen


def _check_clip(frames: torch.Tensor, boxes: torch.Tensor | None, low: int) -> torch.Tensor:
    """Check a clip (T, 3, H, W) of at least ``low`` frames, and its boxes (T, 4) if given."""
    frames = check_image(frames, "frames")
    if len(frames) < low:
        raise ImageArgumentError(f"frames must hold at least {low} frames (T, 3, H, W), got "
                                 f"{len(frames)}.")
    if boxes is not None and (not isinstance(boxes, torch.Tensor)
                              or tuple(boxes.shape) != (len(frames), 4)):
        shape = tuple(boxes.shape) if isinstance(boxes, torch.Tensor) else type(boxes).__name__
        raise ArgumentError(f"boxes must be the (T, 4) boxes of the clip's {len(frames)} frames, "
                            f"from pan_zoom(..., return_boxes=True); got {shape}.")
    return frames
