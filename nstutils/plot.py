"""Figures for the notebooks. Functions return a matplotlib Figure and never call plt.show()."""

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .images import to_numpy
from .models import Prediction
from .optim import History


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
    ncols = ncols or min(len(items), 6)
    nrows = -(-len(items) // ncols)
    arrays = [to_numpy(im) for im in items]
    aspect = max(a.shape[1] / a.shape[0] for a in arrays)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * aspect * ncols, size * nrows + 0.4),
                             squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, array) in enumerate(zip(axes.flat, arrays)):
        ax.imshow(array)
        if titles is not None:
            ax.set_title(titles[i], fontsize=11)
    if suptitle:
        fig.suptitle(suptitle, fontsize=13, fontweight="bold")
    return fig


def plot_top_k(predictions: Sequence[Prediction], image: torch.Tensor | None = None,
               title: str = "Top predictions") -> Figure:
    """Draw predicted class probabilities as horizontal bars, next to the image if given.

    Args:
        predictions: from `nstutils.top_k`, most probable first.
        image: (1, 3, H, W) in [0, 1], shown on the left.
        title: the title over the bars.

    Returns:
        Figure.
    """
    ncols = 2 if image is not None else 1
    fig, axes = plt.subplots(1, ncols, figsize=(4.2 * ncols + 1.5, 3.4), squeeze=False,
                             layout="constrained",
                             gridspec_kw={"width_ratios": [1, 1.3][-ncols:]})
    if image is not None:
        axes[0, 0].imshow(to_numpy(image))
        axes[0, 0].axis("off")
    ax = axes[0, -1]
    labels = [f"{p.label} ({p.index})" for p in predictions][::-1]
    probs = [100 * p.probability for p in predictions][::-1]
    colors = plt.cm.viridis([0.35] * (len(probs) - 1) + [0.75])
    bars = ax.barh(labels, probs, color=colors)
    ax.bar_label(bars, labels=[f"{p:.1f} %" for p in probs], padding=3, fontsize=10)
    ax.set_xlim(0, 115)
    ax.set_xlabel("probability (%)")
    ax.set_title(title, fontsize=12)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def plot_losses(histories: History | dict[str, History], terms: Sequence[str] | None = None,
                logy: bool = True, title: str = "Loss during optimization") -> Figure:
    """Plot loss curves from one or several runs of `nstutils.optimize`.

    Args:
        histories: a History, or label -> History to compare runs (e.g. Adam against L-BFGS).
        terms: which loss terms to draw; all of them when None.
        logy: use a logarithmic y axis (needs positive losses).
        title: the axes title.

    Returns:
        Figure.
    """
    runs = histories if isinstance(histories, dict) else {"": histories}
    fig, ax = plt.subplots(figsize=(6.5, 3.8), layout="constrained")
    for label, history in runs.items():
        for name in terms or history.losses:
            values = history.losses[name]
            ax.plot(range(1, len(values) + 1), values, lw=1.8,
                    label=" · ".join(s for s in (label, name) if s))
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=12)
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False)
    return fig
