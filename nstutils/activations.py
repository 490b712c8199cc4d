"""How peaked a layer's activations are, and the softmax that spreads them (Wang et al., 2021).

Wang, Li and Vasconcelos ("Rethinking and improving the robustness of image style transfer",
CVPR 2021) found that networks with residual connections paint worse than VGG because a few
large activations dominate their feature maps (low entropy), and that a softmax over a layer's
activations before the Gram matrix lets them paint better. Here:

- `softmax_activations` is that transform: a softmax over all C*H*W values of each image's
  layer, times C*H*W so the values average 1 whatever the layer's size;
- `activation_entropy` measures how evenly a layer's activation mass is spread: the Shannon
  entropy of ``p = |F| / sum |F|`` (or of the softmax), divided by its largest possible value
  ``log(C*H*W)``, so 1 means every activation is the same size and 0 means one activation
  holds everything.
"""

from collections.abc import Sequence

import torch

from .feature_network import FeatureNetwork
from .validate import check_activations

FEATURE_TRANSFORMS = ("softmax",)


def softmax_activations(features: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Replace each image's activations of a layer by their softmax over all its values.

    Args:
        features: (N, C, H, W) activations of one layer.
        temperature: divides the activations first; above 1 spreads the result more.

    Returns:
        (N, C, H, W) positive values that average 1 per image (float32, or float64 for float64
        features).
    """
    features = check_activations(features, "softmax_activations")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}.")
    v = features.reshape(features.shape[0], -1)
    return (torch.softmax(v / temperature, dim=1) * v.shape[1]).reshape(features.shape)


def activation_entropy(features: torch.Tensor, transform: str | None = None) -> torch.Tensor:
    """Measure how evenly each image's activation mass is spread over a layer's values.

    Args:
        features: (N, C, H, W) activations of one layer.
        transform: None (the distribution ``|F| / sum |F|``) or ``"softmax"`` (the distribution
            `softmax_activations` makes).

    Returns:
        (N,) entropy divided by ``log(C*H*W)``: 1 for equal activations, near 0 when a few
        activations hold almost all the mass.
    """
    check_transform(transform)
    features = check_activations(features, "activation_entropy")
    v = features.reshape(features.shape[0], -1)
    if transform == "softmax":
        log_p = torch.log_softmax(v, dim=1)
    else:
        mass = v.abs()
        total = mass.sum(dim=1, keepdim=True)
        if bool((total == 0).any()):
            raise ValueError("A layer's activations are all zero for an image: its entropy is "
                             "undefined (is the image blank, or the layer dead?).")
        log_p = torch.log(mass / total)
    p = log_p.exp()
    entropy = -torch.where(p > 0, p * log_p, torch.zeros_like(p)).sum(dim=1)
    return entropy / torch.log(torch.tensor(float(v.shape[1]), dtype=entropy.dtype))


def layer_entropies(model: FeatureNetwork, image: torch.Tensor, layers: str | Sequence[str],
                    transform: str | None = None) -> dict[str, float]:
    """Compute `activation_entropy` of an image at several layers of a network.

    Args:
        model: the network.
        image: (1, 3, H, W) in [0, 1].
        layers: layer name(s) with (h, w) maps.
        transform: None or ``"softmax"`` (see `activation_entropy`).

    Returns:
        layer name -> the normalized entropy, in [0, 1].
    """
    layers = model.check_layers(layers, spatial=True)
    with torch.no_grad():
        feats = model.features(image, layers)
    return {name: activation_entropy(f[:1], transform).item() for name, f in feats.items()}


def check_transform(transform: str | None) -> str | None:
    """Refuse an unknown feature transform, naming the known ones.

    Args:
        transform: None or one of `FEATURE_TRANSFORMS`.

    Returns:
        ``transform``.
    """
    if transform is not None and transform not in FEATURE_TRANSFORMS:
        raise ValueError(f"Unknown style_transform={transform!r}: use None (the activations as "
                         "they are) or 'softmax' (Wang et al.'s activation smoothing).")
    return transform


def transformed(features: torch.Tensor, transform: str | None) -> torch.Tensor:
    """Apply a feature transform (None: the activations unchanged).

    Args:
        features: (N, C, H, W) activations.
        transform: None or ``"softmax"``.

    Returns:
        (N, C, H, W).
    """
    return softmax_activations(features) if transform == "softmax" else features
