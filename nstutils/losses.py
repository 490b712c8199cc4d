"""The losses of the course's image-optimization lessons: content, style, total variation.

For activations F (generated image) and P (content image) of shape (C, H, W), and V the
activations of a layer flattened to (C, H*W), as in the lecture notes:

- content loss: ``L_content = sum_ijk (F_ijk - P_ijk)^2`` (Gatys et al. put 1/2 in front);
- the Gram matrix ``G = V V^T`` (C x C: how strongly every channel co-fires with every other);
  the lecture writes it ``V^T V`` with V stored as (H*W, C), the same matrix;
- the style loss of layer l: ``E_l = sum_ij (G_ij - A_ij)^2`` with A the style image's Gram
  matrix, and ``L_style = sum_l w_l E_l``;
- the other definition of style (Huang & Belongie's AdaIN, 2017): each channel's mean mu_c and
  standard deviation sigma_c over the positions, and per layer
  ``E_l = sum_c (mu_c - mu_c^t)^2 + (sigma_c - sigma_c^t)^2`` with mu^t, sigma^t the style
  image's: it ignores how channels co-fire, and still transfers a style;
- the total variation ``sum (x[i+1, j] - x[i, j])^2 + (x[i, j+1] - x[i, j])^2`` that keeps an
  image smooth.

They are pure functions of tensors. Every loss returns one value per image, shape (N,), so a batch
of images can be optimized at once with different weights. Style transfer, feature inversion and
texture synthesis (`nstutils.style`), the real-time stylizer (`nstutils.stylizer`) and diversity
in feature visualization compose them.
"""

import contextlib
from collections.abc import Callable, Mapping

import torch

from .activations import check_transform, transformed
from .validate import check_activations

GRAM_NORMALIZATIONS = ("none", "hw", "chw")
REDUCTIONS = ("sum", "mean")
STD_EPS = 1e-5  # added to the variance before its square root, whose gradient is infinite at 0


def gram_matrix(features: torch.Tensor, normalize: str = "hw") -> torch.Tensor:
    """Compute the Gram matrix G = V V^T of each image's activations (channel co-activations).

    Args:
        features: (N, C, H, W) activations of one layer.
        normalize: ``"none"`` (the plain sum over the H*W positions), ``"hw"`` (divide by H*W: the
            mean over positions, so images of any size compare), or ``"chw"`` (divide by C*H*W,
            as in many tutorials).

    Returns:
        (N, C, C) symmetric Gram matrices: float32 (float64 for float64 features), also under
        autocast.
    """
    features = check_activations(features, "gram_matrix")
    if normalize not in GRAM_NORMALIZATIONS:
        raise ValueError(f"Unknown normalize={normalize!r}: use one of {GRAM_NORMALIZATIONS}.")
    n, c, h, w = features.shape
    v = features.reshape(n, c, h * w)
    with _without_autocast(v.device.type):
        gram = _Gram.apply(v)
    divisor = {"none": 1, "hw": h * w, "chw": c * h * w}[normalize]
    return gram / divisor if divisor != 1 else gram


