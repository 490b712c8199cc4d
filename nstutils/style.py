"""Neural style transfer (Gatys et al., 2015), feature inversion and texture synthesis.

Three optimizations of the pixels, each a short composition of the losses in `nstutils.losses`:

- `style_transfer`: ``alpha * ContentLoss + beta * StyleLoss + tv_weight * TV``;
- `invert_features`: ``ContentLoss + tv_weight * TV`` from noise (what a layer remembers);
- `synthesize_texture`: ``StyleLoss + tv_weight * TV`` from noise (a painting's statistics).

Each task says how to build its loss at one scale (its targets are taken once per scale), and
`_coarse_to_fine` runs that through the one `optimize` loop, scale by scale. Arguments are checked
in `nstutils.style_settings` before any work starts.
"""

import contextlib
from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F

from .activations import check_transform, transformed
from .color import luminance, match_colors, match_luminance, with_chroma_of
from .images import resize
from .losses import STYLE_STATS, ContentLoss, StyleLoss, check_style_stat, tv_loss
from .models import FeatureNetwork, resolve_model
from .optim import History, LossTerms, optimize
from .style_settings import (CONTENT_WEIGHT, PRESERVE_COLOR, STEPS, STYLE_WEIGHT, TV_WEIGHT,
                             PaintSettings, batch_size, blend_weights, initial_canvas,
                             layers_or_default, paint_settings, per_image, per_layer_weights,
                             scales_for, style_list, style_size)
from .validate import check_count, check_image, check_on, check_size

