"""MobileNets: depthwise-separable convolutions.

* ``mobilenet_v1``: Howard et al., "MobileNets: Efficient Convolutional Neural Networks for
  Mobile Vision Applications", 2017 (arXiv:1704.04861), Table 1: a 3x3/2 conv to 32 channels,
  13 depthwise-separable blocks (each a ``nn.DepthwiseSeparableConv2d`` with BN + ReLU after
  its depthwise and after its pointwise part), global average pooling, fc.  ``width_mult`` is
  the paper's alpha.  4,231,976 parameters for alpha = 1 and 1000 classes.
* ``mobilenet_v2``: Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
  CVPR 2018 (arXiv:1801.04381), in torchvision's layout (``features.{i}.conv.{j}``, ...), so a
  torchvision state_dict loads with strict=True: 3,504,872 parameters at width_mult 1.
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from ._init import torchvision_init_

__all__ = ["ConvBNActivation", "InvertedResidual", "MobileNetV2", "MobileNetV1", "mobilenet_v2",
           "mobilenet_v1", "make_divisible", "mobilenet_v2_plan", "mobilenet_v1_plan"]


def make_divisible(v, divisor=8, min_value=None):
    """torchvision's _make_divisible: v rounded to the nearest multiple of divisor, never below
    min_value (default divisor) and never more than 10% below v."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


# t (expansion), c (channels), n (repeats), s (stride of the first): Sandler et al. 2018, Table 2
MOBILENET_V2_SETTINGS = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1],
                         [6, 160, 3, 2], [6, 320, 1, 1]]
# (output channels, stride) of MobileNet v1's 13 depthwise-separable blocks: Howard et al. 2017, Table 1
MOBILENET_V1_CFG = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]


def mobilenet_v2_plan(width_mult=1.0, round_nearest=8):
    """MobileNetV2's channel plan at a width: (stem channels, [(inp, oup, stride, expand_ratio)
    per InvertedResidual], last channels), as torchvision computes it.  Data only, so the tests'
    torch twin (tests/torch_zoo.py) builds its own blocks from it."""
    input_channel = make_divisible(32 * width_mult, round_nearest)
    stem, blocks = input_channel, []
    for t, c, n, s in MOBILENET_V2_SETTINGS:
        output_channel = make_divisible(c * width_mult, round_nearest)
        for i in range(n):
            blocks.append((input_channel, output_channel, s if i == 0 else 1, t))
            input_channel = output_channel
    return stem, blocks, make_divisible(1280 * max(1.0, width_mult), round_nearest)


def mobilenet_v1_plan(width_mult=1.0):
    """MobileNet v1's channel plan at width multiplier alpha: (stem channels, [(in, out, stride)
    per depthwise-separable block]).  Data only, as mobilenet_v2_plan."""
    c = stem = max(1, int(32 * width_mult))
    blocks = []
    for out, stride in MOBILENET_V1_CFG:
        out = max(1, int(out * width_mult))
        blocks.append((c, out, stride))
        c = out
    return stem, blocks


class ConvBNActivation(nn.Sequential):
    """Conv2d (no bias, 'same' padding for odd k) -> BatchNorm2d -> ReLU6: torchvision's
    Conv2dNormActivation as MobileNetV2 uses it (children '0', '1', '2')."""

    def __init__(self, in_planes, out_planes, kernel_size=3, stride=1, groups=1):
        padding = (kernel_size - 1) // 2
        super().__init__(nn.Conv2d(in_planes, out_planes, kernel_size, stride, padding, groups=groups, bias=False),
                         nn.BatchNorm2d(out_planes), nn.ReLU6(inplace=True))
        self.out_channels = out_planes


