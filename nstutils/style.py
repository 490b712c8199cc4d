"""Neural style transfer (Gatys et al., 2015): content loss, Gram-matrix style loss, smoothness.

The three losses, as in the lecture notes, for activations F (generated image) and P (content
image) of shape (C, H, W), and V the activations of a layer flattened to (C, H*W):

- content loss: ``L_content = sum_ijk (F_ijk - P_ijk)^2``;
- the Gram matrix ``G = V V^T`` (C x C: how strongly every channel co-fires with every other);
  the lecture writes it ``V^T V`` with V stored as (H*W, C), the same matrix;
- the style loss of layer l: ``E_l = sum_ij (G_ij - A_ij)^2`` with A the style image's Gram
  matrix, and ``L_style = sum_l w_l E_l``;
- the total variation ``sum (x[i+1, j] - x[i, j])^2 + (x[i, j+1] - x[i, j])^2`` that keeps the
  image smooth.

`style_transfer` minimizes ``alpha * L_content + beta * L_style + tv_weight * TV`` over the
pixels; `invert_features` keeps only the content term (what a layer remembers of a photo) and
`synthesize_texture` only the style term (a texture with the painting's statistics).

Every loss returns one value per image, shape (N,), so a batch of images can be optimized at once
with different weights.
"""

import contextlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .color import luminance, match_colors, match_luminance, with_chroma_of
from .images import check_image, resize
from .losses import content_loss, gram_matrix, layer_style_loss, style_loss, tv_loss
from .models import FeatureNetwork, resolve_model
from .optim import History, optimize

INITS = ("content", "noise")
PRESERVE_COLOR = ("luminance", "histogram")

# Content layer and style layers per network. For EfficientNet-Lite0 the style layers are the
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
BORDER = 16  # pixels of mirror padding around the canvas (see _features)


# --- layers -----------------------------------------------------------------------------------

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


# --- the optimization -------------------------------------------------------------------------

@dataclass
class _Targets:
    """What the generated images must match at one scale, computed once before the steps."""

    content: dict[str, torch.Tensor]        # layer -> P, (1|B, C, h, w)
    content_scale: dict[str, torch.Tensor]  # layer -> mean(P^2), (1|B,)
    grams: dict[str, torch.Tensor]          # layer -> A, (1, C, C), blended over the styles
    style_weights: dict[str, torch.Tensor]  # layer -> w_l / E_l(reference image), (1|B,)


