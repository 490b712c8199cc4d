"""The `Objective` type: a number computed from activations, to maximize, and its arithmetic.

Objectives compose with ``+``, ``-`` and scalar ``*`` (``channel("block7", 12) - 0.5 *
diversity("block5")``); an objective knows the layers it reads, so one ``model.features`` call
serves every term. The building blocks are in `nstutils.objectives`.

An objective that is a mean over positions also has a **per-position** form,
``objective.maps(acts)``: one (N, h, w) map per layer whose mean is that layer's part of the
value. Sums and multiples keep it. DeepDream uses it to add up an image's objective one tile at a
time.
"""

from collections.abc import Callable, Sequence

import torch

from .models import FeatureNetwork

Activations = dict[str, torch.Tensor]
Maps = dict[str, torch.Tensor]


class Objective:
    """A number computed from activations, to maximize.

    Args:
        fn: activations (layer name -> (N, C, h, w) tensor) -> scalar tensor.
        layers: the layer names ``fn`` reads.
        name: a readable description, used in titles.
        maps: the per-position form, when there is one: activations -> {layer: (N, h, w)
            map}, such that the value is the sum over layers of each map's mean.
    """

    def __init__(self, fn: Callable[[Activations], torch.Tensor], layers: Sequence[str], name: str,
                 maps: Callable[[Activations], Maps] | None = None):
        self._fn = fn
        self._maps = maps
        self.layers = tuple(dict.fromkeys(layers))
        self.name = name

    @classmethod
    def from_maps(cls, maps: Callable[[Activations], Maps], layers: Sequence[str],
                  name: str) -> "Objective":
        """Build an objective from its per-position form alone.

        Args:
            maps: activations -> {layer: (N, h, w) map}.
            layers: the layer names ``maps`` reads.
            name: a readable description.

        Returns:
            Objective: its value is the sum over layers of the maps' means.
        """
        return cls(lambda acts: sum(m.mean() for m in maps(acts).values()), layers, name, maps)

    def __call__(self, acts: Activations) -> torch.Tensor:
        """Evaluate on activations.

        Args:
            acts: layer name -> activation, e.g. ``model.features(x, objective.layers)``.

        Returns:
            scalar tensor (averaged over the batch).
        """
        self._check(acts)
        return self._fn(acts)

    @property
    def per_position(self) -> bool:
        """Whether the objective has a per-position form (`maps`)."""
        return self._maps is not None

    def maps(self, acts: Activations) -> Maps:
        """Evaluate position by position.

        Args:
            acts: layer name -> (N, C, h, w) activation.

        Returns:
            dict: layer -> (N, h, w) map; the value is the sum over layers of the maps' means.
        """
        if self._maps is None:
            raise ValueError(f"{self.name} is not a mean over positions, so it has no "
                             "per-position form: use layer, channel, direction or sums of them.")
        self._check(acts)
        return self._maps(acts)

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

    def _check(self, acts: Activations) -> None:
        missing = [name for name in self.layers if name not in acts]
        if missing:
            raise KeyError(f"The objective {self.name} needs the activations of {missing}: "
                           "compute them with model.features(x, objective.layers).")

    def __repr__(self) -> str:
        return f"Objective({self.name})"

    def __str__(self) -> str:
        return self.name

    # composition: a weighted sum of objectives ----------------------------------------------
    def __add__(self, other: "Objective | float") -> "Objective":
        other = _as_objective(other, "+")
        return _weighted_sum([(1.0, self), (1.0, other)], f"{self.name} + {other._bracketed()}")

    def __radd__(self, other: float) -> "Objective":
        if isinstance(other, (int, float)) and other == 0:  # so that sum([...]) works
            return self
        return _as_objective(other, "+") + self

    def __sub__(self, other: "Objective | float") -> "Objective":
        other = _as_objective(other, "-")
        return _weighted_sum([(1.0, self), (-1.0, other)], f"{self.name} - {other._bracketed()}")

    def __rsub__(self, other: float) -> "Objective":
        return _as_objective(other, "-") - self

    def __mul__(self, factor: float) -> "Objective":
        if not _is_number(factor):
            raise TypeError(f"An objective can only be multiplied by a number, got {factor!r}: "
                            "to combine two objectives, add them.")
        factor = float(factor)
        return _weighted_sum([(factor, self)], f"{factor:g} * {self._bracketed()}")

    __rmul__ = __mul__

    def __truediv__(self, divisor: float) -> "Objective":
        if not _is_number(divisor) or divisor == 0:
            raise TypeError("An objective can only be divided by a non-zero number, "
                            f"got {divisor!r}.")
        return self * (1.0 / divisor)

    def __neg__(self) -> "Objective":
        return _weighted_sum([(-1.0, self)], f"-{self._bracketed()}")

    def _bracketed(self) -> str:
        return f"({self.name})" if (" + " in self.name or " - " in self.name) else self.name


def _weighted_sum(terms: list[tuple[float, Objective]], name: str) -> Objective:
    """Sum of weight * objective; per position too when every term has a per-position form."""
    def fn(acts: Activations) -> torch.Tensor:
        return sum(weight * objective(acts) for weight, objective in terms)

    def maps(acts: Activations) -> Maps:
        out: Maps = {}
        for weight, objective in terms:
            for key, m in objective.maps(acts).items():
                out[key] = out[key] + weight * m if key in out else weight * m
        return out

    per_position = all(objective.per_position for _, objective in terms)
    layers = [read for _, objective in terms for read in objective.layers]
    return Objective(fn, layers, name, maps if per_position else None)


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
