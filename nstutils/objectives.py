"""The building blocks of feature visualization and DeepDream: what "make this unit fire" means.

Each returns an `Objective` (see `nstutils.objective`), a number to **maximize** computed from a
batch's activations; they compose with ``+``, ``-`` and scalar ``*``:
``channel("block7", 12) - 0.5 * diversity("block5")``.

- ``neuron(layer, index)``: unit ``index`` at one position (the centre by default) of a layer;
- ``channel(layer, index)``: that channel averaged over all positions;
- ``layer(name)``: the mean square of a whole layer (DeepDream's objective); with
  ``channel=c``, the mean square of one channel;
- ``direction(layer, vector)``: how far each position's feature vector points along ``vector``
  (guided DeepDream climbs a guide image's mean feature vector);
- ``class_logit("goldfish")``: the logit of an ImageNet class (``class_probability`` for its
  softmax probability, to see why logits are the better target);
- ``diversity(layer)``: how alike the images of a batch are (their Gram matrices' mean cosine
  similarity); subtract it to get a batch of *different* images for the same unit.

``layer``, ``channel`` and ``direction`` are means over positions, so they (and their sums) have
a per-position form, which DeepDream's tiles use.
"""

import torch

from .losses import gram_matrix
from .models import class_index
from .objective import Activations, Maps, Objective
from .validate import TargetError, check_count

__all__ = ["Objective", "neuron", "channel", "layer", "direction", "class_logit",
           "class_probability", "gram_similarity", "diversity"]


def _check_name(layer: str) -> None:
    if not isinstance(layer, str):
        raise TypeError(f"A layer is named by a string such as 'block7', got {layer!r}.")


def _check_index(index: int, what: str) -> int:
    return check_count(index, what, error=TargetError)


def _channel_of(acts: Activations, layer: str, index: int) -> torch.Tensor:
    act = acts[layer]
    if index >= act.shape[1]:
        raise ValueError(f"{layer} has {act.shape[1]} channels (0 to {act.shape[1] - 1}); "
                         f"channel {index} does not exist.")
    return act[:, index]


def _select(values: torch.Tensor, batch: int | None) -> torch.Tensor:
    """Keep one image of the batch (as a batch of one), or all of them."""
    if batch is None:
        return values
    if not 0 <= batch < values.shape[0]:
        raise ValueError(f"batch={batch} but only {values.shape[0]} images are optimized: "
                         f"pass batch={batch + 1} or more to visualize.")
    return values[batch:batch + 1]


def _batch_tag(batch: int | None) -> str:
    if batch is None:
        return ""
    _check_index(batch, "batch")
    return f", batch={batch}"


def neuron(layer: str, index: int, y: int | None = None, x: int | None = None,
           batch: int | None = None) -> Objective:
    """One unit: channel ``index`` of ``layer`` at one position.

    Args:
        layer: e.g. ``"block7"``.
        index: the channel index.
        y: the row in the activation map; the centre when None.
        x: the column; the centre when None.
        batch: only this image of the batch; all images when None.

    Returns:
        Objective: the unit's activation, averaged over the batch (or of image ``batch``).
    """
    _check_name(layer)
    _check_index(index, "channel")

    def fn(acts: Activations) -> torch.Tensor:
        maps = _select(_channel_of(acts, layer, index), batch)
        h, w = maps.shape[-2:]
        row = h // 2 if y is None else y
        col = w // 2 if x is None else x
        if not (0 <= row < h and 0 <= col < w):
            raise ValueError(f"Position ({row}, {col}) is outside the {h}x{w} map of {layer}.")
        return maps[:, row, col].mean()

    where = "" if y is None and x is None else f", y={y}, x={x}"
    return Objective(fn, [layer], f"neuron({layer}, {index}{where}{_batch_tag(batch)})")


def channel(layer: str, index: int, batch: int | None = None) -> Objective:
    """A channel: one feature detector, averaged over every position of its map.

    Args:
        layer: e.g. ``"block7"``.
        index: the channel index.
        batch: only this image of the batch; all images when None. Summing
            ``channel(layer, c, batch=i)`` over i visualizes several channels in one run.

    Returns:
        Objective: the channel's mean activation over positions (and batch); per position, the
        channel's (N, h, w) map.
    """
    _check_name(layer)
    _check_index(index, "channel")
    return Objective.from_maps(lambda acts: {layer: _select(_channel_of(acts, layer, index), batch)},
                               [layer], f"channel({layer}, {index}{_batch_tag(batch)})")