class InvertedResidual(nn.Module):
    """1x1 expansion (t * inp channels, skipped when t = 1) -> 3x3 depthwise (stride) -> 1x1 linear
    projection to oup -> BN; plus x when stride is 1 and inp == oup."""

    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride must be 1 or 2, got {stride}")
        hidden_dim = int(round(inp * expand_ratio))
        self.stride = stride
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(ConvBNActivation(inp, hidden_dim, kernel_size=1))
        layers += [ConvBNActivation(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim),
                   nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    """(N, 3, H, W) -> (N, num_classes); torchvision.models.MobileNetV2's layout and init."""

    SETTINGS = MOBILENET_V2_SETTINGS

    def __init__(self, num_classes=1000, width_mult=1.0, round_nearest=8, dropout=0.2, in_channels=3):
        super().__init__()
        if width_mult <= 0:
            raise ValueError(f"MobileNetV2: width_mult must be positive, got {width_mult}")
        stem, blocks, self.last_channel = mobilenet_v2_plan(width_mult, round_nearest)
        features = [ConvBNActivation(in_channels, stem, stride=2)]
        features += [InvertedResidual(*b) for b in blocks]
        features.append(ConvBNActivation(blocks[-1][1], self.last_channel, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(self.last_channel, num_classes))
        torchvision_init_(self, nonlinearity="leaky_relu", linear_std=0.01)  # torchvision's mode="fan_out" alone

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"MobileNetV2: expected input (N, C, H, W), got shape {x.shape}")
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1)).flatten(1)
        return self.classifier(x)


def build_separable_block(block, nn, conv):
    """Gives `block` MobileNet v1's block around `conv` (with .depthwise and .pointwise), BN and ReLU
    from the namespace `nn` (pycnn's here, torch's in tests/torch_zoo.py: torchvision has no v1)."""
    block.conv = conv
    block.bn1 = nn.BatchNorm2d(conv.depthwise.out_channels)
    block.bn2 = nn.BatchNorm2d(conv.pointwise.out_channels)
    block.relu = nn.ReLU(inplace=True)


def run_separable_block(block, x):
    """depthwise -> bn1 -> ReLU -> pointwise -> bn2 -> ReLU."""
    x = block.relu(block.bn1(block.conv.depthwise(x)))
    return block.relu(block.bn2(block.conv.pointwise(x)))


class DepthwiseSeparableBlock(nn.Module):
    """MobileNet v1's block: depthwise 3x3 -> BN -> ReLU -> pointwise 1x1 -> BN -> ReLU, the two
    convs being those of one nn.DepthwiseSeparableConv2d (keys conv.depthwise.weight, ...)."""

    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        build_separable_block(self, nn, nn.DepthwiseSeparableConv2d(in_channels, out_channels, 3, stride=stride,
                                                                    padding=1, bias=False))

    def forward(self, x):
        return run_separable_block(self, x)


class MobileNetV1(nn.Module):
    """(N, 3, H, W) -> (N, num_classes): Howard et al. 2017, Table 1, width multiplier alpha."""

    CFG = MOBILENET_V1_CFG

    def __init__(self, num_classes=1000, width_mult=1.0, dropout=0.0, in_channels=3):
        super().__init__()
        if width_mult <= 0:
            raise ValueError(f"MobileNetV1: width_mult must be positive, got {width_mult}")
        c, blocks = mobilenet_v1_plan(width_mult)
        layers = [nn.Sequential(nn.Conv2d(in_channels, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c),
                                nn.ReLU(inplace=True))]
        layers += [DepthwiseSeparableBlock(*b) for b in blocks]
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(blocks[-1][1], num_classes)
        torchvision_init_(self)  # convs only: the BNs are already 1 and 0, fc keeps nn.Linear's init

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"MobileNetV1: expected input (N, C, H, W), got shape {x.shape}")
        return self.fc(self.dropout(self.avgpool(self.features(x)).flatten(1)))


def mobilenet_v2(num_classes=1000, width_mult=1.0, in_channels=3, dropout=0.2):
    """MobileNetV2 (Sandler et al. 2018; torchvision layout)."""
    return MobileNetV2(num_classes, width_mult, dropout=dropout, in_channels=in_channels)


def mobilenet_v1(num_classes=1000, width_mult=1.0, in_channels=3, dropout=0.0):
    """MobileNet v1 (Howard et al. 2017) built from nn.DepthwiseSeparableConv2d."""
    return MobileNetV1(num_classes, width_mult, dropout, in_channels)
