"""Attribution: which input pixels mattered for a prediction.

- `saliency`: the gradient of a class score, its largest absolute value over the colour channels.
- `smoothgrad`: the same map averaged over noisy copies of the image (less speckle).
- `integrated_gradients`: the gradient averaged along the straight path from a baseline to the
  image, times (image - baseline). Its attributions add up to F(image) - F(baseline)
  (completeness). By default the path points grow, where the integral is hardest, until the
  gap is under 1 %; `return_delta=True` returns the gap, `integrated_gradients_report` also the
  number of points.
- `make_baseline`: black, gray, blurred or noise baselines.
- `completeness_gaps`: how far each quadrature rule is from completeness, by number of steps.
- `attribution_map`: one signed value per pixel, ready to draw.

The networks of the axioms are in `nstutils.axioms`, the figures in `nstutils.plot_attribution`.

Every function works on any model that maps a batch ``(N, ...)`` to scores ``(N, K)`` (or
``(N,)``), on the device of its inputs, and evaluates many path points per forward, at most
``batch_size`` at a time.
"""

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .devices import images_per_pass
from .models import FeatureNetwork, class_index
from .transforms import gaussian_blur
from .validate import (ImageArgumentError, check_count, check_image, check_input, check_number,
                       check_target)

METHODS = ("riemann", "trapezoid", "gauss_legendre")
FIRST_STEPS = 33  # the first, even grid of a growing path: alpha = 0, 1/32, ..., 1
BASELINES = ("black", "gray", "blurred", "noise")
Target = int | str | Sequence[int] | torch.Tensor | None


# --- the arguments --------------------------------------------------------------------------