def style_transfer(content: torch.Tensor, style: torch.Tensor | Sequence[torch.Tensor],
                   model: FeatureNetwork | str | None = None, steps: int | Sequence[int] = STEPS, *,
                   content_layers: str | Sequence[str] | None = None,
                   style_layers: str | Sequence[str] | None = None,
                   style_layer_weights: Sequence[float] | Mapping[str, float] | None = None,
                   content_weight: float | Sequence[float] | torch.Tensor = CONTENT_WEIGHT,
                   style_weight: float | Sequence[float] | torch.Tensor = STYLE_WEIGHT,
                   tv_weight: float = TV_WEIGHT, init: str | torch.Tensor = "content",
                   optimizer: str = "adam", lr: float | None = None,
                   preserve_color: str | None = None, style_blend: Sequence[float] | None = None,
                   style_scale: float = 1.0, sizes: Sequence[int] | None = None, seed: int = 0,
                   progress: bool = True, autocast: bool = False, return_history: bool = False,
                   log_every: int = 10) -> torch.Tensor | tuple[torch.Tensor, History]:
    """Paint the content image in the style of the style image(s) (Gatys et al., 2015).

    Minimizes ``alpha * content + beta * style + tv_weight * TV`` over the pixels, where
    ``content`` is the mean of `content_loss` (reduction "mean") over the content layers, each
    divided by the mean square of its targets; ``style`` is `style_loss` with each E_l divided by
    its value for the content image (so every layer starts near 1 and w_l alone sets its share);
    TV is `tv_loss` (reduction "mean"). Pixels are kept in [0, 1] after every step.

    Args:
        content: (1, 3, H, W) photo in [0, 1], or (B, 3, H, W) photos.
        style: (1, 3, h, w) style image in [0, 1] (any size), or a list of them to blend.
        model: a `FeatureNetwork`, a registry name, or None for EfficientNet-Lite0 on the device
            of ``content``.
        steps: optimizer steps per scale (an int, or one per entry of ``sizes``).
        content_layers: layer name(s) for the content loss; `default_layers` when None.
        style_layers: layer names for the style loss; `default_layers` when None.
        style_layer_weights: w_l, one per style layer (or a dict); equal when None.
        content_weight: alpha; a float, or one per image to optimize a batch with different
            weights (the batch size is the longest of content, content_weight, style_weight).
        style_weight: beta; a float or one per image.
        tv_weight: the weight of the total variation (0 to switch it off).
        init: ``"content"`` (start from the photo), ``"noise"`` (white noise, as Gatys et al.),
            or a (1|B, 3, H, W) tensor in [0, 1].
        optimizer: ``"adam"`` or ``"lbfgs"``.
        lr: the starting learning rate; 0.05 for Adam and 1.0 for L-BFGS when None. Adam's
            falls along a half cosine to a tenth of it by the last step (see `LR_DECAY`).
        preserve_color: None, ``"luminance"`` (transfer on the luminance, keep the photo's chroma)
            or ``"histogram"`` (recolour the style image with the photo's colour statistics).
        style_blend: one weight per style image (normalized to sum to 1); equal when None.
        style_scale: the style image is resized to this times the canvas' longer side: above 1
            gives finer brush strokes, below 1 coarser ones.
        sizes: coarse-to-fine longer sides, e.g. ``[256, 512]``: each scale starts from the
            previous result, upsampled. None: the content's own size only.
        seed: seeds the noise of ``init="noise"``.
        progress: show a progress bar.
        autocast: run the network in bfloat16 (Gram matrices and losses stay float32). On
            CUDA it is faster and takes less memory; on a CPU it helps only where the processor
            has bfloat16 instructions (about 10 % on an AMD Zen 4); elsewhere it can be slower.
            Ignored on MPS.
        return_history: also return the `History` of the loss terms (all scales in a row).
        log_every: record losses and update the bar every this many steps.

    Returns:
        (B, 3, H', W') in [0, 1] (H', W' the last of ``sizes``, or the content's size); with
        ``return_history``, the tuple (image, History).
    """
    _check_image(content, "content")
    styles = _style_list(style)
    blend = _blend_weights(style_blend, len(styles))
    batch = _batch_size(content, content_weight, style_weight)
    alpha = _per_image(content_weight, "content_weight", batch, content.device)
    beta = _per_image(style_weight, "style_weight", batch, content.device)
    if preserve_color not in (None, *PRESERVE_COLOR):
        raise ValueError(f"Unknown preserve_color={preserve_color!r}: use None, "
                         f"{PRESERVE_COLOR[0]!r} or {PRESERVE_COLOR[1]!r}.")
    if preserve_color == "histogram" and content.shape[0] > 1:
        raise ValueError("preserve_color='histogram' recolours the style with one photo's "
                         "colours: give one content image (a batch of weights is fine).")
    if preserve_color == "luminance":
        styles = [match_luminance(s, content) for s in styles]
        target = luminance(content)
    else:
        styles = [match_colors(s, content) for s in styles] if preserve_color else styles
        target = content
    out, history = _paint(target, batch, styles, blend, model, steps,
                          content_layers=content_layers,
                          style_layers=style_layers, style_layer_weights=style_layer_weights,
                          alpha=alpha, beta=beta, tv_weight=tv_weight, init=init,
                          optimizer=optimizer, lr=lr, style_scale=style_scale, sizes=sizes,
                          seed=seed, progress=progress, autocast=autocast, log_every=log_every,
                          desc="style transfer")
    if preserve_color == "luminance":
        out = with_chroma_of(out, resize(content, tuple(out.shape[-2:])))
    return (out, history) if return_history else out


