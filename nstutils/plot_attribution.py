"""Figures of the attribution lesson: attribution maps over the photo, completeness gaps."""

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator
from scipy import ndimage

from .attribution import attribution_map
from .images import to_numpy
from .plot import panel_grid, style_axes


def _display_maps(values: torch.Tensor, title: str, shape: tuple[int, int], smooth: float,
                  split: bool) -> list[tuple[str, np.ndarray]]:
    """The maps to draw for one attribution: its (H, W) channel sum, or that sum's two signs.

    Args:
        values: (1, 3, H, W) attributions or (1, H, W) / (H, W) maps.
        title: the map's title.
        shape: (H, W) of the photo.
        smooth: the standard deviation in pixels of a Gaussian blur for display (0: none).
        split: a signed map becomes two: its positive part and its negative part.

    Returns:
        list of (title, (H, W) map); the negative part is drawn as values <= 0.
    """
    a = attribution_map(values).float().cpu().numpy()
    if a.shape != shape:
        raise ValueError(f"The map {title!r} is {a.shape}, the image {shape}.")
    if not (split and (a < 0).any()):
        return [(title, _blur(a, smooth))]
    return [(f"{title}: pushes up", _blur(np.maximum(a, 0), smooth)),
            (f"{title}: pushes down", -_blur(np.maximum(-a, 0), smooth))]


def _blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """Blur an (H, W) map with a Gaussian of ``sigma`` pixels (0: the map itself)."""
    return ndimage.gaussian_filter(a, sigma, mode="nearest") if sigma > 0 else a


def _overlay(ax: Axes, grey: np.ndarray, a: np.ndarray, title: str, alpha: float,
             limit: float) -> None:
    """Draw one (H, W) map over the grey (H, W, 3) photo, with its colorbar.

    A map of both signs gets a diverging colormap centred on zero, a map that is never negative
    the red half and one never positive the blue half; the colours are more opaque where
    ``|a|`` is larger, fully so from ``limit`` on.
    """
    if (a < 0).any() and (a > 0).any():
        cmap, norm = plt.get_cmap("RdBu_r"), plt.Normalize(-limit, limit)
    elif (a < 0).any():
        cmap, norm = plt.get_cmap("Blues_r"), plt.Normalize(-limit, 0.0)
    else:
        cmap, norm = plt.get_cmap("Reds"), plt.Normalize(0.0, limit)
    rgba = cmap(norm(a))
    rgba[..., 3] = alpha * np.clip(np.abs(a) / limit, 0, 1) ** 0.5
    ax.imshow(grey)
    ax.imshow(rgba)
    ax.set_title(title, fontsize=11)
    ax.figure.colorbar(plt.cm.ScalarMappable(norm, cmap), ax=ax, shrink=0.8, pad=0.02)


def plot_attributions(image: torch.Tensor, attributions: dict[str, torch.Tensor],
                      alpha: float = 0.85, percentile: float = 99.5, ncols: int | None = None,
                      size: float = 3.4, show_input: bool = True,
                      suptitle: str | None = None, smooth: float = 0.0,
                      split: bool = False) -> Figure:
    """Overlay attribution maps on a photo, each with its colorbar.

    Signed maps use a diverging colormap centred on zero (red: pushes the score up, blue:
    pushes it down); maps that are never negative (saliency) use the red half only. Each map is
    drawn over a grey copy of the photo, and a pixel's colour is more opaque the larger its
    value, so the photo shows through where the attribution is small. The colour range is
    clipped at a high percentile of |value| so a few extreme pixels do not wash the map out.
    Per-pixel attributions of a piecewise-linear network are speckled: ``smooth`` blurs what is
    drawn (never the attributions), and ``split`` draws the evidence for and against apart,
    each blurred on its own, so that speckle of both signs does not cancel out.

    Args:
        image: (1, 3, H, W) in [0, 1].
        attributions: title -> (1, 3, H, W) attributions or (1, H, W) / (H, W) maps.
        alpha: the opacity of the strongest colours.
        percentile: where to clip |value| for the colour range.
        ncols: panels per row (all in one row, at most 4, when None).
        size: the height of a panel in inches.
        show_input: draw the photo itself in the first panel.
        suptitle: a title over the figure.
        smooth: the standard deviation, in pixels, of a Gaussian blur of the drawn maps (0: none).
        split: draw a signed map as two panels side by side, its positive part (red, "pushes
            up") and its negative part (blue, "pushes down"), on one colour range.

    Returns:
        Figure.
    """
    photo = to_numpy(image).astype(np.float32) / 255
    grey = np.repeat(photo.mean(2, keepdims=True), 3, axis=2) * 0.7 + 0.15
    groups = [_display_maps(values, title, photo.shape[:2], smooth, split)
              for title, values in attributions.items()]
    panels = sum(map(len, groups)) + show_input
    aspect = photo.shape[1] / photo.shape[0]
    fig, axes = panel_grid(panels, ncols or min(panels, 4), (size * aspect * 1.2, size),
                           suptitle)
    if show_input:
        axes.flat[0].imshow(photo)
        axes.flat[0].set_title("input", fontsize=11)
    drawn = iter(axes.flat[int(show_input):])
    for group in groups:
        both = np.concatenate([np.abs(a).ravel() for _, a in group])
        limit = float(np.percentile(both, percentile)) or 1.0
        for title, a in group:
            _overlay(next(drawn), grey, a, title, alpha, limit)
    return fig


def _draw_gaps(ax: Axes, title: str, gaps: dict[str, dict[int, float]]) -> None:
    """Draw one panel of `plot_completeness`: a log-log line per rule, and the 1 % line."""
    for (name, by_steps), marker in zip(gaps.items(), "osD^v"):
        steps = sorted(by_steps)
        ax.plot(steps, [100 * max(by_steps[s], 1e-7) for s in steps], marker=marker, lw=1.8,
                label=name)
    ax.axhline(1.0, color="grey", ls="--", lw=1, label="1 %")
    ax.set_xscale("log", base=2)
    ax.set_xticks(steps, [str(n) for n in steps])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_yscale("log")
    style_axes(ax, title, xlabel="steps (gradient evaluations on the path)",
               ylabel="gap, % of |F(x) - F(baseline)|")


def plot_completeness(panels: dict[str, dict[str, dict[int, float]]],
                      title: str = "Completeness gap of integrated gradients",
                      ax: Axes | None = None) -> Figure:
    """Plot the relative completeness gap against the number of steps, one line per rule.

    Args:
        panels: panel title -> rule name -> {steps: gap}, gaps as from `completeness_gaps`
            (fractions of |F(x) - F(x')|); gaps below float32 round-off (1e-7) are drawn at 1e-7.
        title: the title over the figure (with ``ax``, the panel's own title is drawn instead).
        ax: draw the one panel into these axes (panels must then hold one entry).

    Returns:
        Figure: one log-log panel per entry, with the 1 % line.
    """
    if ax is not None:
        if len(panels) != 1:
            raise ValueError(f"ax= draws one panel, got {len(panels)}: leave ax out.")
        (panel, gaps), = panels.items()
        _draw_gaps(ax, panel, gaps)
        ax.legend(frameon=False, fontsize=9)
        return ax.figure
    fig, axes = panel_grid(len(panels), len(panels), (5.2, 3.5), title, margin=(1.6, 0.5),
                           frames=True)
    for ax, (panel, gaps) in zip(axes[0], panels.items()):
        _draw_gaps(ax, panel, gaps)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right center",
               frameon=False)
    return fig
