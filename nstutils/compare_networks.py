"""What makes a network paint: which networks to compare, their layers, and judges that did not paint.

Lesson 10 compares EfficientNet-Lite0 (trained and random) with a random VGG19, and with the
trained torchvision networks whose weights are already on the machine (no download). A fair
measure of a result is taken by a network that did not paint it: `gram_distances` (style) and
`feature_distances` (content). `feature_sensitivity` measures how brittle a network's features
are (Nakano, 2019, linked VGG's painting to robust features).
"""

from collections.abc import Callable, Mapping, Sequence

import torch

from .feature_network import FeatureNetwork
from .losses import gram_matrix
from .models import load_model, weights_cached

# network name -> layer set -> layers, shallow to deep: "shallow" and "deeper" for textures (VGG's
# deeper set stops at relu3_1, its cost on a CPU), "five" (the default style layers) for entropies
LAYER_SETS: dict[str, dict[str, list[str]]] = {
    "efficientnet_lite0": {"shallow": ["block1.expand", "block3.expand"],
                           "deeper": ["block1.expand", "block3.expand", "block5.expand",
                                      "block8.expand"],
                           "five": ["block1.expand", "block3.expand", "block5.expand",
                                    "block8.expand", "block11.expand"]},
    "vgg19": {"shallow": ["relu1_1", "relu2_1"], "deeper": ["relu1_1", "relu2_1", "relu3_1"],
              "five": ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]},
    "vgg16": {"shallow": ["relu1_1", "relu2_1"], "deeper": ["relu1_1", "relu2_1", "relu3_1"],
              "five": ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]},
    "alexnet": {"shallow": ["relu1", "relu2"], "deeper": ["relu1", "relu2", "relu3"],
                "five": ["relu1", "relu2", "relu3", "relu4", "relu5"]},
}
TRAINED_IF_CACHED = ("vgg19", "vgg16", "alexnet")  # join the comparison when their weights are here


def networks_to_compare(device: torch.device | str | None = None,
                        seed: int = 0) -> dict[str, FeatureNetwork]:
    """Load the networks a lesson compares: no download, more when weights are cached.

    Always EfficientNet-Lite0 trained and random, and a random VGG19; then each of
    `TRAINED_IF_CACHED` with its trained weights, when they are already on this machine.

    Args:
        device: where to put them; `default_device()` when None.
        seed: seeds the random weights.

    Returns:
        label (e.g. ``"VGG19, random"``) -> FeatureNetwork, with ``name`` and ``weights`` set.
    """
    wanted = [("efficientnet_lite0", "imagenet"), ("efficientnet_lite0", "random"),
              ("vgg19", "random")]
    wanted += [(name, "imagenet") for name in TRAINED_IF_CACHED if weights_cached(name)]
    return {network_label(name, weights): load_model(name, device, weights=weights, seed=seed)
            for name, weights in wanted}


def network_label(name: str, weights: str) -> str:
    """A short label for a network and its weights, e.g. ``"Lite0, trained"``.

    Args:
        name: a registry name.
        weights: ``"imagenet"`` or ``"random"``.

    Returns:
        str.
    """
    short = {"efficientnet_lite0": "Lite0", "vgg19": "VGG19", "vgg16": "VGG16",
             "alexnet": "AlexNet"}.get(name, name)
    return f"{short}, {'trained' if weights == 'imagenet' else 'random'}"


def layer_set(model: FeatureNetwork, which: str = "shallow") -> list[str]:
    """A set of style layers of a network, from `LAYER_SETS`.

    Args:
        model: a network whose ``name`` is in `LAYER_SETS`.
        which: ``"shallow"``, ``"deeper"`` or ``"five"``.

    Returns:
        list of layer names, shallow to deep.
    """
    if model.name not in LAYER_SETS:
        raise ValueError(f"No layer sets for {model.name!r}: they exist for {', '.join(LAYER_SETS)}.")
    sets = LAYER_SETS[model.name]
    if which not in sets:
        raise ValueError(f"Unknown layer set {which!r}: use one of {', '.join(sets)}.")
    return list(sets[which])


def gram_distances(model: FeatureNetwork, image: torch.Tensor, reference: torch.Tensor,
                   layers: str | Sequence[str]) -> dict[str, float]:
    """How far an image's style is from a reference's: relative distances of Gram matrices.

    ``||G_l(image) - G_l(reference)||_F / ||G_l(reference)||_F`` at each layer, with Gram
    matrices normalized by H*W (`nstutils.losses.gram_matrix`), so the two images may differ in
    size. A measure of style by a network that did not paint the image is a fair judge of it.

    Args:
        model: the judging network.
        image: (1, 3, H, W) in [0, 1].
        reference: (1, 3, h, w) in [0, 1], e.g. the style image.
        layers: layer name(s) with (h, w) maps.

    Returns:
        layer name -> the relative distance (0 for the same statistics).
    """
    layers = model.check_layers(layers, spatial=True)
    with torch.no_grad():
        fx, fr = model.features(image, layers), model.features(reference, layers)
    out = {}
    for name in layers:
        target = gram_matrix(fr[name][:1].float())
        out[name] = ((gram_matrix(fx[name][:1].float()) - target).norm() / target.norm()).item()
    return out