BORDER = 16  # pixels of mirror padding around the canvas (see _features)
SIGMOID_EDGE = 1e-3  # pixels start at most this close to 0 or 1 when optimized through a sigmoid
Weighted = dict[str, tuple[torch.Tensor | float, ContentLoss | StyleLoss]]
Canvas = Callable[[], torch.Tensor]  # returns the (B, 3, H, W) canvas being optimized


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
                   log_every: int = 10, style_stat: str = "gram",
                   style_transform: str | None = None, pixels: str = "clamp"
                   ) -> torch.Tensor | tuple[torch.Tensor, History]:
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
        style_stat: what "style" means: ``"gram"`` (Gram matrices, Gatys et al.) or
            ``"mean_std"`` (each channel's mean and standard deviation, AdaIN's statistics).
        style_transform: None, or ``"softmax"``: the style layers' activations go through
            `nstutils.activations.softmax_activations` before their statistic (Wang et al.,
            2021, who also transform the content features; here the content loss is unchanged).
        pixels: how the pixels stay in [0, 1]: ``"clamp"`` after every step; ``"none"`` (they
            may leave [0, 1]: the result is returned unclamped, as lesson 09 shows); or
            ``"sigmoid"`` (optimize u with pixels ``sigmoid(u)``: the gradient vanishes near 0
            and 1).

    Returns:
        (B, 3, H', W') in [0, 1] (H', W' the last of ``sizes``, or the content's size; any values
        with ``pixels="none"``); with ``return_history``, the tuple (image, History).
    """
    content = check_image(content, "content")
    styles = style_list(style, content.device)
    blend = blend_weights(style_blend, len(styles))
    check_style_stat(style_stat)
    check_transform(style_transform)
    batch = batch_size(content, content_weight, style_weight)
    alpha = per_image(content_weight, "content_weight", batch, content.device)
    beta = per_image(style_weight, "style_weight", batch, content.device)
    if not (alpha > 0).any() and not (beta > 0).any():
        raise ValueError("Both the content and the style weights are 0: nothing to optimize.")
    if preserve_color not in (None, *PRESERVE_COLOR):
        raise ValueError(f"Unknown preserve_color={preserve_color!r}: use None, "
                         f"{PRESERVE_COLOR[0]!r} or {PRESERVE_COLOR[1]!r}.")
    if preserve_color == "histogram" and content.shape[0] > 1:
        raise ValueError("preserve_color='histogram' recolours the style with one photo's "
                         "colours: give one content image (a batch of weights is fine).")
    if preserve_color == "luminance":
        styles, photo = [match_luminance(s, content) for s in styles], luminance(content)
    else:
        styles = [match_colors(s, content) for s in styles] if preserve_color else styles
        photo = content
    model = resolve_model(model, content.device)
    check_on(content, model.device, "content")
    c_layers = layers_or_default(model, content_layers, 0) if (alpha > 0).any() else []
    s_layers = layers_or_default(model, style_layers, 1) if (beta > 0).any() else []
    s_weights = per_layer_weights(style_layer_weights, s_layers)
    settings = paint_settings(scales_for(sizes, photo.shape[-2:], model.min_size), steps,
                              optimizer, lr, tv_weight, batch, content.device,
                              style_scale=style_scale, autocast=autocast, progress=progress,
                              log_every=log_every, desc="style transfer", pixels=pixels,
                              weights={"content_weight": content_weight,
                                       "style_weight": style_weight, "tv_weight": tv_weight})
    canvas = initial_canvas(init, photo, batch, settings.scales[0], seed, content.device)

    def loss_at(x: torch.Tensor, image: Canvas) -> Callable[[], LossTerms]:
        with torch.no_grad(), _autocast(x, autocast):
            feats = _features(model, resize(photo, x.shape[-2:]), c_layers + s_layers)
        weighted: Weighted = {}
        if c_layers:
            weighted["content"] = (alpha, ContentLoss({n: feats[n] for n in c_layers}))
        if s_layers:  # E_l is normalized by its value for the photo
            style_term = _style_targets(model, styles, blend, s_layers, s_weights, x, settings,
                                        style_stat, style_transform)
            weighted["style"] = (beta, style_term.normalized_at(feats))
        return _objective(model, image, weighted, settings)

    out, history = _coarse_to_fine(canvas, loss_at, settings)
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
    image = check_image(image, "image")
    model = resolve_model(model, image.device)
    check_on(image, model.device)
    layers = model.check_layers(layers, spatial=True)
    settings = paint_settings(scales_for(None, image.shape[-2:], model.min_size), steps,
                              optimizer, lr, tv_weight, image.shape[0], image.device,
                              progress=progress, desc="feature inversion",
                              weights={"tv_weight": tv_weight})
    canvas = initial_canvas(init, image, image.shape[0], settings.scales[0], seed, image.device)

    def loss_at(x: torch.Tensor, current: Canvas) -> Callable[[], LossTerms]:
        with torch.no_grad():
            targets = _features(model, image, layers)
        return _objective(model, current, {"content": (1.0, ContentLoss(targets))}, settings)

    out, history = _coarse_to_fine(canvas, loss_at, settings)
    return (out, history) if return_history else out


def synthesize_texture(style: torch.Tensor | Sequence[torch.Tensor], layers: str | Sequence[str],
                       model: FeatureNetwork | str | None = None,
                       size: int | tuple[int, int] = 256, steps: int = STEPS, *,
                       layer_weights: Sequence[float] | Mapping[str, float] | None = None,
                       style_blend: Sequence[float] | None = None, tv_weight: float = 1.0,
                       optimizer: str = "adam", lr: float | None = None, seed: int = 0,
                       batch: int = 1, progress: bool = True, return_history: bool = False,
                       style_transform: str | None = None
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
        style_transform: None, or ``"softmax"`` (see `style_transfer`).

    Returns:
        (batch, 3, H, W) in [0, 1]; with ``return_history``, (image, History).
    """
    styles = style_list(style)
    check_transform(style_transform)
    blend = blend_weights(style_blend, len(styles))
    batch = check_count(batch, "batch", low=1)
    model = resolve_model(model, styles[0].device)
    for s in styles:
        check_on(s, model.device, "style")
    layers = model.check_layers(layers, spatial=True)
    weights = per_layer_weights(layer_weights, layers)
    hw = check_size(size, "size", model.min_size)
    settings = paint_settings(scales_for(None, hw, model.min_size), steps, optimizer, lr,
                              tv_weight, batch, styles[0].device, progress=progress,
                              desc="texture synthesis", weights={"tv_weight": tv_weight})
    canvas = initial_canvas("noise", None, batch, settings.scales[0], seed, styles[0].device)

    def loss_at(x: torch.Tensor, image: Canvas) -> Callable[[], LossTerms]:
        style_term = _style_targets(model, styles, blend, layers, weights, x, settings,
                                    transform=style_transform)
        with torch.no_grad():  # E_l is normalized by its value for the starting noise
            style_term = style_term.normalized_at(_features(model, x, layers))
        return _objective(model, image, {"style": (1.0, style_term)}, settings)

    out, history = _coarse_to_fine(canvas, loss_at, settings)
    return (out, history) if return_history else out


def _coarse_to_fine(canvas: torch.Tensor,
                    loss_at: Callable[[torch.Tensor, Canvas], Callable[[], LossTerms]],
                    settings: PaintSettings) -> tuple[torch.Tensor, History]:
    """Optimize a canvas scale by scale, each scale starting from the last one's result, upsampled.

    Args:
        canvas: (B, 3, H, W) the starting image at the first scale.
        loss_at: builds the loss closure at one scale (targets taken there once) from the
            starting canvas and the function that returns the canvas being optimized.
        settings: the scales, steps, optimizer and pixel constraint.

    Returns:
        (B, 3, H', W') at the last scale (also when stopped early) and the `History` of all scales.
    """
    x, history = canvas, History()
    for i, (hw, steps) in enumerate(zip(settings.scales, settings.steps)):
        x = resize(x, hw).detach().clone()
        variable, image = _pixel_variable(x, settings.pixels)
        label = f"{settings.desc} {hw[1]}x{hw[0]}"
        if len(settings.scales) > 1:
            label += f" (scale {i + 1}/{len(settings.scales)})"
        clamp = (lambda x=x: x.clamp_(0, 1)) if settings.pixels == "clamp" else None
        history.extend(optimize(variable, loss_at(x, image), steps, optimizer=settings.optimizer,
                                lr=settings.lr, lr_decay=settings.lr_decay, after_step=clamp,
                                progress=settings.progress, desc=label, image=image,
                                log_every=settings.log_every, weights=settings.weights))
        x = image().detach()
        if history.interrupted:  # one Ctrl-C stops every scale: hand back the size asked for
            x = resize(x, settings.scales[-1])
            break
    return x, history