def invert_features(image: torch.Tensor, layers: str | Sequence[str],
                    model: FeatureNetwork | str | None = None, steps: int = STEPS, *,
                    tv_weight: float = TV_WEIGHT, init: str | torch.Tensor = "noise",
                    optimizer: str = "adam", lr: float | None = None, seed: int = 0,
                    progress: bool = True, return_history: bool = False
                    ) -> torch.Tensor | tuple[torch.Tensor, History]:
    """Reconstruct an image from its activations at some layers alone (feature inversion).

    Starts from noise and minimizes the content loss only: what comes back is what those layers
    remember of the image.

    Args:
        image: (N, 3, H, W) in [0, 1]: its activations are the content targets.
        layers: the layer name(s) to match.
        model: a `FeatureNetwork`, a registry name, or None for the offline default.
        steps: optimizer steps.
        tv_weight: the weight of the total variation (a prior for natural, smooth images).
        init: ``"noise"``, ``"content"`` or a (N, 3, H, W) tensor.
        optimizer: ``"adam"`` or ``"lbfgs"``.
        lr: the starting learning rate (it decays as in `style_transfer`); the optimizer's
            default when None.
        seed: seeds the starting noise.
        progress: show a progress bar.
        return_history: also return the `History`.

    Returns:
        (N, 3, H, W) in [0, 1]; with ``return_history``, (image, History).
    """
    _check_image(image, "image")
    ones = torch.ones(image.shape[0], device=image.device)
    out, history = _paint(image, image.shape[0], [], [], model, steps, content_layers=layers,
                          style_layers=[],
                          style_layer_weights=None, alpha=ones, beta=0 * ones,
                          tv_weight=tv_weight, init=init, optimizer=optimizer, lr=lr,
                          style_scale=1.0, sizes=None, seed=seed, progress=progress,
                          autocast=False, log_every=10, desc="feature inversion")
    return (out, history) if return_history else out


def synthesize_texture(style: torch.Tensor | Sequence[torch.Tensor], layers: str | Sequence[str],
                       model: FeatureNetwork | str | None = None,
                       size: int | tuple[int, int] = 256, steps: int = STEPS, *,
                       layer_weights: Sequence[float] | Mapping[str, float] | None = None,
                       style_blend: Sequence[float] | None = None, tv_weight: float = 1.0,
                       optimizer: str = "adam", lr: float | None = None, seed: int = 0,
                       batch: int = 1, progress: bool = True, return_history: bool = False
                       ) -> torch.Tensor | tuple[torch.Tensor, History]:
    """Synthesize a texture from noise that matches the Gram matrices of a style image.

    The style reconstructions of Gatys et al.: with shallow layers only, colours and fine grain;
    adding deeper layers, larger and larger structures of the painting.

    Args:
        style: (1, 3, h, w) in [0, 1], or a list of them to blend.
        layers: the style layer name(s).
        model: a `FeatureNetwork`, a registry name, or None for the offline default.
        size: the output side, or (H, W); the style image is resized to this longer side.
        steps: optimizer steps.
        layer_weights: w_l per layer; equal when None.
        style_blend: one weight per style image; equal when None.
        tv_weight: the weight of the total variation (small: the style loss, divided by its
            value for the starting noise, soon becomes small itself).
        optimizer: ``"adam"`` or ``"lbfgs"``.
        lr: the starting learning rate (it decays as in `style_transfer`); the optimizer's
            default when None.
        seed: seeds the starting noise.
        batch: how many textures to make (different noise each).
        progress: show a progress bar.
        return_history: also return the `History`.

    Returns:
        (batch, 3, H, W) in [0, 1]; with ``return_history``, (image, History).
    """
    styles = _style_list(style)
    hw = (size, size) if isinstance(size, int) else tuple(size)
    if batch < 1:
        raise ValueError(f"batch must be 1 or more, got {batch}.")
    canvas = torch.zeros(1, 3, *hw, device=styles[0].device)  # only its size is used
    zeros = torch.zeros(batch, device=canvas.device)
    out, history = _paint(canvas, batch, styles, _blend_weights(style_blend, len(styles)), model,
                          steps,
                          content_layers=[], style_layers=layers,
                          style_layer_weights=layer_weights, alpha=zeros, beta=zeros + 1,
                          tv_weight=tv_weight, init="noise", optimizer=optimizer, lr=lr,
                          style_scale=1.0, sizes=None, seed=seed, progress=progress,
                          autocast=False, log_every=10, desc="texture synthesis")
    return (out, history) if return_history else out


