"""Attribution: which input pixels mattered for a prediction.

- `saliency`: the gradient of a class score, its largest absolute value over the colour channels.
- `smoothgrad`: the same map averaged over noisy copies of the image (less speckle).
- `integrated_gradients`: the gradient averaged along the straight path from a baseline to the
  image, times (image - baseline). Its attributions add up to F(image) - F(baseline)
  (completeness), which `return_delta=True` checks numerically.
- `make_baseline`: black, gray, blurred or noise baselines.
- Small networks you can read by eye, one per axiom of Sundararajan et al. (2017).
- `plot_attributions`: overlays on the photo with a diverging colormap and a colorbar;
  `plot_completeness`: the completeness gap against the number of steps.

Every function works on any model that maps a batch ``(N, ...)`` to scores ``(N, K)`` (or
``(N,)``), on the device of its inputs, and evaluates many path points per forward, at most
``batch_size`` at a time.
"""

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator
from torch import nn

from .images import to_numpy
from .plot import style_axes
from .transforms import gaussian_blur

METHODS = ("riemann", "trapezoid", "gauss_legendre")
BASELINES = ("black", "gray", "blurred", "noise")
Target = int | Sequence[int] | torch.Tensor | None


# --- scores and their gradients -------------------------------------------------------------

def _targets(target: Target, n: int, device: torch.device) -> torch.Tensor | None:
    """One class index per input row, or None for a model with a single output."""
    if target is None:
        return None
    if isinstance(target, (int, np.integer)):
        return torch.full((n,), int(target), dtype=torch.long, device=device)
    t = torch.as_tensor(target, dtype=torch.long, device=device).reshape(-1)
    if t.numel() != n:
        raise ValueError(f"Got {t.numel()} targets for {n} inputs: give one class index, or one "
                         "per input.")
    return t