def _pixel_variable(x: torch.Tensor, pixels: str) -> tuple[torch.Tensor, Canvas]:
    """The tensor the optimizer changes, and the function that makes the canvas from it.

    Args:
        x: (B, 3, H, W) the starting canvas in [0, 1].
        pixels: ``"clamp"`` or ``"none"`` (the pixels themselves), or ``"sigmoid"`` (u with
            canvas ``sigmoid(u)``).

    Returns:
        the leaf tensor to optimize, and a callable returning the (B, 3, H, W) canvas.
    """
    if pixels == "sigmoid":
        u = torch.logit(x.clamp(SIGMOID_EDGE, 1 - SIGMOID_EDGE))
        return u, lambda: torch.sigmoid(u)
    return x, lambda: x


def _objective(model: FeatureNetwork, canvas: Canvas, weighted: Weighted,
               settings: PaintSettings) -> Callable[[], LossTerms]:
    """The closure `optimize` calls: each weighted loss summed over the batch, plus TV.

    Args:
        model: the network.
        canvas: returns the (B, 3, H, W) canvas being optimized.
        weighted: term name -> (weight, a float or (B,), and the loss object).
        settings: gives tv_weight and autocast.

    Returns:
        callable: () -> term name -> scalar tensor.
    """
    layers = list(dict.fromkeys(n for _, loss in weighted.values() for n in loss.layers))

    def terms() -> LossTerms:
        x = canvas()
        with _autocast(x, settings.autocast):
            feats = _features(model, x, layers)
        out = {name: (weight * loss(feats)).sum() for name, (weight, loss) in weighted.items()}
        if settings.tv_weight > 0:
            out["tv"] = settings.tv_weight * tv_loss(x, "mean").sum()
        return out

    return terms


def _style_targets(model: FeatureNetwork, styles: list[torch.Tensor], blend: list[float],
                   layers: list[str], weights: Mapping[str, float], canvas: torch.Tensor,
                   settings: PaintSettings, stat: str = "gram",
                   transform: str | None = None) -> StyleLoss:
    """The style loss at one scale: the statistics of the style images sized for the canvas.

    Args:
        model: the network.
        styles: (1, 3, h, w) style images.
        blend: one weight per style image (summing to 1): their Gram matrices are averaged.
        layers: the style layers.
        weights: w_l per layer.
        canvas: (B, 3, H, W): its size sets the style images' size (times ``style_scale``).
        settings: gives style_scale and autocast.
        stat: ``"gram"`` or ``"mean_std"`` (see `nstutils.losses.STYLE_STATS`).
        transform: None or ``"softmax"``, applied to the activations before the statistic.

    Returns:
        StyleLoss with targets: Gram matrices A_l (1, C_l, C_l), or mean/std (1, C_l, 2).
    """
    hw = tuple(canvas.shape[-2:])
    statistic = STYLE_STATS[stat][0]
    targets: dict[str, torch.Tensor] = {}
    with torch.no_grad(), _autocast(canvas, settings.autocast):
        for style, share in zip(styles, blend):
            sized = resize(style, style_size(style, hw, settings.style_scale, model.min_size))
            for name, f in model.features(sized, layers).items():
                targets[name] = targets.get(name, 0) + share * statistic(transformed(f, transform))
    return StyleLoss(targets, weights, stat, transform)


def _features(model: FeatureNetwork, image: torch.Tensor,
              layers: list[str]) -> dict[str, torch.Tensor]:
    """The activations of an image mirrored by BORDER pixels on each side, over the image only.

    Without the mirror, pixels at the border are seen by fewer filter taps than the others and
    fill with coloured noise; with it, every pixel of the canvas has the same context. The
    positions that lie on the mirror are then cut from each map: counted, they would weigh a
    band along the border twice in the statistics, and the optimizer paints that band stronger
    (a frame inside the picture).
    """
    pad = min(BORDER, min(image.shape[-2:]) - 1)
    feats = model.features(F.pad(image, (pad, pad, pad, pad), mode="reflect"), layers)
    return {name: _crop(f, pad // model.stride(name)) for name, f in feats.items()}


def _crop(features: torch.Tensor, margin: int) -> torch.Tensor:
    """Cut ``margin`` positions from each side of (N, C, h, w) maps (none when that leaves none)."""
    if margin == 0 or min(features.shape[-2:]) <= 2 * margin:
        return features
    return features[..., margin:-margin, margin:-margin]


def _autocast(x: torch.Tensor, enabled: bool):
    """bfloat16 autocast on CUDA or the CPU when enabled; a no-op context otherwise."""
    if enabled and x.device.type in ("cuda", "cpu"):
        return torch.autocast(x.device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
