"""What makes a unit fire, from data: the image patches that excite it most (Zeiler & Fergus).

Run a pool of photos through the network, find for one unit (a channel of a layer) the nine
positions with the largest activations, and cut out the part of the image each position sees:
its **receptive field**. Shallow layers see a few pixels and fire on edges and colours; deeper
layers see much of the image and fire on textures, parts and objects.

- `patch_pool` builds the pool offline from the scikit-image photos, their crops and mirror
  images;
- `nstutils.receptive_field` gives, for a layer, which input pixels a unit depends on;
- `unit_maxima` runs the pool once and keeps each unit's best activation per image;
- `top_patches` picks the top k, one per place in a photo; `plot_patches` (in
  `nstutils.plot_units`) draws them with their receptive-field boxes;
- `strongest_units` picks the units of a layer worth showing, and `patch_crop` cuts a patch's
  receptive field out of its pool image (`plot_unit_grid` draws nine units' crops, as in
  Zeiler & Fergus's figure).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .devices import default_device, images_per_pass
from .images import load_image, resize
from .models import FeatureNetwork
from .progress import track
from .receptive_fields import receptive_field

#: The scikit-image photos of the pool (all ship with scikit-image, no download).
POOL_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle", "camera", "coins",
               "brick", "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "retina",
               "moon", "text", "page", "clock", "colorwheel", "logo", "horse")


def photo_array(name: str) -> np.ndarray:
    """One of the `POOL_PHOTOS` as a uint8 array, (H, W) or (H, W, 3), from scikit-image (offline)."""
    import skimage.data

    if name == "motorcycle":
        return skimage.data.stereo_motorcycle()[0]
    if name not in POOL_PHOTOS:
        raise ValueError(f"{name!r} is not a pool photo; choose from {', '.join(POOL_PHOTOS)}.")
    array = getattr(skimage.data, name)()
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    return array


# --- the pool of images -----------------------------------------------------------------------

@dataclass(frozen=True)
class PoolSource:
    """Where a pool image comes from: a square ``box`` (x0, y0, x1, y1) of a photo."""

    photo: str
    box: tuple[int, int, int, int]
    flipped: bool


@dataclass
class PatchPool:
    """Square images to search for patches, and where each one comes from.

    Attributes:
        images: (N, 3, S, S) in [0, 1].
        sources: one `PoolSource` per image.
    """

    images: torch.Tensor
    sources: list[PoolSource]

    def __len__(self) -> int:
        return len(self.sources)

    @property
    def size(self) -> int:
        """The side S of the images."""
        return self.images.shape[-1]


def _square_boxes(h: int, w: int, scales: Sequence[float]) -> list[tuple[int, int, int, int]]:
    """Square crops at each scale of the shorter side: at the ends and centre of the image."""
    boxes = []
    for scale in scales:
        side = max(1, round(min(h, w) * scale))
        ys = sorted({0, (h - side) // 2, h - side})
        xs = sorted({0, (w - side) // 2, w - side})
        if scale < 1:  # smaller crops: the four corners and the centre
            positions = [(y, x) for y in (ys[0], ys[-1]) for x in (xs[0], xs[-1])]
            positions.append(((h - side) // 2, (w - side) // 2))
        else:
            positions = [(y, x) for y in ys for x in xs]
        boxes += [(x, y, x + side, y + side) for y, x in dict.fromkeys(positions)]
    return boxes


def patch_pool(size: int = 128, photos: Sequence[str] = POOL_PHOTOS,
               scales: Sequence[float] = (1.0, 0.5), flips: bool = True,
               device: torch.device | str | None = None) -> PatchPool:
    """Build a pool of square images from the scikit-image photos, their crops and mirror images.

    Args:
        size: the side of every pool image; a multiple of 32 so receptive fields line up.
        photos: names from `POOL_PHOTOS`.
        scales: crop sides as fractions of each photo's shorter side (1.0: the largest square).
        flips: also add each crop mirrored left-right.
        device: where the images go; `default_device()` when None.

    Returns:
        PatchPool: N images (N, 3, size, size) and their sources.
    """
    if size % 32 or size < 64:
        raise ValueError(f"size must be a multiple of 32 and at least 64, got {size}.")
    if not scales or not all(0 < s <= 1 for s in scales):
        raise ValueError(f"scales must be fractions in (0, 1], got {scales!r}.")
    images, sources = [], []
    for name in photos:
        photo = load_image(photo_array(name), device="cpu")
        h, w = photo.shape[-2:]
        for box in _square_boxes(h, w, scales):
            crop = resize(photo[..., box[1]:box[3], box[0]:box[2]], (size, size))
            for flipped in ((False, True) if flips else (False,)):
                images.append(crop.flip(-1) if flipped else crop)
                sources.append(PoolSource(name, box, flipped))
    device = device if device is not None else default_device()
    return PatchPool(torch.cat(images).to(device), sources)


# --- the top patches --------------------------------------------------------------------------

@dataclass(frozen=True)
class UnitMaxima:
    """Each unit's largest activation in each pool image, and where it is.

    Attributes:
        values: (N, C) the maximum over positions, per image and channel.
        rows: (N, C) the row of that maximum in the layer's map.
        cols: (N, C) its column.
    """

    values: torch.Tensor
    rows: torch.Tensor
    cols: torch.Tensor


def unit_maxima(model: FeatureNetwork, pool: PatchPool, layers: str | Sequence[str],
                batch_size: int | None = None, progress: bool = True) -> dict[str, UnitMaxima]:
    """Run the pool through the network once and keep every unit's best position per image.

    Args:
        model: the network.
        pool: from `patch_pool`.
        layers: one or several layers with spatial maps.
        batch_size: images per forward pass; None: `images_per_pass` (5 of 192 px on a CPU,
            32 on a GPU).
        progress: show a progress bar.

    Returns:
        dict: layer -> `UnitMaxima` (tensors on the CPU).
    """
    names = model.check_layers(layers)
    parts: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {n: [] for n in names}
    widths: dict[str, int] = {}
    images = pool.images.to(model.device)
    batch_size = batch_size or images_per_pass(model.device, images[0].numel(), 32)
    with torch.no_grad():
        for start in track(range(0, len(pool), batch_size), "pool", unit="batches", enabled=progress):
            for name, act in model.features(images[start:start + batch_size], names).items():
                if act.dim() != 4:
                    raise ValueError(f"{name} has no spatial map: choose a convolutional layer.")
                values, index = act.flatten(2).max(dim=2)
                widths[name] = act.shape[-1]
                parts[name].append((values.cpu(), index.cpu()))
    maxima = {}
    for name in names:
        values = torch.cat([v for v, _ in parts[name]])
        index = torch.cat([i for _, i in parts[name]])
        maxima[name] = UnitMaxima(values, index // widths[name], index % widths[name])
    return maxima


def _layer_maxima(maxima: dict[str, UnitMaxima], layer: str) -> UnitMaxima:
    """Return one layer's `UnitMaxima`, with a clear error when the pool run left it out."""
    if layer not in maxima:
        raise ValueError(f"maxima has no {layer!r}: compute unit_maxima(model, pool, [..., "
                         f"{layer!r}]).")
    return maxima[layer]