def _check_inputs(model: nn.Module, x: torch.Tensor, target: Target,
                  images: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Check the inputs and targets of an attribution call.

    A `FeatureNetwork` takes images (N, 3, H, W) in [0, 1], on its device; any other model
    takes a float batch (N, ...) of finite values on the device of its parameters.

    Args:
        model: the model attributed.
        x: what the caller passed as inputs.
        target: a class index or name, one per input, or None.
        images: require images (N, C, H, W).

    Returns:
        x (float32) and the (N,) class indices (or None).
    """
    if isinstance(model, FeatureNetwork):
        x = check_image(x, "x", device=model.device)
    else:
        x = check_input(x, "x", *_place_of(model))
        if images and x.dim() != 4:
            raise ImageArgumentError(f"x must be images (N, C, H, W), got shape {tuple(x.shape)}."
                                     + (" Add a batch dimension with x[None]." if x.dim() == 3 else ""))
    return x, check_target(target, x.shape[0], x.device, class_index)


def _place_of(model: nn.Module) -> tuple[torch.device | None, torch.dtype | None]:
    """The device and dtype of a model's parameters; None for a model without any."""
    first = next(model.parameters(), None) if isinstance(model, nn.Module) else None
    return (None, None) if first is None else (first.device, first.dtype)


# --- scores and their gradients -------------------------------------------------------------


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
               batch_size: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The input gradients of the scores of many inputs, ``batch_size`` rows per forward.

    Args:
        model: maps (B, ...) to (B, K) or (B,).
        inputs: (M, ...) points to evaluate.
        target: (M,) class per row, or None.
        batch_size: the most rows per forward and backward; None: `images_per_pass`.

    Returns:
        (M, ...) gradients and the (M,) scores.
    """
    batch_size = (images_per_pass(inputs.device, inputs[0].numel(), 16) if batch_size is None
                  else check_count(batch_size, "batch_size", low=1))
    grads, scores = [], []
    for start in range(0, inputs.shape[0], batch_size):
        chunk = inputs[start:start + batch_size].detach().requires_grad_(True)
        rows = None if target is None else target[start:start + batch_size]
        with torch.enable_grad():
            score = _scores(model, chunk, rows)
            (g,) = torch.autograd.grad(score.sum(), chunk)
        grads.append(g)
        scores.append(score.detach())
    return torch.cat(grads), torch.cat(scores)


def saliency(model: nn.Module, x: torch.Tensor, target: Target = None,
             batch_size: int | None = None) -> torch.Tensor:
    """The saliency map: |dF/dx|, its maximum over the colour channels.

    Args:
        model: a classifier taking (N, 3, H, W) RGB in [0, 1].
        x: (N, 3, H, W) images.
        target: the class index or name (one for all, or one per image); None for a
            single-output model.
        batch_size: the most images per forward; None: four 224 px
            images' worth on a CPU (`images_per_pass`), 16 on a GPU.

    Returns:
        (N, H, W) non-negative map.
    """
    x, targets = _check_inputs(model, x, target, images=True)
    grad, _ = _gradients(model, x, targets, batch_size)
    return grad.abs().amax(dim=1)


def smoothgrad(model: nn.Module, x: torch.Tensor, target: Target = None, samples: int = 25,
               noise: float = 0.15, batch_size: int | None = None, seed: int = 0) -> torch.Tensor:
    """SmoothGrad: the saliency map averaged over copies of x with Gaussian noise added.

    Args:
        model: a classifier taking (N, 3, H, W) RGB in [0, 1].
        x: (N, 3, H, W) images.
        target: the class index (one for all, or one per image).
        samples: noisy copies per image.
        noise: the noise's standard deviation as a fraction of each image's value range.
        batch_size: the most noisy copies per forward; None: four 224 px
            images' worth on a CPU (`images_per_pass`), 16 on a GPU.
        seed: seeds the noise.

    Returns:
        (N, H, W) non-negative map.
    """
    x, targets = _check_inputs(model, x, target, images=True)
    samples = check_count(samples, "samples", low=1)
    noise = check_number(noise, "noise")
    gen = torch.Generator(device="cpu").manual_seed(seed)
    spread = (x.amax(dim=tuple(range(1, x.dim()))) - x.amin(dim=tuple(range(1, x.dim()))))
    eps = torch.randn((samples, *x.shape), generator=gen).to(x.device)
    noisy = (x[None] + noise * spread.view(1, -1, *[1] * (x.dim() - 1)) * eps).flatten(0, 1)
    targets = None if targets is None else targets.repeat(samples)
    grad, _ = _gradients(model, noisy, targets, batch_size)
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
    _check_method(method)
    steps = check_count(steps, f"steps (for {method})", low=2 if method == "trapezoid" else 1)
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


@dataclass(frozen=True)
class IGReport:
    """Integrated gradients with how well they keep completeness.

    Attributes:
        attributions: (N, ...) shaped like x.
        delta: (N,) sum(attributions) - (F(x) - F(x')).
        gap: (N,) the relative gap |delta| / |F(x) - F(x')| (0 where both are 0).
        steps: (N,) gradient evaluations along each input's path.
        method: the quadrature rule.
    """

    attributions: torch.Tensor
    delta: torch.Tensor
    gap: torch.Tensor
    steps: torch.Tensor
    method: str


def integrated_gradients(model: nn.Module, x: torch.Tensor, target: Target = None,
                         baseline: torch.Tensor | str | None = None, steps: int | None = None,
                         method: str | None = None, return_delta: bool = False,
                         batch_size: int | None = None, tolerance: float = 0.01,
                         max_steps: int = 512) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Integrated gradients: (x - x') times the gradient averaged on the path from x' to x.

    IG_i(x) = (x_i - x'_i) * integral over alpha in [0, 1] of dF/dx_i(x' + alpha (x - x')),
    the integral approximated by a quadrature rule (see `path_points`). By default the points
    grow until the attributions add up to F(x) - F(x') within ``tolerance`` (completeness):
    the trapezoid rule, from `FIRST_STEPS` even points, bisecting the intervals where it misses
    F(b) - F(a) the most (the forward passes give F, so that miss is known exactly).

    Args:
        model: maps (N, ...) to scores (N, K), or (N,) / (N, 1) for a single output.
        x: (N, ...) inputs, e.g. images (N, 3, H, W) in [0, 1].
        target: the class index (one for all, or one per input); None for a single output.
        baseline: x' shaped like x, or ``"black"``, ``"gray"``, ``"blurred"``, ``"noise"``;
            None means black (zeros).
        steps: a fixed number of gradient evaluations along the path; None: grow them until
            the gap is under ``tolerance``.
        method: ``"riemann"``, ``"trapezoid"`` or ``"gauss_legendre"``; None: the right Riemann
            sum (the paper's) for a fixed ``steps``, the trapezoid when the steps grow (the only
            rule they grow with).
        return_delta: also return the completeness gap.
        batch_size: the most path points per forward; None: four 224 px
            images' worth on a CPU (`images_per_pass`), 16 on a GPU.
        tolerance: when the steps grow, the largest relative gap |delta| / |F(x) - F(x')|.
        max_steps: when the steps grow, the most gradient evaluations per input (all kept
            until the end: memory up to ``max_steps`` inputs); stopping there above the
            tolerance warns.

    Returns:
        (N, ...) attributions shaped like x; with return_delta also the (N,) gap
        sum(attributions) - (F(x) - F(x')).
    """
    report = integrated_gradients_report(model, x, target, baseline, steps, method, batch_size,
                                         tolerance, max_steps)
    return (report.attributions, report.delta) if return_delta else report.attributions


def integrated_gradients_report(model: nn.Module, x: torch.Tensor, target: Target = None,
                                baseline: torch.Tensor | str | None = None,
                                steps: int | None = None, method: str | None = None,
                                batch_size: int | None = None, tolerance: float = 0.01,
                                max_steps: int = 512) -> IGReport:
    """Integrated gradients with their completeness gap and the gradient evaluations they took.

    Args:
        model, x, target, baseline, steps, method, batch_size, tolerance, max_steps: as for
            `integrated_gradients`.

    Returns:
        IGReport: attributions (N, ...), delta (N,), relative gap (N,), steps (N,), method.
    """
    x, targets = _check_inputs(model, x, target)
    baseline = _baseline(x, baseline)
    if method is not None:
        _check_method(method)
    if steps is not None:
        method = method or "riemann"
        attributions, change = _fixed_path(model, x, baseline, targets, steps, method, batch_size)
        used = torch.full((x.shape[0],), steps, device=x.device)
    elif method not in (None, "trapezoid"):
        raise ValueError(f"Only the trapezoid rule grows its steps: pass steps=<number> to use "
                         f"method={method!r}, or leave method out.")
    else:
        method = "trapezoid"
        tolerance = check_number(tolerance, "tolerance", positive=True)
        max_steps = check_count(max_steps, "max_steps", low=FIRST_STEPS)
        paths = [_grown_path(model, x[i:i + 1], baseline[i:i + 1],
                             None if targets is None else targets[i:i + 1], tolerance,
                             max_steps, batch_size) for i in range(x.shape[0])]
        attributions = torch.cat([a for a, _, _ in paths])
        change = torch.cat([c for _, c, _ in paths])
        used = torch.tensor([n for _, _, n in paths], device=x.device)
    delta = attributions.flatten(1).sum(1) - change
    gap = (delta.abs() / change.abs()).nan_to_num(nan=0.0)
    if steps is None:
        for i in torch.nonzero((gap > tolerance) & (used >= max_steps)).flatten().tolist():
            warnings.warn(
                f"Integrated gradients stopped at max_steps={max_steps} gradient evaluations with "
                f"a completeness gap of {gap[i]:.1%} for input {i} (tolerance {tolerance:.1%}): "
                "its attributions do not add up to F(x) - F(x'). Pass a larger max_steps (time "
                "and memory grow with it) or a larger tolerance.", stacklevel=2)
    return IGReport(attributions, delta, gap, used, method)


def _check_method(method: str) -> None:
    """Refuse a quadrature rule that is not one of `METHODS`."""
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}: use one of {', '.join(METHODS)}.")


def _fixed_path(model: nn.Module, x: torch.Tensor, baseline: torch.Tensor,
                targets: torch.Tensor | None, steps: int, method: str,
                batch_size: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Integrated gradients with a fixed rule and number of steps (see `path_points`).

    Args:
        model: as for `integrated_gradients`.
        x: (N, ...) checked inputs.
        baseline: (N, ...) their baselines.
        targets: (N,) classes, or None.
        steps: gradient evaluations per input.
        method: one of `METHODS`.
        batch_size: the most path points per forward (None: `images_per_pass`).

    Returns:
        (N, ...) attributions and the (N,) change F(x) - F(x').
    """
    alphas, weights = path_points(steps, method)
    alphas, weights = alphas.to(x.device, x.dtype), weights.to(x.device, x.dtype)
    n, rest = x.shape[0], [1] * (x.dim() - 1)
    diff = x - baseline
    # all path points of all inputs, input-major: row i * steps + k is input i at alpha_k
    points = (baseline[:, None] + alphas.view(1, -1, *rest) * diff[:, None]).flatten(0, 1)
    rows = None if targets is None else targets.repeat_interleave(steps)
    grads, _ = _gradients(model, points, rows, batch_size)
    mean_grad = (grads.view(n, steps, *x.shape[1:]) * weights.view(1, -1, *rest)).sum(1)
    with torch.no_grad():
        ends = _scores(model, torch.cat([x, baseline]), None if targets is None
                       else targets.repeat(2))
    return diff * mean_grad, ends[:n] - ends[n:]


def _grown_path(model: nn.Module, x: torch.Tensor, baseline: torch.Tensor,
                target: torch.Tensor | None, tolerance: float, max_steps: int,
                batch_size: int | None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Integrated gradients of one input by the trapezoid rule on a grid refined until complete.

    On an interval [a, b] of the path the trapezoid integrates F's slope to
    (b - a) (s_a + s_b) / 2, where it should give F(b) - F(a); the misses add up to minus the
    completeness gap. Each round bisects the intervals that miss most, as few as make up half
    of the total miss.

    Args:
        model: as for `integrated_gradients`.
        x: (1, ...) one checked input.
        baseline: (1, ...) its baseline.
        target: (1,) its class, or None.
        tolerance: the largest relative gap.
        max_steps: the most gradient evaluations.
        batch_size: the most path points per forward (None: `images_per_pass`).

    Returns:
        (1, ...) attributions, the (1,) change F(x) - F(x'), and the gradient evaluations.
    """
    diff, rest = x - baseline, [1] * (x.dim() - 1)
    new = torch.linspace(0, 1, FIRST_STEPS, dtype=torch.float64)
    alphas, scores, slopes, grads = new[:0], new[:0], new[:0], []   # in the order evaluated
    while True:
        points = baseline + new.to(x.device, x.dtype).view(-1, *rest) * diff
        grad, score = _gradients(model, points,
                                 None if target is None else target.expand(len(new)), batch_size)
        grads.append(grad)
        alphas = torch.cat([alphas, new])
        scores = torch.cat([scores, score.cpu().double()])
        slopes = torch.cat([slopes, (grad * diff).flatten(1).sum(1).cpu().double()])
        order = torch.argsort(alphas)   # the grid, sorted: a, F(a), F's slope along the path
        a, f, s = alphas[order], scores[order], slopes[order]
        miss = f.diff() - a.diff() * (s[1:] + s[:-1]) / 2
        gap = (miss.sum().abs() / (f[-1] - f[0]).abs()).nan_to_num(nan=0.0)
        if gap <= tolerance or len(a) >= max_steps:
            break
        worst = torch.argsort(miss.abs(), descending=True)
        share = miss.abs()[worst].cumsum(0)
        count = min(int(torch.searchsorted(share, 0.5 * share[-1])) + 1, max_steps - len(a))
        new = (a[worst[:count]] + a[worst[:count] + 1]) / 2
    weights = torch.zeros_like(a)
    weights[1:] += a.diff() / 2
    weights[:-1] += a.diff() / 2
    weights = weights[torch.argsort(order)].to(x.device, x.dtype)   # back to the order evaluated
    mean_grad = sum((w.view(-1, *rest) * g).sum(0, keepdim=True)
                    for w, g in zip(weights.split([len(g) for g in grads]), grads))
    change = (f[-1] - f[0]).to(x.device, x.dtype).view(1)
    return diff * mean_grad, change, len(a)


def _baseline(x: torch.Tensor, baseline: torch.Tensor | np.ndarray | str | None) -> torch.Tensor:
    """The baseline x' for checked inputs x: a named kind, or a tensor or array shaped like x."""
    if baseline is None or isinstance(baseline, str):
        return make_baseline(x, baseline or "black")
    if isinstance(baseline, np.ndarray):
        baseline = torch.from_numpy(baseline).to(x.device, x.dtype)
    if not isinstance(baseline, torch.Tensor) or tuple(baseline.shape) != tuple(x.shape):
        got = tuple(baseline.shape) if hasattr(baseline, "shape") else type(baseline).__name__
        raise ImageArgumentError(f"The baseline must be a tensor shaped like x {tuple(x.shape)}, "
                                 f"got {got}: use make_baseline(x, 'black') or a named kind.")
    baseline = check_input(baseline, "baseline", x.device, x.dtype)
    return baseline


def completeness_gaps(model: nn.Module, x: torch.Tensor, target: Target = None,
                      baseline: torch.Tensor | str | None = None,
                      steps: Sequence[int] = (8, 16, 32, 64, 128),
                      methods: Sequence[str] = METHODS, batch_size: int | None = None
                      ) -> dict[str, dict[int, float]]:
    """How far each rule is from completeness, at each number of steps.

    Args:
        model: as for `integrated_gradients`.
        x: (1, ...) one input.
        target: the class index (None for a single output).
        baseline: as for `integrated_gradients`.
        steps: the numbers of steps to try.
        methods: the rules to try.
        batch_size: the most path points per forward; None: four 224 px
            images' worth on a CPU (`images_per_pass`), 16 on a GPU.

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


# --- display --------------------------------------------------------------------------------

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
