"""The inputs and reference answers behind the exercises' visible and hidden checks.

Visible checks (`CASES`) use fixed seeded inputs: ``python -m nstutils.checks`` evaluates each
with the package's own function and stores the results in ``references.json``, and
`nstutils.checks.check` compares a student's function with them. Hidden checks (`HIDDEN`) draw
their inputs at grading time from a seed the grader chooses, so their values cannot be known in
advance; the package's function answers them then.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch

from .attribution import integrated_gradients
from .axioms import relu_network, saturating_network, sigmoid_network
from .color import with_chroma_of
from .dream import carry_detail, octave_sizes
from .losses import content_loss, gram_matrix, mean_std, mean_std_loss, style_loss
from .transforms import Jitter, L2Decay, gaussian_blur


@dataclass(frozen=True)
class Case:
    """One check: seeded inputs, the package function that answers it, and a tolerance.

    ``uses`` maps the names of the student's other functions that this one may call to the
    package's versions: the check swaps them in while it runs, so it tests one function only.
    ``accept``, where an exercise has more than one right answer, judges the results by their
    properties instead of comparing them with ``reference``: it takes the inputs of every case
    and the student's results (float64), and returns what is wrong, or None.
    """

    inputs: Callable[[], tuple]
    reference: Callable[..., torch.Tensor]
    rtol: float = 1e-4
    hint: str = ""
    uses: Mapping[str, Callable] = field(default_factory=dict)
    accept: Callable[[list[tuple], list[torch.Tensor]], str | None] | None = None


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _gram(features: torch.Tensor) -> torch.Tensor:
    """The Gram matrix divided by H*W, as exercise 1 asks for it."""
    return gram_matrix(features, "hw")


def _activations() -> tuple:
    """Two images' activations at one layer: (2, 4, 5, 6) ReLU-like values."""
    return (torch.rand(2, 4, 5, 6, generator=_generator(1)),)


def _layer_inputs(seed: int, statistic: Callable[[torch.Tensor], torch.Tensor]):
    """Fixed (features, style targets by ``statistic``, weights) over two layers."""
    def inputs() -> tuple:
        g = _generator(seed)
        features = {"a": torch.rand(2, 3, 4, 4, generator=g),
                    "b": torch.rand(2, 5, 2, 3, generator=g)}
        targets = {"a": statistic(torch.rand(1, 3, 6, 6, generator=g)),
                   "b": statistic(torch.rand(1, 5, 3, 3, generator=g))}
        return features, targets, {"a": 0.25, "b": 0.75}
    return inputs


def _content_inputs() -> tuple:
    g = _generator(3)
    return torch.rand(2, 3, 4, 5, generator=g), torch.rand(1, 3, 4, 5, generator=g)


def _color_inputs() -> tuple:
    g = _generator(4)
    return torch.rand(1, 3, 6, 8, generator=g), torch.rand(1, 3, 6, 8, generator=g)


def _jitter_inputs() -> tuple:
    image = torch.arange(2 * 3 * 7 * 9, dtype=torch.float32).reshape(2, 3, 7, 9)
    return image, 3, _generator(5)


def _image_inputs(strength: float):
    return lambda: (torch.rand(2, 3, 11, 13, generator=_generator(6)), strength)


def _ig_inputs() -> tuple:
    x = torch.tensor([[1.5, -0.5], [0.2, 0.9], [-1.0, 0.3]])
    return relu_network(), x, torch.zeros_like(x), 10


def _detail_inputs() -> tuple:
    g = _generator(7)
    base = torch.rand(1, 3, 5, 7, generator=g)
    dreamed = (base + 0.2 * torch.randn(1, 3, 5, 7, generator=g)).clamp(0, 1)
    return dreamed, base, torch.rand(1, 3, 7, 10, generator=g)