class _Gram(torch.autograd.Function):
    """V V^T whose backward is one batched product, (dG + dG^T) V, where autograd would do two."""

    @staticmethod
    def forward(ctx, v: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(v)
        return torch.bmm(v, v.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (v,) = ctx.saved_tensors
        return torch.bmm(grad + grad.transpose(1, 2), v)


def content_loss(features: torch.Tensor, target: torch.Tensor,
                 reduction: str = "sum") -> torch.Tensor:
    """Compute the content loss: the squared distance between two images' activations.

    Args:
        features: (N, C, H, W) activations of the generated images.
        target: (1 or N, C, H, W) activations of the content image (the content targets).
        reduction: ``"sum"`` (sum over C, H, W, the literature's definition; Gatys et al. put a
            1/2 in front) or ``"mean"`` (divide by C*H*W, so layers of any size compare).

    Returns:
        (N,) one loss per image.
    """
    _check_pair(features, target, "features", "target")
    if reduction not in REDUCTIONS:
        raise ValueError(f"Unknown reduction={reduction!r}: use one of {REDUCTIONS}.")
    squared = (features.float() - target.float()).pow(2).flatten(1)
    return squared.sum(1) if reduction == "sum" else squared.mean(1)


def layer_style_loss(features: torch.Tensor, target_gram: torch.Tensor,
                     normalize: str = "hw") -> torch.Tensor:
    """Compute E_l, the style loss of one layer: sum_ij (G_ij - A_ij)^2.

    Args:
        features: (N, C, H, W) activations of the generated images at layer l.
        target_gram: (1 or N, C, C) the style image's Gram matrix A at layer l.
        normalize: the Gram normalization, as in `gram_matrix` (use the same for both).

    Returns:
        (N,) E_l for each image.
    """
    gram = gram_matrix(features, normalize)
    _check_pair(gram, target_gram, "gram_matrix(features)", "target_gram")
    return (gram - target_gram.float()).pow(2).sum(dim=(1, 2))


def style_loss(features: Mapping[str, torch.Tensor], target_grams: Mapping[str, torch.Tensor],
               weights: Mapping[str, float | torch.Tensor] | None = None,
               normalize: str = "hw") -> torch.Tensor:
    """Compute the style loss L_style = sum_l w_l E_l over several layers.

    Args:
        features: layer -> (N, C_l, H_l, W_l) activations of the generated images.
        target_grams: layer -> (1 or N, C_l, C_l) Gram matrices of the style image.
        weights: layer -> w_l (a float, or an (N,) tensor for per-image weights); 1/L each
            (L layers) when None.
        normalize: the Gram normalization, as in `gram_matrix`.

    Returns:
        (N,) one loss per image.
    """
    return _weighted_sum(features, target_grams, weights, "target_grams", "a target Gram matrix",
                         lambda f, a: layer_style_loss(f, a, normalize))


def mean_std(features: torch.Tensor) -> torch.Tensor:
    """Compute each channel's mean and standard deviation over the positions (AdaIN's statistics).

    Args:
        features: (N, C, H, W) activations of one layer.

    Returns:
        (N, C, 2): ``[..., 0]`` the means mu_c, ``[..., 1]`` the standard deviations
        ``sigma_c = sqrt(var_c + STD_EPS)`` (population variance); float32 (float64 for float64
        features).
    """
    v = check_activations(features, "mean_std").flatten(2)
    var, mean = torch.var_mean(v, dim=2, correction=0)
    return torch.stack([mean, (var + STD_EPS).sqrt()], dim=-1)


def layer_mean_std_loss(features: torch.Tensor, target_stats: torch.Tensor) -> torch.Tensor:
    """Compute E_l for the mean/std style: sum_c (mu_c - mu_c^t)^2 + (sigma_c - sigma_c^t)^2.

    Args:
        features: (N, C, H, W) activations of the generated images at layer l.
        target_stats: (1 or N, C, 2) the style image's `mean_std` at layer l.

    Returns:
        (N,) E_l for each image.
    """
    stats = mean_std(features)
    _check_pair(stats, target_stats, "mean_std(features)", "target_stats")
    return (stats - target_stats.float()).pow(2).sum(dim=(1, 2))


def mean_std_loss(features: Mapping[str, torch.Tensor], target_stats: Mapping[str, torch.Tensor],
                  weights: Mapping[str, float | torch.Tensor] | None = None) -> torch.Tensor:
    """Compute the mean/std style loss sum_l w_l E_l over several layers (AdaIN's definition).

    Args:
        features: layer -> (N, C_l, H_l, W_l) activations of the generated images.
        target_stats: layer -> (1 or N, C_l, 2) `mean_std` of the style image.
        weights: layer -> w_l (a float, or an (N,) tensor for per-image weights); 1/L each
            (L layers) when None.

    Returns:
        (N,) one loss per image.
    """
    return _weighted_sum(features, target_stats, weights, "target_stats",
                         "target statistics", layer_mean_std_loss)


# The style statistics a style loss can compare: the statistic of one layer's activations
# (N, C, H, W) and the E_l that compares it with the style image's.
STYLE_STATS = {"gram": (gram_matrix, layer_style_loss),
               "mean_std": (mean_std, layer_mean_std_loss)}


def check_style_stat(stat: str) -> str:
    """Refuse an unknown style statistic, naming the known ones.

    Args:
        stat: ``"gram"`` or ``"mean_std"``.

    Returns:
        str: ``stat``.
    """
    if stat not in STYLE_STATS:
        raise ValueError(f"Unknown style_stat={stat!r}: use 'gram' (Gatys et al.'s channel "
                         "correlations) or 'mean_std' (AdaIN's per-channel mean and std).")
    return stat


def _weighted_sum(features: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor],
                  weights: Mapping[str, float | torch.Tensor] | None, what: str, target: str,
                  layer_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """sum_l w_l layer_loss(F_l, target_l) over the layers of ``targets``; w_l = 1/L when None."""
    layers = list(targets)
    if not layers:
        raise ValueError(f"The style loss needs at least one layer in {what}.")
    missing = [name for name in layers if name not in features]
    if missing:
        raise ValueError(f"No activations given for the style layers {missing}.")
    if weights is None:
        weights = {name: 1 / len(layers) for name in layers}
    unknown = [name for name in weights if name not in targets]
    if unknown:
        raise ValueError(f"Weights given for layers without {target}: {unknown}.")
    return sum(weights.get(name, 0.0) * layer_loss(features[name], targets[name])
               for name in layers)


def tv_loss(image: torch.Tensor, reduction: str = "sum") -> torch.Tensor:
    """Compute the total variation: squared differences between neighbouring pixels.

    Args:
        image: (N, C, H, W).
        reduction: ``"sum"`` (sum of all squared vertical and horizontal differences) or
            ``"mean"`` (the mean vertical plus the mean horizontal squared difference, so images
            of any size compare).

    Returns:
        (N,) one value per image.
    """
    if not isinstance(image, torch.Tensor) or image.dim() != 4:
        raise ValueError("tv_loss takes images shaped (N, C, H, W).")
    if reduction not in REDUCTIONS:
        raise ValueError(f"Unknown reduction={reduction!r}: use one of {REDUCTIONS}.")
    down = (image[:, :, 1:, :] - image[:, :, :-1, :]).pow(2).flatten(1)
    right = (image[:, :, :, 1:] - image[:, :, :, :-1]).pow(2).flatten(1)
    if reduction == "sum":
        return down.sum(1) + right.sum(1)
    return down.mean(1) + right.mean(1)


def _check_pair(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    for t, name in ((a, name_a), (b, name_b)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a tensor, got {type(t).__name__}.")
    if a.dim() != b.dim() or a.shape[1:] != b.shape[1:] or b.shape[0] not in (1, a.shape[0]):
        raise ValueError(f"{name_a} is shaped {tuple(a.shape)} but {name_b} is shaped "
                         f"{tuple(b.shape)}: they must match (the second may have batch 1). "
                         "Were they taken at the same layer, from images of the same size?")


def _without_autocast(device_type: str):
    """A context that turns autocast off where the device has it, so a product stays float32."""
    if torch.amp.is_autocast_available(device_type):
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()


class ContentLoss:
    """The content term of an optimization: its targets P are taken once, then compared each step.

    Each layer's `content_loss` (reduction "mean") is divided by the mean square of its targets,
    so every layer starts on the same footing; the layers' values are averaged.

    Args:
        targets: layer -> (1 or N, C, H, W) activations P of the content image(s).
    """

    def __init__(self, targets: Mapping[str, torch.Tensor]):
        if not targets:
            raise ValueError("ContentLoss needs the targets of at least one layer.")
        self.targets = {name: p.detach().float() for name, p in targets.items()}
        self.scales = {name: p.pow(2).flatten(1).mean(1).clamp_min(1e-12)
                       for name, p in self.targets.items()}

    @property
    def layers(self) -> list[str]:
        """The layers this loss reads."""
        return list(self.targets)

    def __call__(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Compare activations with the targets.

        Args:
            features: layer -> (N, C, H, W) activations of the generated images.

        Returns:
            (N,) the mean over layers of content_loss / mean(P^2).
        """
        per_layer = [content_loss(features[n], p, "mean") / self.scales[n]
                     for n, p in self.targets.items()]
        return sum(per_layer) / len(per_layer)


class StyleLoss:
    """The style term of an optimization: targets taken once, `style_loss` each step.

    Args:
        targets: layer -> the style image's statistic: (1, C, C) Gram matrices A (normalization
            ``"hw"``), or (1, C, 2) `mean_std` statistics with ``stat="mean_std"``.
        weights: layer -> w_l (a float or a (1 or N,) tensor).
        stat: ``"gram"`` (`style_loss`) or ``"mean_std"`` (`mean_std_loss`).
        transform: None, or ``"softmax"``: the activations go through
            `nstutils.activations.softmax_activations` before the statistic (the targets must
            have been taken the same way).
    """

    def __init__(self, targets: Mapping[str, torch.Tensor],
                 weights: Mapping[str, float | torch.Tensor], stat: str = "gram",
                 transform: str | None = None):
        if not targets:
            raise ValueError("StyleLoss needs the targets of at least one layer.")
        self.targets = {name: t.detach().float() for name, t in targets.items()}
        self.weights = dict(weights)
        self.stat = check_style_stat(stat)
        self.transform = check_transform(transform)

    @property
    def layers(self) -> list[str]:
        """The layers this loss reads."""
        return list(self.targets)

    def normalized_at(self, features: Mapping[str, torch.Tensor]) -> "StyleLoss":
        """Divide each w_l by E_l at some reference activations, so every layer starts near w_l.

        Args:
            features: layer -> (1 or N, C, H, W) activations of the reference image(s): the
                photo in style transfer, the starting noise in texture synthesis.

        Returns:
            StyleLoss: the same targets, weights ``w_l / E_l(reference)``, shape (1 or N,).
        """
        layer_loss = STYLE_STATS[self.stat][1]
        weights = {}
        for name, target in self.targets.items():
            start = layer_loss(transformed(features[name].detach(), self.transform), target)
            weights[name] = self.weights[name] / start.clamp_min(1e-12 + 1e-8 * target.pow(2).sum())
        return StyleLoss(self.targets, weights, self.stat, self.transform)

    def __call__(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Compare activations with the targets.

        Args:
            features: layer -> (N, C, H, W) activations of the generated images.

        Returns:
            (N,) sum_l w_l E_l.
        """
        loss = style_loss if self.stat == "gram" else mean_std_loss
        if self.transform is not None:
            features = {name: transformed(features[name], self.transform) for name in self.targets}
        return loss(features, self.targets, self.weights)
