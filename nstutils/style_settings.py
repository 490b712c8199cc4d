"""The settings of the style lessons' optimizations, checked once where a public call comes in.

`style_transfer`, `invert_features` and `synthesize_texture` (in `nstutils.style`) take many
keyword arguments, because a student should be able to turn every knob. This module turns them
into one `PaintSettings` (how to optimize) and checked values (layers, weights, sizes, the
starting canvas), each with a message that says what to do when it is wrong. Past this point the
package trusts them.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from .images import resize
from .models import FeatureNetwork
from .validate import (BYTES_PER_PIXEL, ArgumentError, SizeError, check_count, check_image,
                       check_memory, check_number)

# Content layers and style layers per network. For EfficientNet-Lite0 the style layers are the
# expanded ReLU6 activations inside blocks 1, 3, 5, 8 and 11 (one per resolution, shallow to
# deep); for VGG they are the layers of Gatys et al.
DEFAULT_LAYERS: dict[str, tuple[list[str], list[str]]] = {
    "efficientnet_lite0": (["block7"], ["block1.expand", "block3.expand", "block5.expand",
                                        "block8.expand", "block11.expand"]),
    "vgg19": (["relu4_2"], ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]),
    "vgg16": (["relu4_2"], ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]),
}
CONTENT_WEIGHT = 1.0   # alpha
STYLE_WEIGHT = 10.0    # beta
TV_WEIGHT = 30.0
STEPS = 300
LEARNING_RATES = {"adam": 0.05, "lbfgs": 1.0}
LR_DECAY = {"adam": 0.1, "lbfgs": 1.0}  # Adam's rate falls to a tenth; L-BFGS searches its steps
INITS = ("content", "noise")
PRESERVE_COLOR = ("luminance", "histogram")
PIXEL_CONSTRAINTS = ("clamp", "none", "sigmoid")  # how style_transfer keeps pixels in [0, 1]

Size = tuple[int, int]


@dataclass(frozen=True)
class PaintSettings:
    """How one image optimization runs: its scales, steps, optimizer and what it reports.

    Attributes:
        scales: (H, W) per scale, coarse to fine (one entry without coarse to fine).
        steps: optimizer steps per scale.
        optimizer: ``"adam"`` or ``"lbfgs"``.
        lr: the starting learning rate.
        tv_weight: the weight of the total variation term (0: none).
        style_scale: the style image's longer side as a multiple of the canvas'.
        autocast: run the network in bfloat16.
        progress: show progress bars.
        log_every: record losses every this many steps.
        desc: the progress bar's label ("style transfer", ...).
        weights: the loss weights, named when the run diverges.
        pixels: how the pixels stay in [0, 1]: ``"clamp"``, ``"none"`` or ``"sigmoid"``.
    """

    scales: list[Size]
    steps: list[int]
    optimizer: str
    lr: float
    tv_weight: float
    style_scale: float = 1.0
    autocast: bool = False
    progress: bool = True
    log_every: int = 10
    desc: str = "optimizing"
    weights: Mapping[str, object] | None = None
    pixels: str = "clamp"

    @property
    def lr_decay(self) -> float:
        """Where the learning rate ends, as a fraction of ``lr`` (see `optimize`)."""
        return LR_DECAY[self.optimizer]


def paint_settings(scales: list[Size], steps: int | Sequence[int], optimizer: str,
                   lr: float | None, tv_weight: float, batch: int, device: torch.device,
                   **options) -> PaintSettings:
    """Check the optimization's arguments and gather them.

    Args:
        scales: (H, W) per scale, from `scales_for`.
        steps: an int for every scale, or one per scale.
        optimizer: ``"adam"`` or ``"lbfgs"``.
        lr: the starting learning rate; the optimizer's default when None.
        tv_weight: 0 or more.
        batch: how many canvases are optimized (with ``device``, for the memory check).
        device: where they are optimized.
        **options: the other fields of `PaintSettings`.

    Returns:
        PaintSettings.
    """
    if optimizer not in LEARNING_RATES:
        raise ValueError(f"Unknown optimizer {optimizer!r}: use 'adam' or 'lbfgs'.")
    check_number(tv_weight, "tv_weight")
    check_number(options.get("style_scale", 1.0), "style_scale", positive=True)
    check_count(options.get("log_every", 10), "log_every", low=1)
    if options.get("pixels", "clamp") not in PIXEL_CONSTRAINTS:
        raise ValueError(f"Unknown pixels={options['pixels']!r}: use 'clamp' (the default), "
                         "'none' or 'sigmoid'.")
    if lr is not None:
        check_number(lr, "lr", positive=True)
    many = isinstance(steps, Sequence) and not isinstance(steps, str)
    counts = [check_count(s, "steps") for s in (steps if many else [steps] * len(scales))]
    if len(counts) != len(scales):
        raise ValueError(f"Got {len(counts)} step counts for {len(scales)} sizes: give one per "
                         "size.")
    check_memory(scales[-1], batch, device, f"At {max(scales[-1])} pixels the canvas")
    return PaintSettings(scales, counts, optimizer, LEARNING_RATES[optimizer] if lr is None else lr,
                         tv_weight, **options)


def default_layers(model: FeatureNetwork | str) -> tuple[list[str], list[str]]:
    """Return the default content layers and style layers of a network.

    Args:
        model: a `FeatureNetwork` or its registry name.

    Returns:
        (content_layers, style_layers): e.g. ``(["relu4_2"], ["relu1_1", ..., "relu5_1"])`` for
        VGG19, ``(["block7"], ["block1.expand", ..., "block11.expand"])`` for EfficientNet-Lite0.
    """
    name = model if isinstance(model, str) else model.name
    if name not in DEFAULT_LAYERS:
        raise ValueError(f"No default style-transfer layers for {name!r}: pass content_layers "
                         f"and style_layers (see model.layers). Defaults exist for "
                         f"{', '.join(DEFAULT_LAYERS)}.")
    content, style = DEFAULT_LAYERS[name]
    return list(content), list(style)


def layers_or_default(model: FeatureNetwork, layers: str | Sequence[str] | None,
                      kind: int) -> list[str]:
    """Check layer names, or take the network's defaults when None.

    Args:
        model: the network.
        layers: a name, a list of names, or None.
        kind: 0 for content layers, 1 for style layers (the index into `default_layers`).

    Returns:
        list[str]: spatial layer names.
    """
    if layers is None:
        layers = default_layers(model)[kind]
    if not layers or (isinstance(layers, str) and not layers.strip()):
        what = ("content_layers", "style_layers")[kind]
        raise ArgumentError(f"{what}={layers!r} names no layer: give layer names (see "
                            f"model.spatial_layers), None for the defaults, or set "
                            f"{('content_weight', 'style_weight')[kind]}=0 to leave that loss out.")
    return model.check_layers(layers, spatial=True)


def per_layer_weights(weights: Sequence[float] | Mapping[str, float] | None,
                  layers: list[str]) -> dict[str, float]:
    """w_l per style layer: equal when None, from a list (one per layer) or a dict.

    Args:
        weights: None, one float per layer, or layer -> float.
        layers: the style layers.

    Returns:
        dict: layer -> w_l (0 or more).
    """
    if weights is None:
        return {n: 1 / len(layers) for n in layers}
    if isinstance(weights, Mapping):
        unknown = sorted(set(weights) - set(layers))
        if unknown:
            raise ValueError("style_layer_weights names layers that are not style layers: "
                             f"{unknown}.")
        values = [float(weights.get(n, 0.0)) for n in layers]
    else:
        values = [float(w) for w in weights]
        if len(values) != len(layers):
            raise ValueError(f"Got {len(values)} style layer weights for {len(layers)} style "
                             "layers: give one per layer.")
    if any(v < 0 or not math.isfinite(v) for v in values):
        raise ValueError(f"Style layer weights must be 0 or more, got {values}.")
    return dict(zip(layers, values))


def style_list(style: torch.Tensor | Sequence[torch.Tensor],
               device: torch.device | None = None) -> list[torch.Tensor]:
    """One style image or several -> a checked list of (1, 3, h, w) images (on ``device``)."""
    styles = [style] if isinstance(style, torch.Tensor) else list(style)
    if not styles:
        raise ValueError("Give at least one style image.")
    return [check_image(s, "style" if len(styles) == 1 else f"style[{i}]", batch_one=True,
                        device=device) for i, s in enumerate(styles)]


def blend_weights(blend: Sequence[float] | None, n: int) -> list[float]:
    """One weight per style image, normalized to sum to 1 (equal when None)."""
    if blend is None:
        return [1 / n] * n
    blend = [float(b) for b in blend]
    if len(blend) != n:
        raise ValueError(f"style_blend has {len(blend)} weights for {n} style images: give one "
                         "per style image.")
    if any(b < 0 or not math.isfinite(b) for b in blend) or sum(blend) <= 0:
        raise ValueError(f"style_blend weights must be 0 or more, not all 0; got {blend}.")
    return [b / sum(blend) for b in blend]


def batch_size(content: torch.Tensor, *weights) -> int:
    """The batch a call optimizes: the longest of the content batch and the per-image weights."""
    sizes = {content.shape[0]} | {len(w) for w in weights if not isinstance(w, (int, float))
                                  and (not isinstance(w, torch.Tensor) or w.dim() > 0)}
    sizes.discard(1)
    if len(sizes) > 1:
        raise ValueError(f"The content batch and the per-image weights have different lengths "
                         f"{sorted(sizes)}: give one weight per image, or one for all.")
    return sizes.pop() if sizes else 1


def per_image(value, name: str, batch: int, device: torch.device) -> torch.Tensor:
    """A float or a sequence of floats -> a (batch,) tensor of non-negative finite weights."""
    t = torch.as_tensor(value, dtype=torch.float32).flatten().cpu()
    if t.numel() == 0 or not torch.isfinite(t).all() or (t < 0).any():
        raise ValueError(f"{name} must be 0 or more (a number, or one per image), got {value}.")
    return t.expand(batch).to(device) if t.numel() == 1 else t.to(device)


def scales_for(sizes: int | Sequence[int] | None, hw: Size, min_size: int) -> list[Size]:
    """Longer sides (coarse to fine) -> (H, W) per scale, keeping the aspect of ``hw``.

    Args:
        sizes: longer sides, growing; None for ``hw`` itself.
        hw: the (H, W) whose aspect ratio is kept.
        min_size: the network's smallest accepted side.

    Returns:
        list of (H, W).
    """
    h, w = hw
    if sizes is None:
        sizes = [max(h, w)]
    sizes = [check_count(s, "sizes", low=1, error=SizeError)
             for s in (sizes if isinstance(sizes, (list, tuple)) else [sizes])]
    if not sizes or any(b <= a for a, b in zip(sizes, sizes[1:])):
        raise ValueError(f"sizes must grow from coarse to fine, e.g. [256, 512]; got {sizes}.")
    scales = [(max(1, round(h * s / max(h, w))), max(1, round(w * s / max(h, w)))) for s in sizes]
    if min(scales[0]) < min_size:
        raise SizeError(f"At size {sizes[0]} the image is {scales[0][1]}x{scales[0][0]} pixels; "
                        f"the network needs at least {min_size} on each side. Use a larger size.")
    return scales


def style_size(style: torch.Tensor, hw: Size, scale: float, min_size: int) -> Size:
    """The size a style image is resized to: its longer side = scale * the canvas' longer side."""
    h, w = style.shape[-2:]
    side = scale * max(hw)
    size = (max(1, round(h * side / max(h, w))), max(1, round(w * side / max(h, w))))
    if min(size) < min_size:
        raise SizeError(f"style_scale={scale} makes the style image {size[1]}x{size[0]} pixels; "
                        f"the network needs at least {min_size}. Use a larger style_scale.")
    # the style image only goes forward, without gradients: a quarter of a canvas' memory
    check_memory(size, 1, style.device, f"style_scale={scale}", BYTES_PER_PIXEL / 4,
                 smaller=lambda factor: f"style_scale={_two_digits_down(scale * factor):g} or less")
    return size


