"""Figures of what makes a unit fire: its top dataset patches, and its optimized image beside them.

(The module is not called ``plot_patches``: that is the name of its main function.)
"""

from collections.abc import Sequence

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .images import to_numpy
from .patches import Patch, PatchPool
from .plot import panel_grid

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


def plot_dataset_vs_optimized(pool: PatchPool,
                              units: Sequence[tuple[str, torch.Tensor, Sequence[Patch]]],
                              context: float = 0.5, size: float = 1.3) -> Figure:
    """One row per unit: its optimized image, then its top dataset patches.

    Args:
        pool: the pool the patches come from (images (N, 3, S, S)).
        units: (label, optimized image (1, 3, H, W), patches) for each unit.
        context: margin around each field, as a fraction of its side.
        size: the side of one panel in inches.

    Returns:
        Figure.
    """
    if not units:
        raise ValueError("No units to draw.")
    ncols = 1 + max(len(patches) for _, _, patches in units)
    fig, axes = panel_grid(len(units) * ncols, ncols, (size, 1.6 * size + 0.4), margin=(0, 0),
                           width_ratios=[1.6] + [1.0] * (ncols - 1))  # the optimized one larger
    for row, (label, optimized, patches) in zip(axes, units):
        row[0].imshow(to_numpy(optimized))
        row[0].set_title(f"{label}\noptimized", fontsize=8, fontweight="bold")
        for k, (ax, patch) in enumerate(zip(row[1:], patches)):
            _draw_patch(ax, pool, patch, context, f"{k + 1}: {_photo_name(patch)}")
    return fig
