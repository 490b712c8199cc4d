"""The seeded inputs and reference answers behind the exercises' visible checks.

``python -m nstutils.checks`` evaluates every case here with the package's own functions and
stores the results in ``references.json``; `nstutils.checks.check` compares a student's function
with them.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .attribution import integrated_gradients
from .axioms import relu_network
from .color import with_chroma_of
from .dream import carry_detail
from .losses import content_loss, gram_matrix, style_loss
from .transforms import Jitter, L2Decay, gaussian_blur


@dataclass(frozen=True)
class Case:
    """One check: seeded inputs, the package function that answers it, and a tolerance."""

    inputs: Callable[[], tuple]
    reference: Callable[..., torch.Tensor]
    rtol: float = 1e-4
    hint: str = ""


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _activations() -> tuple:
    """Two images' activations at one layer: (2, 4, 5, 6) ReLU-like values."""
    return (torch.rand(2, 4, 5, 6, generator=_generator(1)),)


def _style_inputs() -> tuple:
    g = _generator(2)
    features = {"a": torch.rand(2, 3, 4, 4, generator=g), "b": torch.rand(2, 5, 2, 3, generator=g)}
    targets = {"a": gram_matrix(torch.rand(1, 3, 6, 6, generator=g)),
               "b": gram_matrix(torch.rand(1, 5, 3, 3, generator=g))}
    return features, targets, {"a": 0.25, "b": 0.75}


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


CASES: dict[str, Case] = {
    "gram_matrix": Case(_activations, lambda f: gram_matrix(f, "hw"),
                        hint="Flatten to V of shape (N, C, H*W), compute V V^T, divide by H*W."),
    "style_loss": Case(_style_inputs, style_loss,
                       hint="E_l = sum over (i, j) of (G_ij - A_ij)^2, then sum w_l E_l."),
    "content_loss": Case(_content_inputs, lambda f, p: 0.5 * content_loss(f, p, "sum"),
                         hint="One value per image: 1/2 times the sum over C, H, W."),
    "jitter": Case(_jitter_inputs, lambda image, pixels, gen: Jitter(pixels)(image, gen),
                   hint="Draw dy first, then dx, each with torch.randint(-pixels, pixels + 1, "
                        "(), generator=generator)."),
    "blur": Case(_image_inputs(1.5), gaussian_blur, rtol=1e-3,
                 hint="Kernel radius ceil(2 sigma), normalized to sum 1, reflect padding."),
    "l2_decay": Case(_image_inputs(2.0), lambda image, weight: L2Decay(weight)(image),
                     hint="weight * mean((image - 0.5)^2): one number."),
    "integrated_gradients": Case(
        _ig_inputs, lambda model, x, base, steps: integrated_gradients(
            model, x, baseline=base, steps=steps, method="riemann"),
        hint="Right Riemann sum: alpha = k / steps for k = 1 ... steps; multiply by (x - x')."),
    "carry_detail": Case(_detail_inputs, carry_detail, rtol=1e-3,
                         hint="Upsample dreamed - base (it can be negative) to next_base's size."),
    "keep_colors": Case(_color_inputs, with_chroma_of, rtol=1e-3,
                        hint="Y from the stylized image, Cb and Cr from the photo."),
}
