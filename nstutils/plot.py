"""Figures for the notebooks: the shared helpers, and the figures of several lessons.

Every figure function returns its matplotlib Figure and never calls ``plt.show()``; those that
draw a single chart take ``ax=`` to draw into an axes of a figure of your own. The figures of
one lesson live next door: `nstutils.plot_attribution` (saliency, integrated gradients) and
`nstutils.plot_units` (top dataset patches). Only these plotting modules import matplotlib.
"""

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .images import to_numpy
from .models import Prediction
from .optim import History
from .param import spectrum_power


#: A filter whose largest weight is below this fraction of the strongest filter's is dead.
DEAD_FILTER = 1e-3
DEAD_RED = "#c00000"  # the colour that marks them


# --- shared helpers ---------------------------------------------------------------------------

def panel_grid(panels: int, ncols: int, panel_size: tuple[float, float],
               suptitle: str | None = None, margin: tuple[float, float] = (0.0, 0.5),
               width_ratios: Sequence[float] | None = None,
               frames: bool = False) -> tuple[Figure, np.ndarray]:
    """Start a figure of panels in rows: constrained layout, axes off, a title over it all.

    Args:
        panels: how many panels (the last row may be short; its spare axes stay blank).
        ncols: panels per row (at most ``panels`` are used).
        panel_size: (width, height) of one panel in inches.
        suptitle: a title over the whole figure.
        margin: inches added to the figure's (width, height), for colorbars and titles.
        width_ratios: relative widths of the columns; the figure widens with their sum.
        frames: keep every axes' frame and ticks (charts), instead of turning them off (images).

    Returns:
        Figure and its (rows, ncols) array of axes.
    """
    ncols = max(1, min(ncols, panels))
    nrows = -(-panels // ncols)
    widths = list(width_ratios) if width_ratios is not None else [1.0] * ncols
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, layout="constrained",
                             figsize=(panel_size[0] * sum(widths) + margin[0],
                                      panel_size[1] * nrows + margin[1]),
                             gridspec_kw={"width_ratios": widths})
    if not frames:
        for ax in axes.flat:
            ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle, fontsize=13, fontweight="bold")
    return fig, axes