def _accept_shifts(inputs: list[tuple], results: list[torch.Tensor]) -> str | None:
    """Jitter: each result is the image rolled by (dy, dx) within +-pixels, and over many draws
    of 1 pixel the shifts reach both ends in both directions (the order of the draws is free)."""
    reached: dict[int, list[tuple[int, int]]] = {}
    for (image, pixels, _), result in zip(inputs, results):
        image = image.double()
        shifts = [(dy, dx) for dy in range(-pixels, pixels + 1) for dx in range(-pixels, pixels + 1)
                  if result.shape == image.shape
                  and torch.equal(torch.roll(image, (dy, dx), (-2, -1)), result)]
        if not shifts:
            return (f"your result is not the image shifted cyclically by at most {pixels} pixels "
                    "in each direction (torch.roll along the last two dimensions)")
        reached.setdefault(pixels, []).append(shifts[0])
    seen = reached.get(1, [])
    if len(seen) >= 24:   # a right jitter misses an end of 32 draws once in ~100 000 gradings
        for axis, name in ((0, "dy"), (1, "dx")):
            missing = {-1, 1} - {shift[axis] for shift in seen}
            if missing:
                return (f"in {len(seen)} draws with pixels=1, {name} was never {missing.pop():+d}: "
                        "draw each shift from -pixels to +pixels, both ends included")
    return None


def _accept_integral(inputs: list[tuple], results: list[torch.Tensor]) -> str | None:
    """Integrated gradients: as close to the integral as a left or right Riemann sum of the same
    steps (so any Riemann rule, the midpoint or the trapezoid rule passes)."""
    for index, ((model, x, base, steps), result) in enumerate(zip(inputs, results)):
        exact = integrated_gradients(model, x, baseline=base, steps=256, method="gauss_legendre")
        right = integrated_gradients(model, x, baseline=base, steps=steps, method="riemann")
        at_x, at_base = (_input_gradient(model, p) for p in (x, base))
        left = right - (x - base) * (at_x - at_base) / steps   # the sum over alpha = (k - 1) / m
        worst = float(torch.maximum((left - exact).abs(), (right - exact).abs()).max())
        tolerance = 1.5 * worst + 1e-6 * float(exact.abs().max()) + 1e-9
        if result.shape != exact.shape:
            return f"case {index + 1}: your result has shape {tuple(result.shape)}, not {tuple(x.shape)}"
        error = float((result - exact.double()).abs().max())
        if error > tolerance:
            return (f"case {index + 1}: your attributions are {error:.3g} away from the integral, "
                    f"where a Riemann sum of {steps} steps gets within {worst:.3g}: check the "
                    "points alpha, the average of the gradients and the factor (x - x')")
    return None


def _input_gradient(model, points: torch.Tensor) -> torch.Tensor:
    """dF/dx at each row of ``points`` (N, D) for a model with one output per row."""
    with torch.enable_grad():
        p = points.detach().clone().requires_grad_(True)
        return torch.autograd.grad(model(p).sum(), p)[0]


CASES: dict[str, Case] = {
    "gram_matrix": Case(_activations, _gram,
                        hint="Flatten to V of shape (N, C, H*W), compute V V^T, divide by H*W."),
    "style_loss": Case(_layer_inputs(2, gram_matrix), style_loss,
                       hint="E_l = sum over (i, j) of (G_ij - A_ij)^2, then sum w_l E_l.",
                       uses={"my_gram_matrix": _gram}),
    "content_loss": Case(_content_inputs, lambda f, p: 0.5 * content_loss(f, p, "sum"),
                         hint="One value per image: 1/2 times the sum over C, H, W."),
    "jitter": Case(_jitter_inputs, lambda image, pixels, gen: Jitter(pixels)(image, gen),
                   hint="Draw dy and dx, each with torch.randint(-pixels, pixels + 1, (), "
                        "generator=generator), then torch.roll the last two dimensions.",
                   accept=_accept_shifts),
    "blur": Case(_image_inputs(1.5), gaussian_blur, rtol=1e-3,
                 hint="Kernel radius ceil(2 sigma), normalized to sum 1, reflect padding."),
    "l2_decay": Case(_image_inputs(2.0), lambda image, weight: L2Decay(weight)(image),
                     hint="weight * mean((image - 0.5)^2): one number."),
    "integrated_gradients": Case(
        _ig_inputs, lambda model, x, base, steps: integrated_gradients(
            model, x, baseline=base, steps=steps, method="riemann"),
        hint="Average the gradients at alpha = k / steps for k = 1 ... steps (or another "
             "Riemann rule); multiply by (x - x').", accept=_accept_integral),
    "carry_detail": Case(_detail_inputs, carry_detail, rtol=1e-3,
                         hint="Upsample dreamed - base (it can be negative) to next_base's size."),
    "keep_colors": Case(_color_inputs, with_chroma_of, rtol=1e-3,
                        hint="Y from the stylized image, Cb and Cr from the photo."),
    "mean_std": Case(_activations, mean_std,
                     hint="Mean over H*W; population variance (divide by H*W); sqrt(var + 1e-5)."),
    "mean_std_loss": Case(_layer_inputs(8, mean_std), mean_std_loss,
                          hint="E_l = sum over channels of (mu - mu_t)^2 + (sigma - sigma_t)^2, "
                               "then sum w_l E_l.", uses={"my_mean_std": mean_std}),
}