def layer(name: str, channel: int | None = None) -> Objective:
    """A layer's energy: the mean of its squared activations (DeepDream's objective).

    Args:
        name: the layer, e.g. ``"block5"``.
        channel: only this channel's squared activations; the whole layer when None.

    Returns:
        Objective: mean of activation^2 over channels (or the one channel), positions and batch;
        per position, the (N, h, w) map of the mean over channels of activation^2.
    """
    _check_name(name)
    if channel is None:
        return Objective.from_maps(lambda acts: {name: acts[name].pow(2).mean(1)}, [name],
                                   f"layer({name})")
    _check_index(channel, "channel")
    return Objective.from_maps(lambda acts: {name: _channel_of(acts, name, channel).pow(2)},
                               [name], f"layer({name}, channel={channel})")


def direction(layer: str, vector: torch.Tensor, label: str | None = None) -> Objective:
    """How far the layer's feature vectors point along a direction, position by position.

    Guided DeepDream climbs ``direction(layer, v)`` with ``v`` a guide image's mean feature
    vector, so every position of the dream becomes more like the guide.

    Args:
        layer: e.g. ``"block11"``.
        vector: (C,) the direction in the layer's channel space (not normalized).
        label: a short description of the vector for the name, e.g. ``"guide"``.

    Returns:
        Objective: the mean over positions (and batch) of each feature vector's dot product
        with ``vector``, divided by C; per position, the (N, h, w) map of those dot products / C.
    """
    _check_name(layer)
    if not isinstance(vector, torch.Tensor) or vector.dim() != 1:
        raise ValueError(f"direction needs a (C,) vector, got {getattr(vector, 'shape', vector)}.")
    vector = vector.detach()

    def maps(acts: Activations) -> Maps:
        act = acts[layer]
        if act.dim() != 4 or act.shape[1] != vector.numel():
            raise ValueError(f"{layer} has activations of shape {tuple(act.shape)}, which do not "
                             f"match a direction of {vector.numel()} channels.")
        return {layer: torch.einsum("nchw,c->nhw", act, vector.to(act)) / act.shape[1]}

    return Objective.from_maps(maps, [layer], f"direction({layer}, {label or 'vector'})")


def _class_index(label: str | int) -> int:
    if isinstance(label, str):
        return class_index(label)
    index = _check_index(label, "class index")
    if index >= 1000:
        raise ValueError(f"ImageNet classes are numbered 0 to 999, got {index}.")
    return index


def class_logit(label: str | int, batch: int | None = None) -> Objective:
    """The logit (pre-softmax score) of an ImageNet class.

    Args:
        label: a class name such as ``"goldfish"``, or its index (0-999).
        batch: only this image of the batch; all images when None.

    Returns:
        Objective: the logit, averaged over the batch (or of image ``batch``).
    """
    index = _class_index(label)
    return Objective(lambda acts: _select(acts["logits"][:, index], batch).mean(), ["logits"],
                     f"class_logit({label}{_batch_tag(batch)})")


def class_probability(label: str | int) -> Objective:
    """The softmax probability of an ImageNet class (raised also by lowering the other classes).

    Args:
        label: a class name or its index.

    Returns:
        Objective: the probability, averaged over the batch.
    """
    index = _class_index(label)
    return Objective(lambda acts: acts["logits"].softmax(dim=1)[:, index].mean(), ["logits"],
                     f"class_probability({label})")


def gram_similarity(act: torch.Tensor) -> torch.Tensor:
    """Return the cosine similarity between the Gram matrices of every pair of images.

    Args:
        act: (N, C, h, w) activations.

    Returns:
        (N, N) similarities in [-1, 1] (1 on the diagonal).
    """
    grams = gram_matrix(act, normalize="none").flatten(1)  # the scale cancels in the cosine
    grams = grams / grams.norm(dim=1, keepdim=True).clamp(min=1e-8)
    return grams @ grams.T


def diversity(layer: str) -> Objective:
    """How alike the images of a batch are: their Gram matrices' mean pairwise cosine similarity.

    Subtract it from another objective (``channel(...) - w * diversity(...)``) so each image of
    the batch excites the unit in its own way.

    Args:
        layer: the layer whose Gram matrices (channel correlations) are compared.

    Returns:
        Objective: mean similarity over pairs of different images, in [-1, 1].
    """
    _check_name(layer)

    def fn(acts: Activations) -> torch.Tensor:
        act = acts[layer]
        n = act.shape[0]
        if n < 2:
            raise ValueError("diversity compares the images of a batch: optimize at least two "
                             "(e.g. nstutils.visualize(..., batch=4)).")
        similarity = gram_similarity(act)
        return (similarity.sum() - similarity.diagonal().sum()) / (n * (n - 1))

    return Objective(fn, [layer], f"diversity({layer})")