def _paint(content: torch.Tensor, batch: int, styles: list[torch.Tensor], blend: list[float],
           model: FeatureNetwork | str | None, steps: int | Sequence[int], *,
           content_layers, style_layers, style_layer_weights, alpha: torch.Tensor,
           beta: torch.Tensor, tv_weight: float, init, optimizer: str, lr: float | None,
           style_scale: float, sizes: Sequence[int] | None, seed: int, progress: bool,
           autocast: bool, log_every: int, desc: str) -> tuple[torch.Tensor, History]:
    """The engine behind the three functions: optimize a (batch, 3, H, W) canvas, scale by scale.

    ``content`` (1 or batch images) gives the canvas size and, where alpha > 0, the content
    targets; with ``alpha == 0`` everywhere its pixels are unused (texture synthesis).
    """
    model = resolve_model(model, content.device)
    use_content = bool((alpha > 0).any()) and content_layers != []
    use_style = bool((beta > 0).any()) and bool(styles) and style_layers != []
    if not (use_content or use_style):
        raise ValueError("Both the content and the style weights are 0: nothing to optimize.")
    c_layers, s_layers = _resolve_layers(model, content_layers if use_content else [],
                                         style_layers if use_style else [])
    s_weights = _layer_weights(style_layer_weights, s_layers)
    if tv_weight < 0 or not math.isfinite(tv_weight):
        raise ValueError(f"tv_weight must be 0 or more, got {tv_weight}.")
    if style_scale <= 0 or not math.isfinite(style_scale):
        raise ValueError(f"style_scale must be a positive number, got {style_scale}.")
    if optimizer not in LEARNING_RATES:
        raise ValueError(f"Unknown optimizer {optimizer!r}: use 'adam' or 'lbfgs'.")
    lr = LEARNING_RATES[optimizer] if lr is None else lr
    scales = _scales(sizes, content, model.min_size)
    step_counts = _steps_per_scale(steps, len(scales))
    x = _initial_canvas(init, content, batch, scales[0], seed, use_content)
    history = History()
    for i, (hw, n_steps) in enumerate(zip(scales, step_counts)):
        photo = resize(content, hw)
        x = resize(x, hw).detach().clone()
        styles_here = [resize(s, _style_size(s, hw, style_scale, model.min_size)) for s in styles]
        # E_l is normalized by its value for the photo, or for the starting noise without one.
        reference = photo if use_content else x
        targets = _targets(model, photo, reference, styles_here, blend, c_layers, s_layers,
                           s_weights, autocast)
        label = f"{desc} {hw[1]}x{hw[0]}"
        if len(scales) > 1:
            label += f" (scale {i + 1}/{len(scales)})"
        run = optimize(x, _loss_fn(model, x, targets, alpha, beta, tv_weight, autocast), n_steps,
                       optimizer=optimizer, lr=lr, lr_decay=LR_DECAY[optimizer],
                       after_step=lambda x=x: x.clamp_(0, 1), progress=progress, desc=label,
                       log_every=log_every)
        _append(history, run)
        if run.interrupted:
            break
    return x.detach(), history


def _targets(model: FeatureNetwork, photo: torch.Tensor, reference: torch.Tensor,
             styles: list[torch.Tensor], blend: list[float], c_layers: list[str],
             s_layers: list[str], s_weights: dict[str, float], autocast: bool) -> _Targets:
    """Compute the content targets, blended Gram matrices and per-layer normalizations once."""
    with torch.inference_mode(), _autocast(photo, autocast):
        grams = {}
        for style, weight in zip(styles, blend):
            feats = model.features(style, s_layers) if s_layers else {}
            for name, f in feats.items():
                grams[name] = grams.get(name, 0) + weight * gram_matrix(f)
        if reference is photo:  # one forward gives the content targets and the reference
            feats = _features(model, photo, c_layers + s_layers)
        else:
            feats = {**(_features(model, photo, c_layers) if c_layers else {}),
                     **(_features(model, reference, s_layers) if s_layers else {})}
        content = {n: feats[n].float() for n in c_layers}
        scale = {n: p.pow(2).flatten(1).mean(1).clamp_min(1e-12) for n, p in content.items()}
        # E_l of the reference image: each style layer then starts near 1, and w_l alone sets
        # its share of the style loss.
        start = {n: layer_style_loss(feats[n], grams[n]) for n in s_layers}
        weights = {n: s_weights[n] / start[n].clamp_min(1e-12 + 1e-8 * grams[n].pow(2).sum())
                   for n in s_layers}
    # Inference tensors cannot enter autograd: clone them into ordinary tensors.
    return _Targets(content={n: t.clone() for n, t in content.items()},
                    content_scale={n: t.clone() for n, t in scale.items()},
                    grams={n: t.clone() for n, t in grams.items()},
                    style_weights={n: t.clone() for n, t in weights.items()})


