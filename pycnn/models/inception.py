"""Inception modules with 1x1 reductions: Szegedy et al., "Going Deeper with Convolutions",
CVPR 2015 (arXiv:1409.4842), Figure 2(b).

``Inception(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)`` takes
torchvision's argument and submodule names (branch1..branch4 of BasicConv2d: conv without
bias -> BatchNorm2d(eps=0.001) -> ReLU).  The third branch is a true 5x5 conv as in the paper
(torchvision's GoogLeNet uses 3x3 there, a known deviation), so its weight is
(ch5x5, ch5x5red, 5, 5).  Output channels: ch1x1 + ch3x3 + ch5x5 + pool_proj.

``InceptionNet``: a small GoogLeNet-style net for 32x32 input (CIFAR-sized): a 3x3 stem, two
Inception modules at 32x32, a 3x3/2 max pool, two at 16x16, a pool, one at 8x8, global
average pooling, dropout and fc.
"""
from __future__ import annotations

from .. import nn
from ..ops import cat

__all__ = ["BasicConv2d", "Inception", "InceptionNet", "inception_small"]


class BasicConv2d(nn.Module):
    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


def build_branches(block, nn, basic_conv, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
    """Gives `block` torchvision's branch1..branch4, from the namespace `nn` and basic_conv(cin,
    cout, **conv_kwargs) (pycnn's here, torch's in tests/torch_zoo.py; this block's third branch
    is the paper's 5x5, not torchvision's, so no torchvision state_dict to follow)."""
    block.branch1 = basic_conv(in_channels, ch1x1, kernel_size=1)
    block.branch2 = nn.Sequential(basic_conv(in_channels, ch3x3red, kernel_size=1),
                                  basic_conv(ch3x3red, ch3x3, kernel_size=3, padding=1))
    block.branch3 = nn.Sequential(basic_conv(in_channels, ch5x5red, kernel_size=1),
                                  basic_conv(ch5x5red, ch5x5, kernel_size=5, padding=2))
    block.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                  basic_conv(in_channels, pool_proj, kernel_size=1))


class Inception(nn.Module):
    """Four parallel branches concatenated along channels: 1x1; 1x1 -> 3x3; 1x1 -> 5x5;
    3x3/1 max pool -> 1x1.  The 1x1 reductions cut the 3x3/5x5 convs' cost by C_in / C_red."""

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        build_branches(self, nn, BasicConv2d, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)
        self.in_channels, self.out_channels = in_channels, ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Inception: expected input (N, {self.in_channels}, H, W), got shape {x.shape}")
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionNet(nn.Module):
    """(N, in_channels, 32, 32) -> (N, num_classes) (any H, W >= 4 works: adaptive pooling)."""

    def __init__(self, num_classes=10, in_channels=3, dropout=0.2):
        super().__init__()
        self.stem = BasicConv2d(in_channels, 64, kernel_size=3, padding=1)
        self.inception3a = Inception(64, 32, 48, 64, 8, 16, 16)        # -> 128
        self.inception3b = Inception(128, 64, 64, 96, 16, 48, 32)      # -> 240
        self.maxpool3 = nn.MaxPool2d(3, stride=2, padding=1)
        self.inception4a = Inception(240, 96, 48, 104, 8, 24, 32)      # -> 256
        self.inception4b = Inception(256, 80, 56, 112, 12, 32, 32)     # -> 256
        self.maxpool4 = nn.MaxPool2d(3, stride=2, padding=1)
        self.inception5a = Inception(256, 128, 80, 160, 16, 64, 64)    # -> 416
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(416, num_classes)

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"InceptionNet: expected input (N, C, H, W), got shape {x.shape}")
        x = self.inception3b(self.inception3a(self.stem(x)))
        x = self.inception4b(self.inception4a(self.maxpool3(x)))
        x = self.inception5a(self.maxpool4(x))
        return self.fc(self.dropout(self.avgpool(x).flatten(1)))


def inception_small(num_classes=10, in_channels=3, dropout=0.2):
    """A small GoogLeNet-style net for 32x32 images (Szegedy et al. 2015's modules)."""
    return InceptionNet(num_classes, in_channels, dropout)
