"""Figures of what makes a unit fire: its top dataset patches, beside its optimized images.

`plot_unit_grid` draws Zeiler & Fergus's figure: several units of a layer, each with its top
patches cut to its receptive field.

(The module is not called ``plot_patches``: that is the name of its main function.)
"""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .images import image_grid, to_numpy
from .patches import Patch, PatchPool, patch_crop
from .plot import panel_grid

#: The gray around a crop that the image's border cut short (its field reaches past the image).
_OUTSIDE = 0.85

#: Photo names too long for a small panel's title.
_SHORT_NAMES = {"hubble_deep_field": "hubble", "immunohistochemistry": "cells"}


def _draw_patch(ax: Axes, pool: PatchPool, patch: Patch, context: float, title: str) -> None:
    """Show a patch with some context around its receptive field, box the field, add a title."""
    x0, y0, x1, y1 = patch.box
    side = min(pool.size, round(max(x1 - x0, y1 - y0, 8) * (1 + 2 * context)))
    vx0 = min(max(0, (x0 + x1 - side) // 2), pool.size - side)  # a square view inside the image
    vy0 = min(max(0, (y0 + y1 - side) // 2), pool.size - side)
    view = pool.images[patch.image, :, vy0:vy0 + side, vx0:vx0 + side]
    ax.imshow(to_numpy(view), extent=(vx0, vx0 + side, vy0 + side, vy0), interpolation="nearest")
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1.8, ec="#ffd400"))
    ax.set_title(title, fontsize=8)


def _photo_name(patch: Patch) -> str:
    """The name of the photo a patch comes from, short enough for a panel title."""
    return _SHORT_NAMES.get(patch.source.photo, patch.source.photo)


def plot_patches(pool: PatchPool, patches: Sequence[Patch], title: str | None = None,
                 context: float = 0.5, ncols: int = 3, size: float = 1.6) -> Figure:
    """Draw top patches in a grid, each with a bit of context and its receptive field boxed.

    Args:
        pool: the pool the patches come from (images (N, 3, S, S)).
        patches: from `top_patches`.
        title: over the grid.
        context: margin shown around each field, as a fraction of the field's side.
        ncols: patches per row.
        size: the side of one panel in inches.

    Returns:
        Figure; each panel's title gives the photo and the activation.
    """
    if not patches:
        raise ValueError("No patches to draw.")
    fig, axes = panel_grid(len(patches), ncols, (size, size), title)
    for ax, patch in zip(axes.flat, patches):
        _draw_patch(ax, pool, patch, context, f"{_photo_name(patch)} · {patch.activation:.1f}")
    return fig


def _crop_side(patches: Sequence[Patch]) -> int:
    """The longest side, in pixels, of the patches' boxes."""
    return max(max(p.box[2] - p.box[0], p.box[3] - p.box[1]) for p in patches)


def _unit_tile(pool: PatchPool, patches: Sequence[Patch], side: int) -> torch.Tensor:
    """Tile a unit's patch crops 3x3, each centred in a side x side cell, unscaled."""
    if len(patches) > 9:
        raise ValueError(f"A unit's block holds at most 9 patches (3x3), got {len(patches)}.")
    cells = []
    for patch in patches:
        crop = patch_crop(pool, patch)
        dy, dx = side - crop.shape[-2], side - crop.shape[-1]
        cells.append(F.pad(crop, (dx // 2, dx - dx // 2, dy // 2, dy - dy // 2), value=_OUTSIDE))
    return image_grid(cells, ncols=3, pad=max(1, side // 12))


def plot_unit_grid(pool: PatchPool, units: Sequence[tuple[str, Sequence[Patch]]],
                   title: str | None = None, ncols: int = 3, size: float = 0.62) -> Figure:
    """Draw several units of one layer, each as a 3x3 block of its top patches' crops.

    Every crop is exactly the unit's receptive field (`patch_crop`), shown at one scale for the
    whole figure, so a crop the image's border cut short looks smaller, on light gray.

    Args:
        pool: the pool the patches come from (images (N, 3, S, S)).
        units: (label, patches) per unit, e.g. ``("channel 12", top_patches(...))``; at most
            nine patches each.
        title: over the figure.
        ncols: units per row.
        size: the side of one patch in inches.

    Returns:
        Figure, one panel per unit, titled with its label.
    """
    if not units or not all(patches for _, patches in units):
        raise ValueError("plot_unit_grid needs at least one unit, each with patches.")
    side = max(_crop_side(patches) for _, patches in units)
    fig, axes = panel_grid(len(units), ncols, (3 * size, 3 * size), title, margin=(0, 0.6))
    for ax, (label, patches) in zip(axes.flat, units):
        ax.imshow(to_numpy(_unit_tile(pool, patches, side)))
        ax.set_title(label, fontsize=9)
    return fig


def plot_dataset_vs_optimized(pool: PatchPool,
                              units: Sequence[tuple[str, torch.Tensor, Sequence[Patch]]],
                              diverse: Sequence[torch.Tensor] | None = None,
                              size: float = 1.8) -> Figure:
    """One row per unit: its top dataset patches, its optimized image, then its diversity set.

    The patches are cut to the unit's receptive field and tiled 3x3, as in `plot_unit_grid`.

    Args:
        pool: the pool the patches come from (images (N, 3, S, S)).
        units: (label, optimized image (1, 3, H, W), patches) for each unit; at most nine
            patches each.
        diverse: optional, one (D, 3, H', W') per unit: images optimized together with a
            diversity term (the same D for every unit).
        size: the side of one panel in inches.

    Returns:
        Figure of len(units) rows and 2 + D columns.
    """
    if not units or not all(patches for _, _, patches in units):
        raise ValueError("No units to draw, or a unit without patches.")
    if diverse is not None and (len(diverse) != len(units)
                                or len({len(images) for images in diverse}) != 1):
        raise ValueError(f"diverse needs one batch of images per unit ({len(units)}), each "
                         f"as large; got {[len(images) for images in diverse]}.")
    diverse = diverse if diverse is not None else [()] * len(units)
    ncols = 2 + len(diverse[0])
    fig, axes = panel_grid(len(units) * ncols, ncols, (size, size + 0.3), margin=(0, 0))
    for row, (label, optimized, patches), images in zip(axes, units, diverse):
        row[0].imshow(to_numpy(_unit_tile(pool, patches, _crop_side(patches))))
        row[0].set_title(f"{label}\ntop {len(patches)} patches", fontsize=9, fontweight="bold")
        row[1].imshow(to_numpy(optimized))
        row[1].set_title("optimized", fontsize=9)
        for k, (ax, image) in enumerate(zip(row[2:], images)):
            ax.imshow(to_numpy(image))
            ax.set_title(f"diversity {k + 1}", fontsize=9)
    return fig
