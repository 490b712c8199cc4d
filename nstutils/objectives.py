"""Objectives for feature visualization: what "make this unit fire" means, as a number.

An `Objective` turns the activations of a batch of images into one number to **maximize**. The
building blocks are

- ``neuron(layer, c)``: unit c at one position (the centre by default) of a layer;
- ``channel(layer, c)``: channel c averaged over all positions;
- ``layer(layer)``: the mean square of a whole layer (the DeepDream objective);
- ``class_logit("goldfish")``: the logit of an ImageNet class (``class_probability`` for its
  softmax probability, to see why logits are the better target);
- ``diversity(layer)``: how alike the images of a batch are (their Gram matrices' mean cosine
  similarity); subtract it to get a batch of *different* images for the same unit.

They compose with ``+``, ``-`` and scalar ``*``:
``channel("block7", 12) - 0.5 * diversity("block5")``.
An objective knows the layers it reads (``objective.layers``), so one ``model.features`` call
serves every term.
"""

from collections.abc import Callable, Sequence

import torch

from .models import FeatureNetwork, class_index
from .losses import gram_matrix

Activations = dict[str, torch.Tensor]


class Objective:
    """A number computed from activations, to maximize.

    Args:
        fn: activations (layer name -> (N, C, h, w) tensor) -> scalar tensor.
        layers: the layer names ``fn`` reads.
        name: a readable description, used in titles.
    """

    def __init__(self, fn: Callable[[Activations], torch.Tensor], layers: Sequence[str], name: str):
        self._fn = fn
        self.layers = tuple(dict.fromkeys(layers))
        self.name = name

    def __call__(self, acts: Activations) -> torch.Tensor:
        """Evaluate on activations.

        Args:
            acts: layer name -> activation, e.g. ``model.features(x, objective.layers)``.

        Returns:
            scalar tensor (averaged over the batch).
        """
        missing = [name for name in self.layers if name not in acts]
        if missing:
            raise KeyError(f"The objective {self.name} needs the activations of {missing}: "
                           "compute them with model.features(x, objective.layers).")
        return self._fn(acts)

    def value(self, model: FeatureNetwork, images: torch.Tensor) -> float:
        """Evaluate on images, without gradients.

        Args:
            model: the network.
            images: (N, 3, H, W) in [0, 1].

        Returns:
            float: the objective.
        """
        with torch.no_grad():
            return float(self(model.features(images, self.layers)))

    def __repr__(self) -> str:
        return f"Objective({self.name})"

    def __str__(self) -> str:
        return self.name

    # composition ---------------------------------------------------------------------------
    def __add__(self, other: "Objective | float") -> "Objective":
        other = _as_objective(other, "+")
        return Objective(lambda acts: self(acts) + other(acts), self.layers + other.layers,
                         f"{self.name} + {other._bracketed()}")

    def __radd__(self, other: float) -> "Objective":
        if isinstance(other, (int, float)) and other == 0:  # so that sum([...]) works
            return self
        return _as_objective(other, "+") + self

    def __sub__(self, other: "Objective | float") -> "Objective":
        other = _as_objective(other, "-")
        return Objective(lambda acts: self(acts) - other(acts), self.layers + other.layers,
                         f"{self.name} - {other._bracketed()}")

    def __rsub__(self, other: float) -> "Objective":
        return _as_objective(other, "-") - self

    def __mul__(self, factor: float) -> "Objective":
        if not _is_number(factor):
            raise TypeError(f"An objective can only be multiplied by a number, got {factor!r}: "
                            "to combine two objectives, add them.")
        factor = float(factor)
        return Objective(lambda acts: factor * self(acts), self.layers,
                         f"{factor:g} * {self._bracketed()}")

    __rmul__ = __mul__

    def __truediv__(self, divisor: float) -> "Objective":
        if not _is_number(divisor) or divisor == 0:
            raise TypeError("An objective can only be divided by a non-zero number, "
                            f"got {divisor!r}.")
        return self * (1.0 / divisor)

    def __neg__(self) -> "Objective":
        return Objective(lambda acts: -self(acts), self.layers, f"-{self._bracketed()}")

    def _bracketed(self) -> str:
        return f"({self.name})" if (" + " in self.name or " - " in self.name) else self.name


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_objective(value: "Objective | float", op: str) -> Objective:
    if isinstance(value, Objective):
        return value
    if _is_number(value):
        constant = float(value)
        return Objective(lambda acts: torch.tensor(constant), (), f"{constant:g}")
    raise TypeError(f"Cannot combine an objective with {type(value).__name__} using {op!r}: "
                    "use another objective (nstutils.channel(...), ...) or a number.")


def _check_name(layer: str) -> None:
    if not isinstance(layer, str):
        raise TypeError(f"A layer is named by a string such as 'block7', got {layer!r}.")


def _check_index(index: int, what: str) -> int:
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ValueError(f"{what} must be an int >= 0, got {index!r}.")
    return index


def _channel_of(acts: Activations, layer: str, channel: int) -> torch.Tensor:
    act = acts[layer]
    if channel >= act.shape[1]:
        raise ValueError(f"{layer} has {act.shape[1]} channels (0 to {act.shape[1] - 1}); "
                         f"channel {channel} does not exist.")
    return act[:, channel]


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


def neuron(layer: str, channel: int, y: int | None = None, x: int | None = None,
           batch: int | None = None) -> Objective:
    """One unit: channel ``channel`` of ``layer`` at one position.

    Args:
        layer: e.g. ``"block7"``.
        channel: the channel index.
        y: the row in the activation map; the centre when None.
        x: the column; the centre when None.
        batch: only this image of the batch; all images when None.

    Returns:
        Objective: the unit's activation, averaged over the batch (or of image ``batch``).
    """
    _check_name(layer)
    _check_index(channel, "channel")

    def fn(acts: Activations) -> torch.Tensor:
        maps = _select(_channel_of(acts, layer, channel), batch)
        h, w = maps.shape[-2:]
        row = h // 2 if y is None else y
        col = w // 2 if x is None else x
        if not (0 <= row < h and 0 <= col < w):
            raise ValueError(f"Position ({row}, {col}) is outside the {h}x{w} map of {layer}.")
        return maps[:, row, col].mean()

    where = "" if y is None and x is None else f", y={y}, x={x}"
    return Objective(fn, [layer], f"neuron({layer}, {channel}{where}{_batch_tag(batch)})")


def channel(layer: str, channel: int, batch: int | None = None) -> Objective:
    """A channel: one feature detector, averaged over every position of its map.

    Args:
        layer: e.g. ``"block7"``.
        channel: the channel index.
        batch: only this image of the batch; all images when None. Summing
            ``channel(layer, c, batch=i)`` over i visualizes several channels in one run.

    Returns:
        Objective: the channel's mean activation over positions (and batch).
    """
    _check_name(layer)
    index = _check_index(channel, "channel")
    return Objective(lambda acts: _select(_channel_of(acts, layer, index), batch).mean(), [layer],
                     f"channel({layer}, {index}{_batch_tag(batch)})")


def layer(layer: str) -> Objective:
    """A whole layer's energy: the mean of its squared activations (DeepDream's objective).

    Args:
        layer: e.g. ``"block5"``.

    Returns:
        Objective: mean of activation^2 over channels, positions and batch.
    """
    _check_name(layer)
    return Objective(lambda acts: acts[layer].pow(2).mean(), [layer], f"layer({layer})")


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