@dataclass(frozen=True)
class HiddenCase:
    """One hidden check: how to draw its inputs, the package function that answers, a tolerance.

    ``draw(generator, index)`` returns the inputs of case ``index`` (0 ... ``cases`` - 1); the same
    generator state always gives the same inputs, in the kernel and in the grader. ``solved_by``
    names the package functions that solve the exercise outright: the grader points out a
    solution that calls one. ``uses`` and ``accept`` are as for `Case`.
    """

    draw: Callable[[torch.Generator, int], tuple]
    reference: Callable[..., object]
    solved_by: tuple[str, ...]
    cases: int = 4
    rtol: float = 1e-4
    uses: Mapping[str, Callable] = field(default_factory=dict)
    accept: Callable[[list[tuple], list[torch.Tensor]], str | None] | None = None


def _int(g: torch.Generator, low: int, high: int) -> int:
    """A random integer in [low, high]."""
    return int(torch.randint(low, high + 1, (), generator=g))


def _shape(g: torch.Generator, channels: int | None = None, side: tuple[int, int] = (2, 7),
           batch: tuple[int, int] = (1, 3)) -> tuple[int, int, int, int]:
    """A random (N, C, H, W); C fixed when given."""
    c = channels if channels is not None else _int(g, 2, 6)
    return _int(g, *batch), c, _int(g, *side), _int(g, *side)


def _draw_layers(statistic: Callable[[torch.Tensor], torch.Tensor]):
    """Draws (features, style targets, weights) over 2 or 3 layers, targets by ``statistic``."""
    def draw(g: torch.Generator, i: int) -> tuple:
        n, layers = _int(g, 1, 3), ("a", "b", "c")[: 2 + i % 2]
        channels = {name: _int(g, 2, 5) for name in layers}
        features = {name: torch.rand(n, c, _int(g, 2, 5), _int(g, 2, 5), generator=g)
                    for name, c in channels.items()}
        targets = {name: statistic(torch.rand(1, c, _int(g, 2, 5), _int(g, 2, 5), generator=g))
                   for name, c in channels.items()}
        return features, targets, {name: float(torch.rand((), generator=g)) + 0.1 for name in layers}
    return draw


def _draw_pair(g: torch.Generator, i: int) -> tuple:
    n, c, h, w = _shape(g)
    return torch.rand(n, c, h, w, generator=g), torch.rand(1, c, h, w, generator=g)


JITTER_CASES = 41  # 1 without shift, 32 of 1 pixel (enough to see both ends), 8 of 2 pixels


def _draw_jitter(g: torch.Generator, i: int) -> tuple:
    """Case 0: pixels 0; cases 1-32: pixels 1; then pixels 2; small random images."""
    image = torch.rand(1, _int(g, 1, 2), _int(g, 4, 6), _int(g, 4, 6), generator=g)
    pixels = 0 if i == 0 else 1 if i <= 32 else 2
    return image, pixels, torch.Generator().manual_seed(_int(g, 0, 2 ** 30))


def _draw_image(low: float, high: float):
    def draw(g: torch.Generator, i: int) -> tuple:
        image = torch.rand(*_shape(g, side=(9, 16)), generator=g)
        return image, round(low + (high - low) * float(torch.rand((), generator=g)), 3)
    return draw


