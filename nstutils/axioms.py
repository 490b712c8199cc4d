"""Small networks you can read by eye, one per axiom of integrated gradients.

Sundararajan et al. (2017) ask an attribution method for sensitivity, implementation invariance,
symmetry preservation and completeness. Each network here is a few fixed linear layers whose
output can be worked out by hand, so an attribution of it can be checked by hand too. Their
weights are frozen: they are examples, not models to train.
"""

import torch
from torch import nn


def _linear(weight: list[list[float]], bias: list[float]) -> nn.Linear:
    """A linear layer with the given weight (out, in) and bias (out,)."""
    layer = nn.Linear(len(weight[0]), len(weight))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
        layer.bias.copy_(torch.tensor(bias))
    return layer


def _frozen(net: nn.Module) -> nn.Module:
    """The network in eval mode with no trainable parameters."""
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