def _scores(model: nn.Module, x: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
    """The score F(x) of each row: the target's output, or the single output. Shape (N,)."""
    out = model(x)
    if out.dim() == 1:
        out = out[:, None]
    if target is None:
        if out.shape[1] != 1:
            raise ValueError(f"The model has {out.shape[1]} outputs: pass target=<class index> "
                             "(e.g. nstutils.class_index('tabby')).")
        return out[:, 0]
    if int(target.max()) >= out.shape[1] or int(target.min()) < 0:
        raise ValueError(f"target must be between 0 and {out.shape[1] - 1}, got "
                         f"{target.tolist()}.")
    return out.gather(1, target[:, None])[:, 0]


def _gradients(model: nn.Module, inputs: torch.Tensor, target: torch.Tensor | None,
               batch_size: int) -> torch.Tensor:
    """The input gradients of the scores of many inputs, ``batch_size`` rows per forward.

    Args:
        model: maps (B, ...) to (B, K) or (B,).
        inputs: (M, ...) points to evaluate.
        target: (M,) class per row, or None.
        batch_size: the most rows per forward and backward.

    Returns:
        (M, ...) gradients.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be 1 or more, got {batch_size}.")
    grads = []
    for start in range(0, inputs.shape[0], batch_size):
        chunk = inputs[start:start + batch_size].detach().requires_grad_(True)
        rows = None if target is None else target[start:start + batch_size]
        with torch.enable_grad():
            (g,) = torch.autograd.grad(_scores(model, chunk, rows).sum(), chunk)
        grads.append(g)
    return torch.cat(grads)


def _check_input(x: torch.Tensor, images: bool = False) -> None:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError("Expected a float tensor (N, ...), e.g. an image (N, 3, H, W) in [0, 1].")
    if x.dim() < 2 or (images and x.dim() != 4):
        fix = " Add a batch dimension with x[None]." if x.dim() in (1, 3) else ""
        raise ValueError(f"Expected {'images (N, C, H, W)' if images else 'a batch (N, ...)'}, "
                         f"got shape {tuple(x.shape)}.{fix}")


def saliency(model: nn.Module, x: torch.Tensor, target: Target = None,
             batch_size: int = 16) -> torch.Tensor:
    """The saliency map: |dF/dx|, its maximum over the colour channels.

    Args:
        model: a classifier taking (N, 3, H, W) RGB in [0, 1].
        x: (N, 3, H, W) images.
        target: the class index (one for all, or one per image); None for a single-output model.
        batch_size: the most images per forward.

    Returns:
        (N, H, W) non-negative map.
    """
    _check_input(x, images=True)
    grad = _gradients(model, x, _targets(target, x.shape[0], x.device), batch_size)
    return grad.abs().amax(dim=1)


def smoothgrad(model: nn.Module, x: torch.Tensor, target: Target = None, samples: int = 25,
               noise: float = 0.15, batch_size: int = 16, seed: int = 0) -> torch.Tensor:
    """SmoothGrad: the saliency map averaged over copies of x with Gaussian noise added.

    Args:
        model: a classifier taking (N, 3, H, W) RGB in [0, 1].
        x: (N, 3, H, W) images.
        target: the class index (one for all, or one per image).
        samples: noisy copies per image.
        noise: the noise's standard deviation as a fraction of each image's value range.
        batch_size: the most noisy copies per forward.
        seed: seeds the noise.

    Returns:
        (N, H, W) non-negative map.
    """
    _check_input(x, images=True)
    if samples < 1 or noise < 0:
        raise ValueError(f"Need samples >= 1 and noise >= 0, got {samples} and {noise}.")
    gen = torch.Generator(device="cpu").manual_seed(seed)
    spread = (x.amax(dim=tuple(range(1, x.dim()))) - x.amin(dim=tuple(range(1, x.dim()))))
    eps = torch.randn((samples, *x.shape), generator=gen).to(x.device)
    noisy = (x[None] + noise * spread.view(1, -1, *[1] * (x.dim() - 1)) * eps).flatten(0, 1)
    targets = _targets(target, x.shape[0], x.device)
    targets = None if targets is None else targets.repeat(samples)
    grad = _gradients(model, noisy, targets, batch_size)
    return grad.abs().amax(dim=1).view(samples, x.shape[0], *x.shape[2:]).mean(0)


# --- integrated gradients -------------------------------------------------------------------

def path_points(steps: int, method: str = "riemann") -> tuple[torch.Tensor, torch.Tensor]:
    """Where a quadrature rule evaluates the gradient on the path, and the weight of each point.

    Args:
        steps: the number of gradient evaluations.
        method: ``"riemann"`` (right Riemann sum, alpha = k/m as in the paper), ``"trapezoid"``
            (alpha = 0 ... 1 evenly, half weight at the ends) or ``"gauss_legendre"``.

    Returns:
        (steps,) alphas in [0, 1] and (steps,) weights summing to 1 (float64).
    """
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}: use one of {', '.join(METHODS)}.")
    if steps < (2 if method == "trapezoid" else 1):
        raise ValueError(f"steps must be at least {2 if method == 'trapezoid' else 1} for "
                         f"{method}, got {steps}.")
    if method == "riemann":
        alphas = torch.arange(1, steps + 1, dtype=torch.float64) / steps
        weights = torch.full((steps,), 1 / steps, dtype=torch.float64)
    elif method == "trapezoid":
        alphas = torch.linspace(0, 1, steps, dtype=torch.float64)
        weights = torch.full((steps,), 1 / (steps - 1), dtype=torch.float64)
        weights[[0, -1]] /= 2
    else:
        nodes, w = np.polynomial.legendre.leggauss(steps)
        alphas, weights = torch.from_numpy((nodes + 1) / 2), torch.from_numpy(w / 2)
    return alphas, weights


def make_baseline(x: torch.Tensor, kind: str = "black", sigma: float | None = None,
                  seed: int = 0) -> torch.Tensor:
    """A baseline image: the "absence of signal" that integrated gradients starts from.

    Args:
        x: (N, 3, H, W) images in [0, 1].
        kind: ``"black"`` (zeros), ``"gray"`` (0.5), ``"blurred"`` (x under a Gaussian blur),
            or ``"noise"`` (uniform noise in [0, 1]).
        sigma: the blur's standard deviation in pixels (a twentieth of the longer side if None).
        seed: seeds the noise.

    Returns:
        (N, 3, H, W) baseline on x's device.
    """
    if kind == "black":
        return torch.zeros_like(x)
    if kind == "gray":
        return torch.full_like(x, 0.5)
    if kind == "noise":
        gen = torch.Generator(device="cpu").manual_seed(seed)
        return torch.rand(x.shape, generator=gen, dtype=x.dtype).to(x.device)
    if kind == "blurred":
        if x.dim() != 4:
            raise ValueError("A blurred baseline needs images (N, C, H, W).")
        sigma = sigma if sigma is not None else max(x.shape[-2:]) / 20
        return gaussian_blur(x, sigma)
    raise ValueError(f"Unknown baseline {kind!r}: use one of {', '.join(BASELINES)}, or pass a "
                     "tensor shaped like x.")


def integrated_gradients(model: nn.Module, x: torch.Tensor, target: Target = None,
                         baseline: torch.Tensor | str | None = None, steps: int = 50,
                         method: str = "riemann", return_delta: bool = False,
                         batch_size: int = 16) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Integrated gradients: (x - x') times the gradient averaged on the path from x' to x.

    IG_i(x) = (x_i - x'_i) * integral over alpha in [0, 1] of dF/dx_i(x' + alpha (x - x')),
    the integral approximated by a quadrature rule (see `path_points`).

    Args:
        model: maps (N, ...) to scores (N, K), or (N,) / (N, 1) for a single output.
        x: (N, ...) inputs, e.g. images (N, 3, H, W) in [0, 1].
        target: the class index (one for all, or one per input); None for a single output.
        baseline: x' shaped like x, or ``"black"``, ``"gray"``, ``"blurred"``, ``"noise"``;
            None means black (zeros).
        steps: gradient evaluations along the path.
        method: ``"riemann"``, ``"trapezoid"`` or ``"gauss_legendre"``.
        return_delta: also return the completeness gap.
        batch_size: the most path points per forward (caps the memory).

    Returns:
        (N, ...) attributions shaped like x; with return_delta also the (N,) gap
        sum(attributions) - (F(x) - F(x')).
    """
    _check_input(x)
    if baseline is None or isinstance(baseline, str):
        baseline = make_baseline(x, baseline or "black")
    if not isinstance(baseline, torch.Tensor) or baseline.shape != x.shape:
        raise ValueError(f"The baseline must be shaped like x {tuple(x.shape)}, got "
                         f"{getattr(baseline, 'shape', type(baseline).__name__)}.")
    alphas, weights = path_points(steps, method)
    alphas, weights = alphas.to(x.device, x.dtype), weights.to(x.device, x.dtype)
    n, rest = x.shape[0], [1] * (x.dim() - 1)
    targets = _targets(target, n, x.device)
    diff = x - baseline
    # all path points of all inputs, input-major: row i * steps + k is input i at alpha_k
    points = (baseline[:, None] + alphas.view(1, -1, *rest) * diff[:, None]).flatten(0, 1)
    rows = None if targets is None else targets.repeat_interleave(steps)
    grads = _gradients(model, points, rows, batch_size)
    mean_grad = (grads.view(n, steps, *x.shape[1:]) * weights.view(1, -1, *rest)).sum(1)
    attributions = diff * mean_grad
    if not return_delta:
        return attributions
    with torch.no_grad():
        ends = _scores(model, torch.cat([x, baseline]), None if targets is None
                       else targets.repeat(2))
    delta = attributions.flatten(1).sum(1) - (ends[:n] - ends[n:])
    return attributions, delta


def completeness_gaps(model: nn.Module, x: torch.Tensor, target: Target = None,
                      baseline: torch.Tensor | str | None = None,
                      steps: Sequence[int] = (8, 16, 32, 64, 128),
                      methods: Sequence[str] = METHODS, batch_size: int = 16
                      ) -> dict[str, dict[int, float]]:
    """How far each rule is from completeness, at each number of steps.

    Args:
        model: as for `integrated_gradients`.
        x: (1, ...) one input.
        target: the class index (None for a single output).
        baseline: as for `integrated_gradients`.
        steps: the numbers of steps to try.
        methods: the rules to try.
        batch_size: the most path points per forward.

    Returns:
        dict: rule -> {steps: |sum(attributions) - (F(x) - F(x'))| / |F(x) - F(x')|}.
    """
    if x.shape[0] != 1:
        raise ValueError(f"completeness_gaps takes one input, got a batch of {x.shape[0]}.")
    gaps: dict[str, dict[int, float]] = {}
    for method in methods:
        gaps[method] = {}
        for n in steps:
            a, delta = integrated_gradients(model, x, target, baseline, n, method, True,
                                            batch_size)
            gaps[method][n] = abs(float(delta[0])) / abs(float(a.sum() - delta[0]))
    return gaps


# --- small networks for the axioms ----------------------------------------------------------

def _linear(weight: list[list[float]], bias: list[float]) -> nn.Linear:
    layer = nn.Linear(len(weight[0]), len(weight))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
        layer.bias.copy_(torch.tensor(bias))
    return layer


def _frozen(net: nn.Module) -> nn.Module:
    return net.requires_grad_(False).eval()


def saturating_network() -> nn.Module:
    """f(x) = 1 - ReLU(1 - x): flat (zero gradient) for x >= 1, yet f(2) - f(0) = 1.

    The sensitivity axiom: x = 2 and the baseline 0 differ in one feature and get different
    outputs, so that feature must get a non-zero attribution. The plain gradient gives 0.

    Returns:
        nn.Module: (N, 1) -> (N, 1).
    """
    return _frozen(nn.Sequential(_linear([[-1.0]], [1.0]), nn.ReLU(), _linear([[-1.0]], [1.0])))


def relu_network() -> nn.Module:
    """Three layers with ReLU: f(x) = 2 sigmoid(z) - 1 with z = x1 - 2 x2 + 0.5.

    The middle layer computes z as ReLU(z) - ReLU(-z), so it has a ReLU layer the sigmoid
    network does not have, yet it computes the very same function.

    Returns:
        nn.Module: (N, 2) -> (N, 1).
    """
    return _frozen(nn.Sequential(
        _linear([[1.0, -2.0], [-1.0, 2.0]], [0.5, -0.5]), nn.ReLU(),   # [ReLU(z), ReLU(-z)]
        _linear([[1.0, -1.0]], [0.0]), nn.Sigmoid(),                   # sigmoid(z)
        _linear([[2.0]], [-1.0])))                                     # 2 sigmoid(z) - 1


def sigmoid_network() -> nn.Module:
    """Two layers with a sigmoid: f(x) = 2 sigmoid(x1 - 2 x2 + 0.5) - 1, like `relu_network`.

    Returns:
        nn.Module: (N, 2) -> (N, 1).
    """
    return _frozen(nn.Sequential(_linear([[1.0, -2.0]], [0.5]), nn.Sigmoid(),
                                 _linear([[2.0]], [-1.0])))


def symmetric_network() -> nn.Module:
    """f(x) = ReLU(x1 + x2 - 1) + 0.5 ReLU(x3): swapping x1 and x2 never changes the output.

    Symmetry preservation: when x1 = x2 and the baseline's x1' = x2', the two symmetric features
    must get equal attributions.

    Returns:
        nn.Module: (N, 3) -> (N, 1).
    """
    return _frozen(nn.Sequential(_linear([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]], [-1.0, 0.0]),
                                 nn.ReLU(), _linear([[1.0, 0.5]], [0.0])))