def single_panel(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    """The axes a one-chart figure draws into: ``ax`` if given, else a new figure's only axes.

    Args:
        ax: axes to draw into, or None.
        size: (width, height) in inches of the new figure when ax is None.

    Returns:
        The Figure that ax belongs to (or the new one) and the axes.
    """
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax


def style_axes(ax: Axes, title: str, xlabel: str | None = None, ylabel: str | None = None,
               grid: str | None = "both") -> None:
    """Give a chart the course's look: a title, axis labels, a light grid, no top/right frame.

    Args:
        ax: the axes.
        title: the title.
        xlabel, ylabel: axis labels (None: leave as is).
        grid: ``"both"``, ``"x"``, ``"y"`` or None for no grid.
    """
    ax.set_title(title, fontsize=12)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if grid:
        ax.grid(alpha=0.3, axis=grid)
    ax.spines[["top", "right"]].set_visible(False)


def colour_scale(signed: bool, peak: float = 1.0) -> dict:
    """The colour map and limits of a heatmap: centred on zero when values can be negative.

    Args:
        signed: some values are negative: blue below zero, white at zero, red above.
            Otherwise a one-sided map, black at zero.
        peak: the largest absolute value to show.

    Returns:
        dict: ``cmap``, ``vmin`` and ``vmax`` for ``imshow``.
    """
    if signed:
        return {"cmap": "RdBu_r", "vmin": -peak, "vmax": peak}
    return {"cmap": "magma", "vmin": 0.0, "vmax": peak}


# --- images and predictions -------------------------------------------------------------------

def show_images(images: torch.Tensor | Sequence[torch.Tensor], titles: Sequence[str] | None = None,
                ncols: int | None = None, size: float = 3.0, suptitle: str | None = None) -> Figure:
    """Draw images side by side, without axes, each with an optional title.

    Args:
        images: (N, 3, H, W), or a list of (1, 3, H, W) / (3, H, W), values in [0, 1].
        titles: one per image.
        ncols: images per row (all in one row when None, at most 6).
        size: the height of one panel in inches.
        suptitle: a title over the whole figure.

    Returns:
        Figure.
    """
    items = list(images.unbind(0)) if isinstance(images, torch.Tensor) else list(images)
    if titles is not None and len(titles) != len(items):
        raise ValueError(f"Got {len(items)} images but {len(titles)} titles.")
    arrays = [to_numpy(im) for im in items]
    aspect = max(a.shape[1] / a.shape[0] for a in arrays)
    fig, axes = panel_grid(len(arrays), ncols or min(len(arrays), 6), (size * aspect, size),
                           suptitle, margin=(0.0, 0.4))
    for i, (ax, array) in enumerate(zip(axes.flat, arrays)):
        ax.imshow(array)
        if titles is not None:
            ax.set_title(titles[i], fontsize=11)
    return fig


def plot_content_style_grid(contents: torch.Tensor, styles: Sequence[torch.Tensor],
                            results: Sequence[torch.Tensor], content_titles: Sequence[str],
                            style_titles: Sequence[str], size: float = 1.8,
                            suptitle: str | None = None) -> Figure:
    """Draw every photo painted in every style: the photos down the left, the styles on top.

    Args:
        contents: (P, 3, H, W) the photos.
        styles: S images (1, 3, h, w), the styles.
        results: S tensors (P, 3, H, W): the photos painted in each style, in the styles' order.
        content_titles: P names, over the photos.
        style_titles: S names, over the styles.
        size: the height of one panel in inches.
        suptitle: a title over the whole figure.

    Returns:
        Figure of (P + 1) rows and (S + 1) columns; the top-left corner stays blank.
    """
    n_photos, n_styles = len(contents), len(styles)
    if n_styles == 0 or len(results) != n_styles or len(style_titles) != n_styles:
        raise ValueError(f"Need one result and one title per style: got {n_styles} styles, "
                         f"{len(results)} results and {len(style_titles)} titles.")
    if len(content_titles) != n_photos or any(len(r) != n_photos for r in results):
        raise ValueError(f"Need one title and, per style, one result per photo ({n_photos}).")
    aspect = contents.shape[-1] / contents.shape[-2]
    fig, axes = panel_grid((n_photos + 1) * (n_styles + 1), n_styles + 1,
                           (size * aspect, size), suptitle, margin=(0.0, 0.4))
    for j, (style, name) in enumerate(zip(styles, style_titles)):
        axes[0, j + 1].imshow(to_numpy(style))
        axes[0, j + 1].set_title(f"style: {name}", fontsize=10)
    for i, name in enumerate(content_titles):
        axes[i + 1, 0].imshow(to_numpy(contents[i]))
        axes[i + 1, 0].set_title(f"photo: {name}", fontsize=10)
        for j, painted in enumerate(results):
            axes[i + 1, j + 1].imshow(to_numpy(painted[i]))
    return fig


def plot_top_k(predictions: Sequence[Prediction], image: torch.Tensor | None = None,
               title: str = "Top predictions", ax: Axes | None = None) -> Figure:
    """Draw predicted class probabilities as horizontal bars, next to the image if given.

    Args:
        predictions: from `nstutils.top_k`, most probable first.
        image: (1, 3, H, W) in [0, 1], shown on the left (not with ``ax``).
        title: the title over the bars.
        ax: draw the bars into these axes instead of a new figure.

    Returns:
        Figure.
    """
    if ax is not None and image is not None:
        raise ValueError("plot_top_k draws only the bars into ax=: leave image out, or ax.")
    if ax is None:
        panels = 1 + (image is not None)
        fig, axes = panel_grid(panels, panels, (3.6, 3.4), margin=(1.5, 0.0),
                               width_ratios=[1, 1.3][-panels:], frames=True)
        ax = axes[0, -1]
        if image is not None:
            axes[0, 0].imshow(to_numpy(image))
            axes[0, 0].axis("off")
    labels = [f"{p.label} ({p.index})" for p in predictions][::-1]
    probs = [100 * p.probability for p in predictions][::-1]
    colors = plt.cm.viridis([0.35] * (len(probs) - 1) + [0.75])
    bars = ax.barh(labels, probs, color=colors)
    ax.bar_label(bars, labels=[f"{p:.1f} %" for p in probs], padding=3, fontsize=10)
    ax.set_xlim(0, 115)
    style_axes(ax, title, xlabel="probability (%)", grid=None)
    return ax.figure


# --- charts -----------------------------------------------------------------------------------

def plot_losses(histories: History | dict[str, History], terms: Sequence[str] | None = None,
                logy: bool = True, title: str = "Loss during optimization",
                against: str = "step", ax: Axes | None = None) -> Figure:
    """Plot loss curves from one or several runs of `nstutils.optimize`.

    Args:
        histories: a History, or label -> History to compare runs (e.g. Adam against L-BFGS).
        terms: which loss terms to draw; when None all of them, except ``"total"`` when a run
            has a single term (the total is then that same line).
        logy: use a logarithmic y axis (needs positive losses).
        title: the axes title.
        against: the x axis: ``"step"``, or ``"evaluations"`` (loss evaluations so far, which
            counts the extra ones of L-BFGS's line search: the fair axis to compare cost).
        ax: draw into these axes instead of a new figure.

    Returns:
        Figure.
    """
    if against not in ("step", "evaluations"):
        raise ValueError(f"against must be 'step' or 'evaluations', got {against!r}.")
    runs = histories if isinstance(histories, dict) else {"": histories}
    fig, ax = single_panel(ax, (6.5, 3.8))
    for label, history in runs.items():
        for name in terms or _default_terms(history):
            values = history.losses[name]
            ax.plot(_x_axis(history, against, len(values)), values, lw=1.8,
                    label=" · ".join(s for s in (label, name) if s))
    if logy:
        ax.set_yscale("log")
    style_axes(ax, title, xlabel="step" if against == "step" else "loss evaluations",
               ylabel="loss")
    ax.legend(frameon=False)
    return fig


def _default_terms(history: History) -> list[str]:
    """A run's loss terms to draw: all of them, but ``"total"`` not when it is one other term's."""
    repeats = len(history.losses) == 2 and "total" in history.losses
    return [name for name in history.losses if name != "total" or not repeats]


def _x_axis(history: History, against: str, points: int) -> list[int]:
    """The x values of a run's loss curve: its steps 1, 2, ..., or its evaluations so far."""
    if against == "step":
        return list(range(1, points + 1))
    if len(history.evaluations) != points:
        raise ValueError("This History has no count of loss evaluations (it was not recorded by "
                         "nstutils.optimize): plot it against='step'.")
    return history.evaluations


def plot_spectra(images: dict[str, torch.Tensor], bins: int = 16,
                 title: str = "Power by spatial frequency", ax: Axes | None = None) -> Figure:
    """Compare how much fine detail images hold: radially averaged power spectra, log scale.

    Args:
        images: label -> (N, 3, H, W) image.
        bins: frequency bands between 0 and 0.5 cycles per pixel.
        title: the axes title.
        ax: draw into these axes instead of a new figure.

    Returns:
        Figure.
    """
    fig, ax = single_panel(ax, (6.0, 3.6))
    for label, image in images.items():
        frequencies, power = spectrum_power(image, bins)
        ax.plot(frequencies.numpy(), power.numpy(), lw=2, marker="o", ms=3, label=label)
    ax.set_yscale("log")
    style_axes(ax, title, xlabel="spatial frequency (cycles per pixel; 0.5 = alternating pixels)",
               ylabel="mean power")
    ax.legend(frameon=False, fontsize=9)
    return fig


def plot_layer_values(values: dict[str, dict[str, float]], ylabel: str = "$E_l$",
                      logy: bool = True, title: str = "Per-layer values",
                      ax: Axes | None = None) -> Figure:
    """Draw grouped bars: one group per layer, one bar per series (e.g. E_l for several images).

    Args:
        values: series label -> {layer name -> value}; every series names the same layers.
        ylabel: the y axis label.
        logy: use a logarithmic y axis (the values must be positive).
        title: the axes title.
        ax: draw into these axes instead of a new figure.

    Returns:
        Figure.
    """
    layers = list(next(iter(values.values())))
    width = 0.8 / len(values)
    fig, ax = single_panel(ax, (1.3 * len(layers) + 2.5, 3.6))
    for i, (label, series) in enumerate(values.items()):
        xs = [k + (i - (len(values) - 1) / 2) * width for k in range(len(layers))]
        ax.bar(xs, [series[layer] for layer in layers], width * 0.95, label=label)
    ax.set_xticks(range(len(layers)), layers, rotation=20)
    if logy:
        ax.set_yscale("log")
    style_axes(ax, title, ylabel=ylabel, grid="y")
    if len(values) > 1:
        ax.legend(frameon=False)
    return fig


# --- what the layers hold ---------------------------------------------------------------------

def plot_filters(weight: torch.Tensor, ncols: int = 8, size: float = 0.9,
                 title: str | None = None) -> Figure:
    """Draw first-layer convolution filters as small RGB images (gray is zero).

    Each filter is scaled by its own largest absolute weight, so its pattern is visible; the
    number over it is that weight's size, so filters can still be compared. A dead filter
    (weights below `DEAD_FILTER` times the strongest filter's) is drawn at the strongest
    filter's scale, flat gray, and marked "dead" in red.

    Args:
        weight: (C_out, 3, k, k) convolution weights, e.g. ``model.net._conv_stem.weight``.
        ncols: filters per row.
        size: the side of one filter in inches.
        title: over the grid.

    Returns:
        Figure.
    """
    if weight.dim() != 4 or weight.shape[1] != 3:
        raise ValueError(f"Expected RGB filters shaped (C_out, 3, k, k), got "
                         f"{tuple(weight.shape)}.")
    weight = weight.detach().float().cpu()
    peaks = weight.abs().flatten(1).max(dim=1).values
    dead = peaks < DEAD_FILTER * peaks.max()
    scales = torch.where(dead, peaks.max(), peaks).clamp(min=1e-12)
    images = weight / (2 * scales.view(-1, 1, 1, 1)) + 0.5
    fig, axes = panel_grid(len(images), ncols, (size, size + 0.2), title)
    for i, (ax, image) in enumerate(zip(axes.flat, images)):
        ax.imshow(image.permute(1, 2, 0).numpy(), vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"{i}: {peaks[i]:.2g}", fontsize=7, pad=2, color=DEAD_RED if dead[i] else "black")
        if dead[i]:
            ax.text(0.5, 0.5, "dead", transform=ax.transAxes, ha="center", va="center",
                    color=DEAD_RED, fontsize=9, fontweight="bold")
    return fig


def plot_feature_maps(activation: torch.Tensor, channels: Sequence[int] | None = None,
                      image: torch.Tensor | None = None, ncols: int = 6, size: float = 1.8,
                      title: str | None = None, shared_scale: bool = False) -> Figure:
    """Draw the activation maps of some channels of one image, each scaled to its own peak.

    Signed maps (a block's output, before any ReLU) are drawn blue below zero, white at zero
    and red above; maps that are never negative (after a ReLU) black at zero to yellow. Each
    map is scaled to its own largest absolute value, written in its title, so that a weak
    channel still shows where it fires; ``shared_scale=True`` puts all of them on one scale,
    to compare how strongly they fire.

    Args:
        activation: (1, C, h, w) or (C, h, w), e.g. ``model.features(x, "block3")["block3"]``.
        channels: which channels; the first ``2 * ncols`` when None.
        image: (1, 3, H, W) input, drawn first for reference.
        ncols: panels per row.
        size: the side of one panel in inches.
        title: over the grid.
        shared_scale: one colour scale, in activation units, for all the maps.

    Returns:
        Figure with a colorbar giving the activation, or its fraction of each map's peak.
    """
    maps = activation.detach().float().cpu()
    maps = maps[0] if maps.dim() == 4 else maps
    if maps.dim() != 3:
        raise ValueError(f"Expected activations (1, C, h, w), got {tuple(activation.shape)}.")
    channels = list(range(min(2 * ncols, maps.shape[0]))) if channels is None else list(channels)
    if not channels:
        raise ValueError("No channels to draw.")
    bad = [c for c in channels if not 0 <= c < maps.shape[0]]
    if bad:
        raise ValueError(f"Channels {bad} do not exist: this layer has {maps.shape[0]}.")
    shown = maps[channels]
    peaks = shown.abs().flatten(1).max(dim=1).values
    if shared_scale:
        scale = colour_scale(bool(shown.min() < 0), float(peaks.max().clamp(min=1e-12)))
    else:
        shown = shown / peaks.clamp(min=1e-12).view(-1, 1, 1)
        scale = colour_scale(bool(shown.min() < 0))
    aspect = maps.shape[1] / maps.shape[2]  # panel height / width
    fig, axes = panel_grid(len(channels) + (image is not None), ncols,
                           (size, size * aspect + 0.3), title, margin=(0.8, 0.5))
    panels = list(axes.flat)
    if image is not None:
        first = panels.pop(0)
        first.imshow(to_numpy(image))
        first.set_title("input", fontsize=9)
    for ax, c, shown_map, peak in zip(panels, channels, shown, peaks):
        drawn = ax.imshow(shown_map.numpy(), interpolation="nearest", **scale)
        ax.set_title(f"channel {c}" if shared_scale else f"channel {c} · peak {peak:.2g}",
                     fontsize=9)
    fig.colorbar(drawn, ax=axes, shrink=0.8,
                 label="activation" if shared_scale else "activation ÷ the map's peak")
    return fig


def plot_gram_matrices(grams: dict[str, torch.Tensor], channels: int = 32, size: float = 3.3,
                       suptitle: str | None = None, cosine: bool = False) -> Figure:
    """Draw Gram matrices as heatmaps side by side, each with its colour bar.

    A Gram matrix is an uncentered covariance of the channels: a large ``G_ij`` may only say
    that channels i and j are both strong. ``cosine=True`` adds, under each, the matrix
    normalized to ``G_ij / sqrt(G_ii G_jj)``: the cosine similarity of the two channels' maps,
    1 when they fire at the same places in the same proportions, 0 when never together.

    Args:
        grams: panel title -> (C, C) or (1, C, C) Gram matrix (e.g. from `nstutils.gram_matrix`).
        channels: show the first this many channels (a (channels, channels) corner).
        size: the height of one panel in inches.
        suptitle: a title over the whole figure.
        cosine: add a second row with the normalized matrices.

    Returns:
        Figure.
    """
    matrices = {title: gram.detach().float().cpu().reshape(gram.shape[-2:])
                for title, gram in grams.items()}
    rows = [(matrices, "", "$G_{ij}$")]
    if cosine:
        rows.append(({title: channel_cosines(m) for title, m in matrices.items()}, ": normalized",
                     r"$G_{ij} / \sqrt{G_{ii} G_{jj}}$"))
    fig, axes = panel_grid(len(grams) * len(rows), len(grams), (size * 1.25, size), suptitle,
                           frames=True)
    for row, (row_matrices, suffix, label) in zip(axes, rows):
        for ax, (title, matrix) in zip(row, row_matrices.items()):
            corner = matrix[:channels, :channels]
            image = ax.imshow(corner.numpy(), interpolation="nearest",
                              **colour_scale(bool(corner.min() < 0), float(corner.abs().max())))
            ax.set_title(title + suffix, fontsize=11)
            ax.set_xlabel("channel j")
            ax.set_ylabel("channel i")
            fig.colorbar(image, ax=ax, shrink=0.85, label=label)
    return fig


def channel_cosines(gram: torch.Tensor) -> torch.Tensor:
    """Normalize a Gram matrix to the cosine similarities of its channels.

    Args:
        gram: (C, C) Gram matrix.

    Returns:
        (C, C) ``G_ij / sqrt(G_ii G_jj)``, in [-1, 1]; 0 for a channel that is always 0.
    """
    norms = gram.diagonal().clamp(min=0).sqrt()
    return gram / (norms[:, None] * norms[None, :]).clamp(min=1e-12)


def plot_channel_stats(stats: dict[str, torch.Tensor], title: str = "One dot per channel",
                       ax: Axes | None = None) -> Figure:
    """Scatter each channel's mean against its standard deviation, one colour per image.

    Args:
        stats: label -> (C, 2) statistics of one layer (`nstutils.losses.mean_std` of one image:
            ``[:, 0]`` the means, ``[:, 1]`` the standard deviations).
        title: the axes title.
        ax: draw into these axes instead of a new figure.

    Returns:
        Figure.
    """
    fig, ax = single_panel(ax, (5.0, 4.0))
    for label, values in stats.items():
        values = values.detach().cpu().float()
        if values.dim() != 2 or values.shape[1] != 2:
            raise ValueError(f"stats[{label!r}] has shape {tuple(values.shape)}; expected (C, 2): "
                             "one (mean, standard deviation) pair per channel.")
        ax.scatter(values[:, 0].numpy(), values[:, 1].numpy(), s=14, alpha=0.7, label=label)
    style_axes(ax, title, xlabel="mean $\\mu_c$", ylabel="standard deviation $\\sigma_c$")
    ax.legend(frameon=False)
    return fig
