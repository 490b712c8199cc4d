"""Small networks you can read by eye, one per axiom of integrated gradients.

Sundararajan et al. (2017) ask an attribution method for sensitivity, implementation invariance,
symmetry preservation and completeness. Each network here is a few fixed linear layers whose
output can be worked out by hand, so an attribution of it can be checked by hand too. Their
weights are frozen: they are examples, not models to train. `deeplift_rescale` is a rule-based
method for comparison: it keeps completeness but breaks implementation invariance on
`equivalent_relu_networks`, where integrated gradients keeps it.
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


def equivalent_relu_networks() -> tuple[nn.Module, nn.Module]:
    """Two ReLU networks computing the same function, built differently.

    f(x) = ReLU(ReLU(x1) - 1 - ReLU(x2)) and g(x) = ReLU(ReLU(x1 - 1) - ReLU(x2)) agree
    everywhere (both are 0 unless x1 > 1 + ReLU(x2)); only where the 1 is subtracted differs.
    Sundararajan et al. (2017, appendix) use them to show that DeepLIFT and LRP break
    implementation invariance: see `deeplift_rescale`.

    Returns:
        tuple[nn.Module, nn.Module]: f and g, each (N, 2) -> (N, 1).
    """
    f = nn.Sequential(_linear([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]), nn.ReLU(),
                      _linear([[1.0, -1.0]], [-1.0]), nn.ReLU())
    g = nn.Sequential(_linear([[1.0, 0.0], [0.0, 1.0]], [-1.0, 0.0]), nn.ReLU(),
                      _linear([[1.0, -1.0]], [0.0]), nn.ReLU())
    return _frozen(f), _frozen(g)


def deeplift_rescale(net: nn.Sequential, x: torch.Tensor, baseline: torch.Tensor) -> torch.Tensor:
    """DeepLIFT with the Rescale rule: differences from the baseline, passed back layer by layer.

    Through a linear layer the multipliers go back as the gradient does (times the weight);
    through a nonlinearity they are Delta(output) / Delta(input) against the baseline, not the
    local derivative (which stands in where Delta(input) = 0). The attributions add up to
    f(x) - f(x'), like integrated gradients, but depend on how the network is built.

    Args:
        net: a `nn.Sequential` of `nn.Linear` layers and elementwise nonlinearities
            (ReLU, sigmoid ...), mapping (N, D) to (N, 1).
        x: (N, D) inputs.
        baseline: (N, D) or (1, D) reference inputs x'.

    Returns:
        (N, D) attributions.
    """
    if not isinstance(net, nn.Sequential):
        raise TypeError(f"deeplift_rescale takes an nn.Sequential, got {type(net).__name__}.")
    ins, refs = [], []
    a, b = x, baseline.expand_as(x)
    for layer in net:       # the input of every layer, for x and for the baseline
        ins.append(a)
        refs.append(b)
        a, b = layer(a), layer(b)
    multiplier = torch.ones_like(a)
    for layer, a, b in zip(reversed(net), reversed(ins), reversed(refs)):
        if isinstance(layer, nn.Linear):
            multiplier = multiplier @ layer.weight
        else:
            z = a.detach().requires_grad_(True)
            with torch.enable_grad():
                (slope,) = torch.autograd.grad(layer(z).sum(), z)
            change = a - b
            rescale = (layer(a) - layer(b)) / torch.where(change == 0, 1.0, change)
            multiplier = multiplier * torch.where(change.abs() > 1e-6, rescale, slope)
    return multiplier * (x - baseline)