def _features(model: FeatureNetwork, image: torch.Tensor,
              layers: list[str]) -> dict[str, torch.Tensor]:
    """The activations of an image mirrored by BORDER pixels on each side.

    Without the mirror, pixels at the border are seen by fewer filter taps than the others and
    fill with coloured noise; with it, every pixel of the canvas has the same context.
    """
    pad = min(BORDER, min(image.shape[-2:]) - 1)
    return model.features(F.pad(image, (pad, pad, pad, pad), mode="reflect"), layers)


def _loss_fn(model: FeatureNetwork, x: torch.Tensor, targets: _Targets, alpha: torch.Tensor,
             beta: torch.Tensor, tv_weight: float, autocast: bool):
    """Build the closure that `optimize` calls: named loss terms, each summed over the batch."""
    layers = list(targets.content) + list(targets.grams)

    def loss() -> dict[str, torch.Tensor]:
        with _autocast(x, autocast):
            feats = _features(model, x, layers)
        terms = {}
        if targets.content:
            per_layer = [content_loss(feats[n], p, "mean") / targets.content_scale[n]
                         for n, p in targets.content.items()]
            terms["content"] = (alpha * sum(per_layer) / len(per_layer)).sum()
        if targets.grams:
            terms["style"] = (beta * style_loss(feats, targets.grams, targets.style_weights)).sum()
        if tv_weight > 0:
            terms["tv"] = tv_weight * tv_loss(x, "mean").sum()
        return terms

    return loss


# --- argument handling ------------------------------------------------------------------------

def _check_image(image, name: str, batch_one: bool = False) -> None:
    """`check_image`, plus the pixel values: once per call, so it may look at them."""
    check_image(image, name, batch_one)
    if not bool(((image >= 0) & (image <= 1)).all()):  # NaN fails too
        raise ValueError(f"{name} must hold values in [0, 1]: clamp it with .clamp(0, 1).")