@dataclass(frozen=True)
class Patch:
    """One of a unit's top patches.

    Attributes:
        image: index into the pool.
        activation: the unit's activation there.
        box: its receptive field (x0, y0, x1, y1) in the pool image, clipped.
        source: the photo it comes from.
    """

    image: int
    activation: float
    box: tuple[int, int, int, int]
    source: PoolSource


def _photo_box(patch_box: tuple[int, int, int, int], source: PoolSource,
               size: int) -> tuple[float, float, float, float]:
    """Map a box in a pool image back to the coordinates of its photo."""
    x0, y0, x1, y1 = patch_box
    if source.flipped:
        x0, x1 = size - x1, size - x0
    bx0, by0, bx1, _ = source.box
    k = (bx1 - bx0) / size
    return bx0 + x0 * k, by0 + y0 * k, bx0 + x1 * k, by0 + y1 * k


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over the smaller box's area."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w * h / smaller


def top_patches(model: FeatureNetwork, pool: PatchPool, layer: str, channel: int, k: int = 9,
                maxima: dict[str, UnitMaxima] | None = None, max_overlap: float = 0.5,
                per_photo: int | None = 2) -> list[Patch]:
    """Find the k pool patches that excite one unit most, each from a different place.

    A candidate is skipped when its field, mapped back to its photo, overlaps an already chosen
    one of the same photo by more than ``max_overlap`` (crops and mirror images repeat content),
    or when its photo already gave ``per_photo`` patches (so one photo cannot fill the grid).

    Args:
        model: the network.
        pool: from `patch_pool`.
        layer: a layer with a spatial map.
        channel: the unit's channel.
        k: how many patches.
        maxima: from `unit_maxima` (computed here when None: pass it to reuse one pool run).
        max_overlap: the largest allowed overlap (intersection over the smaller area).
        per_photo: the most patches from one photo; no limit when None.

    Returns:
        list[Patch]: strongest first (fewer than k if the pool runs out).
    """
    maxima = maxima if maxima is not None else unit_maxima(model, pool, layer, progress=False)
    stats = _layer_maxima(maxima, layer)
    if not isinstance(channel, int) or not 0 <= channel < stats.values.shape[1]:
        raise ValueError(f"{layer} has {stats.values.shape[1]} channels; got channel {channel!r}.")
    field = receptive_field(model, layer)
    chosen: list[Patch] = []
    photo_boxes: list[tuple[str, tuple[float, ...]]] = []
    for index in stats.values[:, channel].argsort(descending=True).tolist():
        source = pool.sources[index]
        box = field.box(int(stats.rows[index, channel]), int(stats.cols[index, channel]), pool.size)
        where = _photo_box(box, source, pool.size)
        same_photo = [other for name, other in photo_boxes if name == source.photo]
        if per_photo is not None and len(same_photo) >= per_photo:
            continue
        if any(_overlap(where, other) > max_overlap for other in same_photo):
            continue
        chosen.append(Patch(index, float(stats.values[index, channel]), box, source))
        photo_boxes.append((source.photo, where))
        if len(chosen) == k:
            break
    return chosen


