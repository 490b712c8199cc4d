"""Activation maximization: optimize an image so that an objective of the network grows.

``visualize(channel("block7", 12))`` starts from a faint random image and takes gradient steps
on its parameters (see `nstutils.param`) to raise the objective (see `nstutils.objectives`). At
every step the image first goes through the regularizers (see `nstutils.transforms`): random
shifts, scales and rotations it must survive (``transforms``), and terms added to the loss
(``penalties``). With ``param="pixel", transforms=[]`` it is naive gradient ascent on the pixels.
"""

from collections.abc import Sequence

import torch

from .devices import default_device
from .models import FeatureNetwork, resolve_model
from .objectives import Objective
from .optim import History, optimize
from .param import ImageParam, make_param
from .transforms import (Jitter, Penalty, RandomScale, Transform, apply_transforms, check_pieces,
                         standard_transforms)
from .validate import check_count, check_memory, check_size

DEFAULT_SIZE = 128


def visualize(objective: Objective, model: FeatureNetwork | None = None,
              size: int | tuple[int, int] | None = None, steps: int = 256,
              transforms: Sequence[Transform] | None = None, penalties: Sequence[Penalty] = (),
              param: str | ImageParam = "fourier", batch: int | None = None, lr: float = 0.05,
              lr_decay: float = 1.0, seed: int = 0, progress: bool = True,
              return_history: bool = False) -> torch.Tensor | tuple[torch.Tensor, History]:
    """Find an image that maximizes an objective, by gradient ascent on its parameters.

    Args:
        objective: what to maximize, e.g. ``nstutils.channel("block7", 12)``.
        model: the network; the offline default (EfficientNet-Lite0) when None.
        size: the image side, or (H, W); 128 when None (or the size of ``param`` if given).
        steps: optimization steps (Adam).
        transforms: `Transform` pieces from `nstutils.transforms` (``Jitter(8)``, ``Blur(1.0)``
            ...), applied to the image in order at every step; `standard_transforms()` when
            None, ``[]`` for none.
        penalties: `Penalty` pieces (``L2Decay(1.0)``), each added to the loss as a term of its
            own name.
        param: ``"fourier"`` (Fourier spectrum with colour decorrelation), ``"pixel"`` (plain
            R, G, B pixels), or an `ImageParam` to start from (it is copied, never changed).
        batch: how many images to optimize together (1 when None, or the batch of ``param``);
            each gets the same objective unless it includes ``diversity``.
        lr: Adam's learning rate on the parameters.
        lr_decay: the rate falls along a half cosine to ``lr * lr_decay`` at the last step (1
            keeps it constant). A higher ``lr`` that decays to a tenth reaches a bold picture in
            about half the steps (notebook 02's class visualizations).
        seed: seeds the random start and the random transforms.
        progress: show a progress bar.
        return_history: also return the `History` of the loss terms.

    Returns:
        (batch, 3, H, W) image in [0, 1]; with ``return_history``, (image, History). The loss
        term ``"objective"`` is minus the objective.
    """
    if not isinstance(objective, Objective):
        raise TypeError(f"Expected an objective such as nstutils.channel('block7', 12), got "
                        f"{type(objective).__name__}.")
    model = resolve_model(model, default_device())
    model.check_layers(list(objective.layers))
    size, batch = _resolve_shape(param, size, batch)
    hw = check_size(size, "size", model.min_size)
    batch = check_count(batch, "batch", low=1)
    check_memory(hw, batch, model.device, f"size={size!r}")
    image_param = make_param(param, size, batch, seed, model.device)
    transforms = check_pieces(standard_transforms() if transforms is None else transforms,
                              "transforms")
    penalties = check_pieces(penalties, "penalties")
    generator = torch.Generator().manual_seed(seed)

    def loss_fn() -> dict[str, torch.Tensor]:
        image = image_param()
        seen = apply_transforms(image, transforms, generator)
        terms = {"objective": -objective(model.features(seen, list(objective.layers)))}
        for penalty in penalties:  # two penalties of one kind add up under one name
            terms[penalty.name] = terms.get(penalty.name, 0) + penalty(image)
        return terms

    history = optimize(image_param.params, loss_fn, steps, lr=lr, lr_decay=lr_decay,
                       progress=progress,
                       desc=f"visualize {objective.name}", image=image_param)
    with torch.no_grad():
        image = image_param().detach()
    return (image, history) if return_history else image


def _resolve_shape(param: str | ImageParam, size, batch) -> tuple[tuple[int, int] | int, int]:
    """Take the shape from ``param`` when it is an ImageParam, refusing a conflicting one."""
    if not isinstance(param, ImageParam):
        return (DEFAULT_SIZE if size is None else size), (1 if batch is None else batch)
    if size is not None and tuple(param.size) != check_size(size):
        raise ValueError(f"size={size} conflicts with the given param of size {param.size}: "
                         "leave size out, or build the param at that size.")
    if batch is not None and batch != param.batch:
        raise ValueError(f"batch={batch} conflicts with the given param's batch of {param.batch}.")
    return param.size, param.batch


def robust_score(model: FeatureNetwork, objective: Objective, images: torch.Tensor,
                 samples: int = 16, jitter: int = 16,
                 scales: Sequence[float] = (0.8, 0.9, 1.0, 1.1, 1.2), seed: int = 0) -> float:
    """Score images by the objective averaged over random shifts and scales.

    An image that only excites the unit through a fragile pixel pattern scores low here; the
    features a unit really detects survive being moved a little.

    Args:
        model: the network.
        objective: what to measure.
        images: (N, 3, H, W) in [0, 1].
        samples: how many random transformations to average over.
        jitter: the largest shift in pixels.
        scales: the candidate scale factors.
        seed: the seed of the transformations.

    Returns:
        float: the mean objective.
    """
    generator = torch.Generator().manual_seed(seed)
    pieces = [Jitter(jitter), RandomScale(scales)]
    total = 0.0
    for _ in range(samples):
        total += objective.value(model, apply_transforms(images, pieces, generator))
    return total / samples
