"""DeepDream: gradient ascent on a photo, so that a layer sees more of what it already sees.

The same ascent as feature visualization, started from a photo instead of noise, on an
`Objective` like the others: ``layer(name)`` (the mean square of the layer), ``layer(name,
channel=c)`` (of one channel) or, with a guide image, ``direction(name, guide's mean feature
vector)``, summed over the chosen layers. What makes it work, each a piece of `deep_dream`:

- **octaves**: dream on a small copy first, then carry the changes (the "detail") up to the
  next, larger copy of the photo, which brings back the fine detail the small copy had lost;
- **roll jitter**: shift the image by a random offset before each step (the gradient flows back
  through the same roll), so the network's stride grid does not print a checkerboard;
- **gradient normalization**: divide the gradient by its mean absolute value, so the step size
  means the same for every layer and every image (the original's plain gradient steps needed
  it; Adam's steps, which divide by the running gradient size, barely change with it);
- **tiles**: for large images, add up the objective one tile at a time, each tile seeing a margin
  of context around it; the backward pass recomputes one tile at a time, so memory stays bounded,
  and the gradient matches the whole-image one.

Each step is one forward and one backward pass through the one loop, `nstutils.optim.optimize`
(with tiles, each tile's forward runs once more during the backward pass).

Guided dreaming replaces "more of the same" by "more like the guide image": every position of the
dream is pushed along the guide's mean feature vector, the direction in which the layer "sees"
the guide. (Matching each position to its most similar guide vector, as in the first guided
dreams, climbs poorly on this network's linear block outputs and ignores the guide in practice.)
"""

import math
from collections.abc import Sequence
from pathlib import Path

import PIL.Image
import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from .images import OutputError, check_output, resize, to_pil, write_atomically
from .models import FeatureNetwork, resolve_model
from .objective import Objective
from .objectives import direction, layer
from .optim import History, optimize
from .progress import track
from .validate import (TargetError, check_count, check_image, check_memory, check_number,
                       check_on)

DEFAULT_LAYER = "block8"


def _build_objective(model: FeatureNetwork, layers: str | Sequence[str], channel: int | None,
                     guide: torch.Tensor | None) -> Objective:
    """What the dream climbs: each layer's energy (or one channel's), or the guide's direction."""
    names = list(dict.fromkeys(model.check_layers(layers, spatial=True)))
    if channel is not None:  # checked before any forward, so the command line says it at once
        for name in names:
            check_count(channel, f"channel (for layer {name!r})", high=model.channels(name) - 1,
                        error=TargetError)
    if guide is None:
        return sum(layer(name, channel=channel) for name in names)
    if channel is not None:
        raise ValueError("Give either a channel or a guide image, not both.")
    guide = check_image(guide, "guide", batch_one=True, device=model.device)
    with torch.no_grad():
        features = model.features(guide, names)
    return sum(direction(name, f[0].mean((1, 2)), "guide") for name, f in features.items())


class _NormalizeGradient(torch.autograd.Function):
    """The identity, whose backward divides the gradient by its mean absolute value."""

    @staticmethod
    def forward(ctx, image: torch.Tensor) -> torch.Tensor:
        return image.view_as(image)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad / (grad.abs().mean() + 1e-12)


def _tiled_value(objective: Objective, model: FeatureNetwork, image: torch.Tensor,
                 tile: int | None, margin: int | None) -> torch.Tensor:
    """The objective at a (1, 3, H, W) image, differentiable, added up one tile at a time.

    Each activation position belongs to the tile that holds its top-left pixel; a tile's forward
    sees ``margin`` pixels of context on every side. Tiles run under `checkpoint`, so the backward
    pass recomputes them one at a time instead of keeping every tile's activations.
    """
    height, width = image.shape[-2:]
    if tile is None or tile >= max(height, width):
        return objective(model.features(image, objective.layers))
    strides = {name: model.stride(name) for name in objective.layers}
    step = max(strides.values())
    if tile < step:
        raise ValueError(f"tile must be at least {step} pixels (the layer's stride).")
    tile = tile // step * step
    margin = step * math.ceil((6 * step if margin is None else margin) / step)
    total = image.new_zeros(())
    for y0 in range(0, height, tile):
        for x0 in range(0, width, tile):
            y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
            cy, cy1 = _crop_span(y0, y1, margin, height, step, model.min_size)
            cx, cx1 = _crop_span(x0, x1, margin, width, step, model.min_size)
            owned = {name: (slice(math.ceil((y0 - cy) / s), math.ceil((y1 - cy) / s)),
                            slice(math.ceil((x0 - cx) / s), math.ceil((x1 - cx) / s)),
                            math.ceil(height / s) * math.ceil(width / s))
                     for name, s in strides.items()}
            total = total + checkpoint(_tile_value, image[..., cy:cy1, cx:cx1], objective, model,
                                       owned, use_reentrant=False, preserve_rng_state=False)
    return total


