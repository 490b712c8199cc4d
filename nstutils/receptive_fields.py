"""Receptive fields: which input pixels a unit of a layer depends on, measured by gradient.

Inside `linearized`, every activation function passes its input through and max-pools average,
so the gradient of one unit is non-zero exactly on the pixels that some path through the
network connects to it. `receptive_field` reads the field's size, stride and offset off that
gradient, growing the probe image until the field fits inside it.
"""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .models import FeatureNetwork

_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SiLU, nn.GELU, nn.Hardtanh,
                nn.Hardswish, nn.Sigmoid, nn.Tanh)


@dataclass(frozen=True)
class ReceptiveField:
    """The input pixels a unit of a layer depends on.

    The unit at row i, column j of the layer's map sees rows ``i * stride + offset`` to
    ``i * stride + offset + size - 1`` of the input (and the same for columns), clipped to it.

    Attributes:
        size: the side of the field in input pixels.
        stride: input pixels between neighbouring units.
        offset: where unit 0's field starts (negative: it begins in the padding).
    """

    size: int
    stride: int
    offset: int

    def box(self, i: int, j: int, image_size: int) -> tuple[int, int, int, int]:
        """Return the field of unit (i, j) as (x0, y0, x1, y1), x1 and y1 exclusive, clipped.

        Args:
            i: the unit's row in the map.
            j: its column.
            image_size: the side of the (square) input image.

        Returns:
            tuple: pixel box inside the image.
        """
        y0, x0 = i * self.stride + self.offset, j * self.stride + self.offset
        clip = lambda v: int(min(max(v, 0), image_size))  # noqa: E731
        return clip(x0), clip(y0), clip(x0 + self.size), clip(y0 + self.size)


@contextlib.contextmanager
def linearized(model: nn.Module) -> Iterator[None]:
    """Inside the block, activation functions pass their input through and max-pools average.

    The gradient of a unit of the linearized network is non-zero exactly on the input pixels
    that some path through the network connects to it: its (theoretical) receptive field.
    """
    handles = []
    for module in model.modules():
        if isinstance(module, _ACTIVATIONS):
            handles.append(module.register_forward_hook(lambda _m, inputs, _out: inputs[0]))
        elif isinstance(module, nn.MaxPool2d):
            def average(m, inputs, _out):
                return F.avg_pool2d(inputs[0], m.kernel_size, m.stride, m.padding, m.ceil_mode,
                                    count_include_pad=True)
            handles.append(module.register_forward_hook(average))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


_FIELDS: dict[tuple[str, str], ReceptiveField] = {}


def receptive_field(model: FeatureNetwork, layer: str, max_size: int = 2048) -> ReceptiveField:
    """Measure the receptive field of a layer's units by gradient (cached per network and layer).

    Args:
        model: the network.
        layer: a layer with a spatial map, e.g. ``"block7"``.
        max_size: the largest probe image tried.

    Returns:
        ReceptiveField: size, stride and offset, in input pixels.
    """
    model.check_layers(layer)
    key = (model.name, layer)
    if key not in _FIELDS:
        size = 128
        while True:
            box, stride = _probe(model, layer, size)
            if min(box[:2]) > 0 and max(box[2:]) < size or size >= max_size:
                break
            size *= 2
        x0, _, x1, _ = box
        h = size // stride
        _FIELDS[key] = ReceptiveField(size=x1 - x0, stride=stride, offset=x0 - (h // 2) * stride)
    return _FIELDS[key]


def _probe(model: FeatureNetwork, layer: str, size: int) -> tuple[tuple[int, int, int, int], int]:
    """Return the support box of the centre unit's gradient, and the layer's stride."""
    x = torch.zeros(1, 3, size, size, device=model.device, requires_grad=True)
    with linearized(model), torch.enable_grad():
        act = model.features(x, layer)[layer]
        if act.dim() != 4:
            raise ValueError(f"{layer} has no spatial map (its output is {tuple(act.shape)}): "
                             "choose a convolutional layer.")
        h, w = act.shape[-2:]
        weights = torch.rand(act.shape[1], generator=torch.Generator().manual_seed(0)) + 0.5
        (act[0, :, h // 2, w // 2] * weights.to(act)).sum().backward()
    support = x.grad.abs().sum(dim=(0, 1)) > 0
    rows = torch.nonzero(support.any(dim=1)).flatten()
    cols = torch.nonzero(support.any(dim=0)).flatten()
    box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    return box, size // h