def _draw_ig(g: torch.Generator, i: int) -> tuple:
    n = _int(g, 1, 4)
    x = 4 * torch.rand(n, 2, generator=g) - 2
    baseline = torch.zeros(n, 2) if i % 2 else torch.rand(n, 2, generator=g) - 0.5
    return (sigmoid_network() if i % 2 else relu_network()), x, baseline, _int(g, 3, 12)


def _draw_gap(g: torch.Generator, i: int) -> tuple:
    n = _int(g, 1, 4)
    x, baseline = 3 * torch.rand(n, 1, generator=g), torch.rand(n, 1, generator=g) - 0.5
    return saturating_network(), x, baseline, 2 * torch.rand(n, 1, generator=g) - 1


def _gap(model, x: torch.Tensor, baseline: torch.Tensor, attributions: torch.Tensor) -> torch.Tensor:
    return attributions.flatten(1).sum(1) - (model(x) - model(baseline)).reshape(-1)


def _draw_octaves(g: torch.Generator, i: int) -> tuple:
    scale = round(1.2 + 0.8 * float(torch.rand((), generator=g)), 2)
    return _int(g, 40, 500), _int(g, 40, 500), 1 + i % 5, scale


def _draw_detail(g: torch.Generator, i: int) -> tuple:
    h, w = _int(g, 3, 8), _int(g, 3, 8)
    base = torch.rand(1, 3, h, w, generator=g)
    dreamed = (base + 0.3 * torch.randn(1, 3, h, w, generator=g)).clamp(0, 1)
    return dreamed, base, torch.rand(1, 3, h + _int(g, 1, 6), w + _int(g, 1, 6), generator=g)


def _draw_colors(g: torch.Generator, i: int) -> tuple:
    n, _, h, w = _shape(g, 3)
    return (0.25 + 0.5 * torch.rand(n, 3, h, w, generator=g),
            0.25 + 0.5 * torch.rand(n, 3, h, w, generator=g))


HIDDEN: dict[str, HiddenCase] = {
    "gram_matrix": HiddenCase(lambda g, i: (torch.rand(*_shape(g), generator=g),),
                              _gram, ("gram_matrix",)),
    "style_loss": HiddenCase(_draw_layers(gram_matrix), style_loss, ("style_loss", "layer_style_loss"),
                             uses={"my_gram_matrix": _gram}),
    "content_loss": HiddenCase(_draw_pair, lambda f, p: 0.5 * content_loss(f, p, "sum"),
                               ("content_loss",)),
    "content_gradient": HiddenCase(_draw_pair, lambda f, p: f - p, ("content_loss", "backward")),
    "jitter": HiddenCase(_draw_jitter, lambda image, pixels, gen: Jitter(pixels)(image, gen),
                         ("Jitter",), cases=JITTER_CASES, accept=_accept_shifts),
    "blur": HiddenCase(_draw_image(0.5, 2.0), gaussian_blur, ("gaussian_blur", "Blur"), rtol=1e-3),
    "l2_decay": HiddenCase(_draw_image(0.1, 3.0), lambda image, weight: L2Decay(weight)(image),
                           ("L2Decay",)),
    "integrated_gradients": HiddenCase(
        _draw_ig, lambda model, x, base, steps: integrated_gradients(
            model, x, baseline=base, steps=steps, method="riemann"), ("integrated_gradients",),
        accept=_accept_integral),
    "completeness_gap": HiddenCase(_draw_gap, _gap, ("completeness_gaps",)),
    "octave_sizes": HiddenCase(_draw_octaves, lambda h, w, n, s: octave_sizes(h, w, n, s, 1),
                               ("octave_sizes",), cases=6, rtol=0.0),
    "carry_detail": HiddenCase(_draw_detail, carry_detail, ("carry_detail",), rtol=1e-3),
    "keep_colors": HiddenCase(_draw_colors, with_chroma_of, ("with_chroma_of", "preserve_color"),
                              rtol=1e-3),
    "mean_std": HiddenCase(lambda g, i: (torch.rand(*_shape(g), generator=g),), mean_std,
                           ("mean_std", "var_mean", "std_mean")),
    "mean_std_loss": HiddenCase(_draw_layers(mean_std), mean_std_loss,
                                ("mean_std_loss", "layer_mean_std_loss"),
                                uses={"my_mean_std": mean_std}),
}
