"""The seeded inputs and reference answers behind the exercises' visible checks.

``python -m nstutils.checks`` evaluates every case here with the package's own functions and
stores the results in ``references.json``; `nstutils.checks.check` compares a student's function
with them.
"""

import torch

from .checks import Case
from .color import with_chroma_of
from .style import content_loss, gram_matrix, style_loss


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


CASES: dict[str, Case] = {
    "gram_matrix": Case(_activations, lambda f: gram_matrix(f, "hw"),
                        hint="Flatten to V of shape (N, C, H*W), compute V V^T, divide by H*W."),
    "style_loss": Case(_style_inputs, style_loss,
                       hint="E_l = sum over (i, j) of (G_ij - A_ij)^2, then sum w_l E_l."),
    "content_loss": Case(_content_inputs, lambda f, p: 0.5 * content_loss(f, p, "sum"),
                         hint="One value per image: 1/2 times the sum over C, H, W."),
    "keep_colors": Case(_color_inputs, with_chroma_of, rtol=1e-3,
                        hint="Y from the stylized image, Cb and Cr from the photo."),
}