def initial_canvas(init: str | torch.Tensor, content: torch.Tensor | None, batch: int, hw: Size,
                   seed: int, device: torch.device) -> torch.Tensor:
    """The image the optimization starts from.

    Args:
        init: ``"content"``, ``"noise"`` or a (1 or batch, 3, H, W) tensor in [0, 1].
        content: (1 or batch, 3, H, W) content image(s), or None (texture synthesis).
        batch: how many images are optimized.
        hw: the (H, W) of the first scale.
        seed: seeds the noise.
        device: where the canvas lives.

    Returns:
        (batch, 3, H, W) in [0, 1].
    """
    if isinstance(init, torch.Tensor):
        init = check_image(init, "init")
        if init.shape[0] not in (1, batch):
            raise ValueError(f"init has a batch of {init.shape[0]}; give 1 image or {batch}.")
        return resize(init.to(device), hw).expand(batch, -1, -1, -1)
    if init not in INITS:
        raise ValueError(f"Unknown init={init!r}: use 'content', 'noise' or an image tensor.")
    if init == "content":
        if content is None:
            raise ValueError("init='content' needs a content image: use init='noise'.")
        return resize(content, hw).expand(batch, -1, -1, -1)
    generator = torch.Generator().manual_seed(seed)  # on the CPU: the same noise on any device
    return torch.rand(batch, 3, *hw, generator=generator).to(device)


def _two_digits_down(value: float) -> float:
    """Round a positive number down to two significant digits (70.6 -> 70, 0.0706 -> 0.07)."""
    step = 10.0 ** (math.floor(math.log10(value)) - 1)
    return math.floor(value / step) * step