def feature_distances(model: FeatureNetwork, image: torch.Tensor, reference: torch.Tensor,
                      layers: str | Sequence[str]) -> dict[str, float]:
    """How far an image's activations are from a reference's, relative to the reference's.

    Args:
        model: the judging network.
        image: (1, 3, H, W) in [0, 1].
        reference: (1, 3, H, W) in [0, 1], the same size (e.g. the photo).
        layers: layer name(s).

    Returns:
        layer name -> ``||F_l(image) - F_l(reference)|| / ||F_l(reference)||``.
    """
    if image.shape[-2:] != reference.shape[-2:]:
        raise ValueError(f"feature_distances compares images of one size, got "
                         f"{tuple(image.shape[-2:])} and {tuple(reference.shape[-2:])}.")
    layers = model.check_layers(layers)
    with torch.no_grad():
        fx, fr = model.features(image, layers), model.features(reference, layers)
    return {name: ((fx[name][:1] - fr[name][:1]).norm() / fr[name][:1].norm()).item()
            for name in layers}


def feature_sensitivity(model: FeatureNetwork, image: torch.Tensor, layers: str | Sequence[str],
                        epsilon: float = 1 / 255, direction: str = "gradient",
                        seed: int = 0) -> dict[str, float]:
    """How much a tiny pixel change moves a layer's activations, relative to their size.

    Changes every pixel by at most ``epsilon`` and returns
    ``||F_l(image + delta) - F_l(image)|| / ||F_l(image)||``. With ``direction="random"``,
    delta is ``epsilon`` times random signs; with ``"gradient"``, delta is ``epsilon`` times the
    sign of the gradient of ``sum_l ||F_l(image + r) - F_l(image)||^2 / ||F_l(image)||^2``, taken
    at a random start r (one step of the fast gradient sign method, aimed at the features): the
    direction the network is most sensitive to, to first order. Robust networks (Nakano, 2019)
    move little even then.

    Args:
        model: the network.
        image: (1, 3, H, W) in [0, 1].
        layers: layer name(s) with (h, w) maps.
        epsilon: the largest change of a pixel (1/255: one level of an 8-bit image).
        direction: ``"gradient"`` or ``"random"``.
        seed: seeds the random signs.

    Returns:
        layer name -> the relative change of the activations.
    """
    if direction not in ("gradient", "random"):
        raise ValueError(f"Unknown direction={direction!r}: use 'gradient' or 'random'.")
    if not epsilon > 0:
        raise ValueError(f"epsilon must be positive, got {epsilon}.")
    layers = model.check_layers(layers, spatial=True)
    image = image[:1].detach()
    with torch.no_grad():
        clean = model.features(image, layers)
    generator = torch.Generator().manual_seed(seed)
    signs = torch.randint(0, 2, image.shape, generator=generator).to(image) * 2 - 1
    delta = epsilon * signs
    if direction == "gradient":
        start = (0.5 * delta).requires_grad_(True)
        moved = model.features((image + start).clamp(0, 1), layers)
        total = sum((moved[n] - clean[n]).pow(2).sum() / clean[n].pow(2).sum().clamp_min(1e-30)
                    for n in layers)
        (grad,) = torch.autograd.grad(total, start)
        delta = epsilon * torch.where(grad != 0, grad.sign(), signs)
    with torch.no_grad():
        moved = model.features((image + delta).clamp(0, 1), layers)
    return {n: ((moved[n] - clean[n]).norm() / clean[n].norm().clamp_min(1e-30)).item()
            for n in layers}


def by_depth(networks: Mapping[str, FeatureNetwork],
             measure: Callable[[FeatureNetwork, list[str]], Mapping[str, float]],
             which: str = "five") -> dict[str, dict[str, float]]:
    """Measure several networks layer by layer, keyed by depth so they can share one plot.

    Args:
        networks: label -> network (e.g. `networks_to_compare`).
        measure: (network, layers) -> layer name -> value, e.g.
            ``lambda net, layers: layer_entropies(net, image, layers)``.
        which: the layer set of each network (see `layer_set`).

    Returns:
        label -> {``"layer 1"``, ``"layer 2"``, ... (shallow to deep) -> value}; the layer names
        differ between networks, their order does not.
    """
    out = {}
    for label, net in networks.items():
        values = measure(net, layer_set(net, which))
        out[label] = {f"layer {i + 1}": v for i, v in enumerate(values.values())}
    return out