# --- figures --------------------------------------------------------------------------------

def attribution_map(attributions: torch.Tensor) -> torch.Tensor:
    """Reduce attributions to one value per pixel: the sum over colour channels.

    Args:
        attributions: (1, 3, H, W), (1, H, W) or (H, W).

    Returns:
        (H, W) signed map.
    """
    a = attributions.detach()
    if a.dim() == 4:
        a = a.sum(1)
    if a.dim() == 3:
        if a.shape[0] != 1:
            raise ValueError(f"Expected one map, got a batch of {a.shape[0]}: index it.")
        a = a[0]
    return a


def plot_attributions(image: torch.Tensor, attributions: dict[str, torch.Tensor],
                      alpha: float = 0.85, percentile: float = 99.5, ncols: int | None = None,
                      size: float = 3.4, show_input: bool = True,
                      suptitle: str | None = None) -> Figure:
    """Overlay attribution maps on a photo, each with its colorbar.

    Signed maps use a diverging colormap centred on zero (red: pushes the score up, blue:
    pushes it down); maps that are never negative (saliency) use the red half only. Each map is
    drawn over a grey copy of the photo, and a pixel's colour is more opaque the larger its
    value, so the photo shows through where the attribution is small. The colour range is
    clipped at a high percentile of |value| so a few extreme pixels do not wash the map out.

    Args:
        image: (1, 3, H, W) in [0, 1].
        attributions: title -> (1, 3, H, W) attributions or (1, H, W) / (H, W) maps.
        alpha: the opacity of the strongest colours.
        percentile: where to clip |value| for the colour range.
        ncols: panels per row (all in one row, at most 4, when None).
        size: the height of a panel in inches.
        show_input: draw the photo itself in the first panel.
        suptitle: a title over the figure.

    Returns:
        Figure.
    """
    photo = to_numpy(image).astype(np.float32) / 255
    grey = np.repeat(photo.mean(2, keepdims=True), 3, axis=2) * 0.7 + 0.15
    n = len(attributions) + show_input
    ncols = ncols or min(n, 4)
    nrows = -(-n // ncols)
    aspect = photo.shape[1] / photo.shape[0]
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, layout="constrained",
                             figsize=(size * aspect * ncols * 1.2, size * nrows + 0.5))
    for ax in axes.flat:
        ax.axis("off")
    if show_input:
        axes.flat[0].imshow(photo)
        axes.flat[0].set_title("input", fontsize=11)
    for ax, (title, values) in zip(axes.flat[int(show_input):], attributions.items()):
        a = attribution_map(values).float().cpu().numpy()
        if a.shape != photo.shape[:2]:
            raise ValueError(f"The map {title!r} is {a.shape}, the image {photo.shape[:2]}.")
        limit = float(np.percentile(np.abs(a), percentile)) or 1.0
        signed = bool((a < 0).any())
        cmap = plt.get_cmap("RdBu_r" if signed else "Reds")
        norm = plt.Normalize(-limit if signed else 0.0, limit)
        rgba = cmap(norm(a))
        rgba[..., 3] = alpha * np.clip(np.abs(a) / limit, 0, 1) ** 0.5
        ax.imshow(grey)
        ax.imshow(rgba)
        ax.set_title(title, fontsize=11)
        fig.colorbar(plt.cm.ScalarMappable(norm, cmap), ax=ax, shrink=0.8, pad=0.02)
    if suptitle:
        fig.suptitle(suptitle, fontsize=13, fontweight="bold")
    return fig