def _style_list(style: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """One style image or several -> a checked list of (1, 3, h, w) images."""
    styles = [style] if isinstance(style, torch.Tensor) else list(style)
    if not styles:
        raise ValueError("Give at least one style image.")
    for i, s in enumerate(styles):
        _check_image(s, "style" if len(styles) == 1 else f"style[{i}]", batch_one=True)
    return styles


def _batch_size(content: torch.Tensor, *weights) -> int:
    sizes = {content.shape[0]} | {len(w) for w in weights if not isinstance(w, (int, float))
                                  and (not isinstance(w, torch.Tensor) or w.dim() > 0)}
    sizes.discard(1)
    if len(sizes) > 1:
        raise ValueError(f"The content batch and the per-image weights have different lengths "
                         f"{sorted(sizes)}: give one weight per image, or one for all.")
    return sizes.pop() if sizes else 1


def _per_image(value, name: str, batch: int, device: torch.device) -> torch.Tensor:
    """A float or a sequence of floats -> a (batch,) tensor of non-negative finite weights."""
    t = torch.as_tensor(value, dtype=torch.float32).flatten().cpu()
    if t.numel() == 0 or not torch.isfinite(t).all() or (t < 0).any():
        raise ValueError(f"{name} must be 0 or more (a number, or one per image), got {value}.")
    return t.expand(batch).to(device) if t.numel() == 1 else t.to(device)


def _blend_weights(blend: Sequence[float] | None, n: int) -> list[float]:
    if blend is None:
        return [1 / n] * n
    blend = [float(b) for b in blend]
    if len(blend) != n:
        raise ValueError(f"style_blend has {len(blend)} weights for {n} style images: give one "
                         "per style image.")
    if any(b < 0 or not math.isfinite(b) for b in blend) or sum(blend) <= 0:
        raise ValueError(f"style_blend weights must be 0 or more, not all 0; got {blend}.")
    return [b / sum(blend) for b in blend]


def _resolve_layers(model: FeatureNetwork, content_layers,
                    style_layers) -> tuple[list[str], list[str]]:
    """Fill in the network's defaults for the layer lists left as None, and check every name."""
    if content_layers is None or style_layers is None:
        default_content, default_style = default_layers(model)
        content_layers = default_content if content_layers is None else content_layers
        style_layers = default_style if style_layers is None else style_layers
    c = model.check_layers(content_layers, spatial=True) if content_layers else []
    s = model.check_layers(style_layers, spatial=True) if style_layers else []
    return c, s


def _layer_weights(weights, layers: list[str]) -> dict[str, float]:
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


def _scales(sizes: Sequence[int] | None, content: torch.Tensor,
            min_size: int) -> list[tuple[int, int]]:
    """Longer sides (coarse to fine) -> (H, W) per scale, keeping the content's aspect."""
    h, w = content.shape[-2:]
    if sizes is None:
        sizes = [max(h, w)]
    sizes = [int(s) for s in ([sizes] if isinstance(sizes, int) else sizes)]
    if not sizes or any(b <= a for a, b in zip(sizes, sizes[1:])):
        raise ValueError(f"sizes must grow from coarse to fine, e.g. [256, 512]; got {sizes}.")
    scales = [(max(1, round(h * s / max(h, w))), max(1, round(w * s / max(h, w)))) for s in sizes]
    if min(scales[0]) < min_size:
        raise ValueError(f"At size {sizes[0]} the image is {scales[0][1]}x{scales[0][0]} pixels; "
                         f"the network needs at least {min_size} on each side. Use a larger size.")
    return scales


def _steps_per_scale(steps: int | Sequence[int], n: int) -> list[int]:
    counts = [steps] * n if isinstance(steps, int) else [int(s) for s in steps]
    if len(counts) != n:
        raise ValueError(f"Got {len(counts)} step counts for {n} sizes: give one per size.")
    if any(c < 0 for c in counts):
        raise ValueError(f"steps must be 0 or more, got {steps}.")
    return counts


def _style_size(style: torch.Tensor, hw: tuple[int, int], scale: float,
                min_size: int) -> tuple[int, int]:
    """The size the style image is resized to: its longer side = scale * the canvas' longer side."""
    h, w = style.shape[-2:]
    side = scale * max(hw)
    size = (max(1, round(h * side / max(h, w))), max(1, round(w * side / max(h, w))))
    if min(size) < min_size:
        raise ValueError(f"style_scale={scale} makes the style image {size[1]}x{size[0]} pixels; "
                         f"the network needs at least {min_size}. Use a larger style_scale.")
    return size


def _initial_canvas(init, content: torch.Tensor, batch: int, hw: tuple[int, int], seed: int,
                    has_content: bool) -> torch.Tensor:
    if isinstance(init, torch.Tensor):
        _check_image(init, "init")
        if init.shape[0] not in (1, batch):
            raise ValueError(f"init has a batch of {init.shape[0]}; give 1 image or {batch}.")
        return resize(init.to(content.device), hw).expand(batch, -1, -1, -1)
    if init not in INITS:
        raise ValueError(f"Unknown init={init!r}: use 'content', 'noise' or an image tensor.")
    if init == "content":
        if not has_content:
            raise ValueError("init='content' needs a content image: use init='noise'.")
        return resize(content, hw).expand(batch, -1, -1, -1)
    generator = torch.Generator().manual_seed(seed)  # on the CPU: the same noise on any device
    return torch.rand(batch, 3, *hw, generator=generator).to(content.device)


def _append(history: History, run: History) -> None:
    """Append one scale's losses to the history of the whole run."""
    for name, values in run.losses.items():
        history.losses.setdefault(name, []).extend(values)
    history.steps += run.steps
    history.interrupted = run.interrupted


def _autocast(x: torch.Tensor, enabled: bool):
    """bfloat16 autocast on CUDA or the CPU when enabled; a no-op context otherwise."""
    if enabled and x.device.type in ("cuda", "cpu"):
        return torch.autocast(x.device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