def patch_crop(pool: PatchPool, patch: Patch) -> torch.Tensor:
    """Cut a patch's receptive field out of its pool image: exactly the pixels the unit sees.

    Args:
        pool: the pool the patch comes from (images (N, 3, S, S)).
        patch: from `top_patches`; its box is already clipped to the image.

    Returns:
        (3, y1 - y0, x1 - x0) view of the pool image, on the pool's device.
    """
    if not 0 <= patch.image < len(pool):
        raise ValueError(f"The patch is from pool image {patch.image}, but the pool holds "
                         f"{len(pool)}: pass the pool it was found in.")
    x0, y0, x1, y1 = patch.box
    return pool.images[patch.image, :, y0:y1, x0:x1]


def strongest_units(maxima: dict[str, UnitMaxima], layer: str, k: int = 9) -> list[int]:
    """Pick the k channels of a layer with the largest activation anywhere in the pool.

    Dead and near-constant units never reach a large value, so they are left out; what is left
    are the units that some pool image excites clearly.

    Args:
        maxima: from `unit_maxima`, with ``layer`` in it.
        layer: the layer.
        k: how many channels (at most the layer's number of channels).

    Returns:
        list[int]: channel indices, strongest first.
    """
    peaks = _layer_maxima(maxima, layer).values.max(dim=0).values  # (C,) the best value over the pool
    if not isinstance(k, int) or not 1 <= k <= peaks.numel():
        raise ValueError(f"k must be an int from 1 to {peaks.numel()} (the channels of {layer}), "
                         f"got {k!r}.")
    return peaks.argsort(descending=True)[:k].tolist()