def plot_completeness(panels: dict[str, dict[str, dict[int, float]]],
                      title: str = "Completeness gap of integrated gradients") -> Figure:
    """Plot the relative completeness gap against the number of steps, one line per rule.

    Args:
        panels: panel title -> rule name -> {steps: gap}, gaps as from `completeness_gaps`
            (fractions of |F(x) - F(x')|); gaps below float32 round-off (1e-7) are drawn at 1e-7.
        title: the title over the figure.

    Returns:
        Figure: one log-log panel per entry, with the 1 % line.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels) + 1.6, 4),
                             squeeze=False, layout="constrained")
    for ax, (panel, gaps) in zip(axes[0], panels.items()):
        for (name, by_steps), marker in zip(gaps.items(), "osD^v"):
            steps = sorted(by_steps)
            ax.plot(steps, [100 * max(by_steps[s], 1e-7) for s in steps], marker=marker, lw=1.8,
                    label=name)
        ax.axhline(1.0, color="grey", ls="--", lw=1, label="1 %")
        ax.set_xscale("log", base=2)
        ax.set_xticks(steps, [str(n) for n in steps])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_yscale("log")
        style_axes(ax, panel, xlabel="steps (gradient evaluations on the path)",
                   ylabel="gap, % of |F(x) - F(baseline)|")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right center",
               frameon=False)
    fig.suptitle(title, fontsize=13, fontweight="bold")
    return fig