def _tile_value(crop: torch.Tensor, objective: Objective, model: FeatureNetwork,
                owned: dict[str, tuple[slice, slice, int]]) -> torch.Tensor:
    """A tile's part of the objective: its own positions of each map, over the image's count."""
    total = crop.new_zeros(())
    for name, m in objective.maps(model.features(crop, objective.layers)).items():
        rows, cols, count = owned[name]
        total = total + m[:, rows, cols].mean(0).sum() / count
    return total


def _crop_span(start: int, stop: int, margin: int, size: int, step: int,
               min_size: int) -> tuple[int, int]:
    """The pixels a tile's forward sees: the tile plus a margin, at least ``min_size`` long.

    The start stays on a multiple of ``step`` so the crop's activation grid lines up with the
    whole image's.
    """
    lo, hi = max(start - margin, 0), min(stop + margin, size)
    if hi - lo < min_size:
        lo = max(0, (hi - min_size) // step * step)
        hi = min(size, max(hi, lo + min_size))
    return lo, hi


def dream_objective(image: torch.Tensor, model: FeatureNetwork | None = None,
                    layers: str | Sequence[str] = DEFAULT_LAYER, channel: int | None = None,
                    guide: torch.Tensor | None = None) -> float:
    """The value the dream climbs: by default the layers' mean squared activations, summed.

    Args:
        image: (1, 3, H, W) in [0, 1].
        model: a FeatureNetwork (the offline default when None).
        layers: a layer name or a list of them.
        channel: climb only this channel's squared activation.
        guide: (1, 3, h, w) guide image: climb the similarity to its mean feature vector.

    Returns:
        float: the objective.
    """
    image, model = _image_and_model(image, model)
    return _build_objective(model, layers, channel, guide).value(model, image)


def dream_gradient(image: torch.Tensor, model: FeatureNetwork | None = None,
                   layers: str | Sequence[str] = DEFAULT_LAYER, channel: int | None = None,
                   guide: torch.Tensor | None = None, tile: int | None = None,
                   margin: int | None = None) -> tuple[float, torch.Tensor]:
    """The dream objective and its gradient, computed over tiles when ``tile`` is given.

    Args:
        image: (1, 3, H, W) in [0, 1].
        model: a FeatureNetwork (the offline default when None).
        layers: a layer name or a list of them.
        channel: climb only this channel.
        guide: (1, 3, h, w) guide image.
        tile: the tile side in pixels (rounded down to the layer's stride); None: whole image.
        margin: pixels of context around each tile (six times the layer's stride when
            None: enough for the gradient to match the whole-image one closely).

    Returns:
        (float objective, (1, 3, H, W) gradient).
    """
    image, model = _image_and_model(image, model)
    objective = _build_objective(model, layers, channel, guide)
    image = image.detach().requires_grad_(True)
    with torch.enable_grad():
        value = _tiled_value(objective, model, image, tile, margin)
        (grad,) = torch.autograd.grad(value, image)
    return float(value.detach()), grad


def octave_sizes(height: int, width: int, octaves: int, octave_scale: float,
                 min_size: int) -> list[tuple[int, int]]:
    """The image sizes of the octave pyramid, smallest first.

    Args:
        height, width: the full size.
        octaves: how many sizes.
        octave_scale: the ratio between neighbouring sizes (> 1).
        min_size: the smallest side the network accepts.

    Returns:
        list of (h, w), ending with (height, width).
    """
    octaves = check_count(octaves, "octaves", low=1)
    octave_scale = check_number(octave_scale, "octave_scale", low=1, positive=True)
    sizes = [(round(height / octave_scale ** i), round(width / octave_scale ** i))
             for i in range(octaves)][::-1]
    if min(sizes[0]) < min_size:
        fit = 1 + int(math.log(min(height, width) / min_size) / math.log(octave_scale))
        raise ValueError(f"With {octaves} octaves the smallest copy is {sizes[0][1]}x"
                         f"{sizes[0][0]} pixels, below the network's minimum of {min_size}: "
                         f"use octaves={max(fit, 1)} or fewer, or a larger image.")
    return sizes


def deep_dream(image: torch.Tensor, model: FeatureNetwork | None = None,
               layers: str | Sequence[str] = DEFAULT_LAYER, channel: int | None = None,
               octaves: int = 3, octave_scale: float = 1.4, steps: int = 20, lr: float = 0.01,
               jitter: int = 32, tile: int | None = None, guide: torch.Tensor | None = None,
               normalize: bool = True, progress: bool = True, seed: int = 0,
               return_history: bool = False) -> torch.Tensor | tuple[torch.Tensor, History]:
    """Dream: climb a layer's activations by changing the photo, octave by octave.

    One Ctrl-C (or the notebook's stop button) stops every octave: the dream so far comes back
    at the photo's size, and the history says it was interrupted.

    Args:
        image: (1, 3, H, W) in [0, 1], the photo to start from.
        model: a FeatureNetwork (the offline default when None).
        layers: a layer name or a list of them (see ``model.layers``; ``DEFAULT_LAYER`` is
            ``"block8"``); deeper: more complex motifs (stripes, then eyes, then object parts).
        channel: climb only this channel's mean square (None: the whole layer's).
        octaves: how many sizes, smallest first; 1 dreams at full size only.
        octave_scale: the size ratio between octaves.
        steps: optimizer steps per octave.
        lr: Adam's step size (pixel values are in [0, 1]).
        jitter: the largest random roll in pixels, in each direction (0: none).
        tile: add up the objective in tiles of this side, so that memory holds one tile's
            activations at a time (for large images); None: the whole image at once.
        guide: (1, 3, h, w) guide image: climb the similarity to its mean feature vector
            instead (dot product, per position).
        normalize: divide each gradient by its mean absolute value (with Adam's steps, which
            already divide by the running gradient size, this changes the dream very little).
        progress: show a progress bar per octave.
        seed: seeds the jitter.
        return_history: also return the `History` of the loss (all octaves in a row).

    Returns:
        (1, 3, H, W) dream in [0, 1]; with ``return_history``, (dream, History).
    """
    image, model = _image_and_model(image, model)
    jitter = check_count(jitter, "jitter")
    height, width = image.shape[-2:]
    if tile is not None:
        tile = check_count(tile, "tile", low=1)
    seen = (height, width) if tile is None else (min(tile, height), min(tile, width))
    check_memory(seen, 1, image.device, f"Dreaming at {width}x{height}" if tile is None
                 else f"tile={tile}")
    objective = _build_objective(model, layers, channel, guide)
    sizes = octave_sizes(height, width, octaves, octave_scale, model.min_size)
    generator = torch.Generator().manual_seed(seed)
    base = resize(image.detach(), sizes[0])
    dream, history = base.clone(), History()
    for i, size in enumerate(sizes):
        if i > 0:
            next_base = resize(image.detach(), size)
            dream, base = carry_detail(dream.detach(), base, next_base), next_base

        def loss(dream: torch.Tensor = dream) -> torch.Tensor:
            dy, dx = torch.randint(-jitter, jitter + 1, (2,), generator=generator).tolist()
            seen = _NormalizeGradient.apply(dream) if normalize else dream
            return -_tiled_value(objective, model, seen.roll((dy, dx), (-2, -1)), tile, None)

        history.extend(optimize(dream, loss, steps, lr=lr, after_step=lambda d=dream: d.clamp_(0, 1),
                                progress=progress,
                                desc=f"octave {i + 1}/{len(sizes)} ({size[1]}x{size[0]})"))
        if history.interrupted:  # one Ctrl-C stops every octave
            break
    if dream.shape[-2:] != image.shape[-2:]:  # stopped early: the dream so far, at full size
        dream = carry_detail(dream.detach(), base, image.detach())
    return (dream.detach(), history) if return_history else dream.detach()


def _image_and_model(image: torch.Tensor,
                     model: FeatureNetwork | None) -> tuple[torch.Tensor, FeatureNetwork]:
    """Check the (1, 3, H, W) photo, and resolve the network on its device."""
    image = check_image(image, batch_one=True)
    model = resolve_model(model, image.device)
    check_on(image, model.device)
    return image, model


def carry_detail(dreamed: torch.Tensor, base: torch.Tensor,
                 next_base: torch.Tensor) -> torch.Tensor:
    """Start the next octave: the larger photo plus the detail the dream added at this one.

    Args:
        dreamed: (N, 3, h, w) the dream at this octave.
        base: (N, 3, h, w) the photo resized to this octave, where the dream started.
        next_base: (N, 3, H, W) the photo at the next, larger octave.

    Returns:
        (N, 3, H, W) in [0, 1]: next_base + (dreamed - base) upsampled bilinearly.
    """
    detail = F.interpolate(dreamed - base, size=next_base.shape[-2:], mode="bilinear",
                           align_corners=False)  # not `resize`: detail can be negative
    return (next_base + detail).clamp(0, 1)


def zoom(image: torch.Tensor, factor: float) -> torch.Tensor:
    """Zoom into the centre: crop by ``factor`` and resize back to the same size.

    Args:
        image: (1, 3, H, W).
        factor: > 1 zooms in.

    Returns:
        (1, 3, H, W).
    """
    h, w = image.shape[-2:]
    ch, cw = max(1, round(h / factor)), max(1, round(w / factor))
    top, left = (h - ch) // 2, (w - cw) // 2
    return resize(image[..., top:top + ch, left:left + cw], (h, w))


def dream_zoom(image: torch.Tensor, model: FeatureNetwork | None = None, frames: int = 12,
               factor: float = 1.05, path: str | Path | None = None, fps: int = 8,
               progress: bool = True, overwrite: bool = True,
               **dream_options) -> list[torch.Tensor]:
    """The endless zoom: dream, zoom into the centre a little, dream on that, and so on.

    Args:
        image: (1, 3, H, W) in [0, 1], the first frame.
        model: a FeatureNetwork (the offline default when None).
        frames: how many frames.
        factor: the zoom between frames.
        path: when given, the frames are written there as a looping GIF (the path is checked
            before the first frame, see `nstutils.check_output`).
        fps: frames per second of the GIF.
        progress: show a progress bar over frames.
        overwrite: replace an existing file at ``path`` (refused when False).
        **dream_options: passed to `deep_dream` (layers, channel, octaves, steps, lr ...);
            octaves defaults to 1 and steps to 5, since each frame starts from a dream.

    Returns:
        list of (1, 3, H, W) frames; fewer than ``frames`` when stopped with Ctrl-C (the GIF
        then holds the frames made).
    """
    frames = check_count(frames, "frames", low=1)
    factor = check_number(factor, "factor", low=1)
    if path is not None:
        path, fps = _check_gif(path, fps, overwrite)
    options = {"octaves": 1, "steps": 5, **dream_options, "progress": False,
               "return_history": True}
    seed = options.pop("seed", 0)
    current, model = _image_and_model(image, model)
    out = []
    for k in track(range(frames), "zoom frames", unit="frames", enabled=progress):
        current, history = deep_dream(current, model, seed=seed + k, **options)
        out.append(current)
        if history.interrupted:  # one Ctrl-C stops every frame
            break
        current = zoom(current, factor)
    if path is not None:
        save_gif(out, path, fps, overwrite)
    return out


def save_gif(frames: Sequence[torch.Tensor], path: str | Path, fps: int = 8,
             overwrite: bool = True) -> Path:
    """Write frames as a looping GIF animation, atomically (a temporary file, then a rename).

    Args:
        frames: (1, 3, H, W) images in [0, 1], all the same size.
        path: the file to write (folders are created); checked with `nstutils.check_output`.
        fps: frames per second.
        overwrite: replace an existing file (refused when False).

    Returns:
        Path: the file written.

    Raises:
        OutputError: ``path`` cannot be written (nothing is left there).
    """
    if not frames:
        raise ValueError("save_gif got no frames.")
    path, fps = _check_gif(path, fps, overwrite)
    images = [to_pil(f) for f in frames]
    return write_atomically(path, lambda file: images[0].save(
        file, format=_animation_format(path), save_all=True, append_images=images[1:],
        duration=round(1000 / fps), loop=0))


def _check_gif(path: str | Path, fps: int, overwrite: bool) -> tuple[Path, int]:
    """Check an animation's path (writable, a format with frames) and its frames per second."""
    _animation_format(Path(path))
    return check_output(path, overwrite=overwrite), check_count(fps, "fps", low=1)


def _animation_format(path: Path) -> str:
    """The Pillow format that writes ``path`` with several frames (GIF, PNG, WebP ...)."""
    name = PIL.Image.registered_extensions().get(path.suffix.lower())
    if name not in PIL.Image.SAVE_ALL:
        raise OutputError(f"{path}: save an animation with the .gif extension "
                          f"({path.suffix or 'no extension'} cannot hold one).")
    return name
