"""Residual networks: He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition",
CVPR 2016 (arXiv:1512.03385).

* ``resnet18`` / ``resnet34``: the ImageNet layout (Table 1), with torchvision's parameter and
  buffer names and shapes (``conv1, bn1, layer1..4.{i}.conv1/bn1/conv2/bn2/downsample.0/.1, fc``),
  so a torchvision state_dict loads with strict=True.  Any input of at least 32x32 works
  (AdaptiveAvgPool2d before fc).
* ``resnet20/32/44/56``: the CIFAR-10 nets of §4.2: a 3x3 conv to 16 channels, then three
  stages of n BasicBlocks with 16, 32, 64 channels on 32x32, 16x16, 8x8 maps (6n+2 layers),
  global average pooling and fc.  The shortcut is the paper's option A (identity, subsampled by
  2 and zero-padded in channels where the shape changes: no parameters) or option B
  (1x1 conv + BN projection there).
* ``plain=True`` builds the same net without any shortcut (the paper's "plain" baselines):
  no downsample modules, so the parameter count drops by exactly the projections' parameters.

Block: y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), both convs 3x3 without bias.
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from ._init import torchvision_init_

__all__ = ["BasicBlock", "ResNet", "CifarResNet", "resnet18", "resnet34", "resnet20", "resnet32",
           "resnet44", "resnet56"]


def conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class _ShortcutA(nn.Module):
    """Option A: x[:, :, ::s, ::s] zero-padded to `planes` channels (pad split evenly)."""

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.stride, self.extra = stride, planes - in_planes

    def forward(self, x):
        if self.stride != 1:
            x = x[:, :, ::self.stride, ::self.stride]
        lo = self.extra // 2
        return F.pad(x, (0, 0, 0, 0, lo, self.extra - lo))

    def extra_repr(self):
        return f"stride={self.stride}, extra_channels={self.extra}"


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers plus a shortcut (torchvision.models.resnet.BasicBlock's names).

    downsample: None (identity), a Module (projection, named 'downsample' as torchvision), and
    plain=True drops the shortcut altogether.
    """

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, plain=False):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride, self.plain = stride, plain

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if not self.plain:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


def _projection(in_planes, planes, stride):
    """Option B: 1x1 conv (stride) + BN, torchvision's downsample.0/.1."""
    return nn.Sequential(conv1x1(in_planes, planes, stride), nn.BatchNorm2d(planes))


def _make_layer(net, planes, blocks, stride, shortcut):
    """torchvision's _make_layer: `blocks` BasicBlocks to `planes` channels, the first with the
    stride and, where the shape changes (and not net.plain), downsample = shortcut(in, planes,
    stride); advances net.inplanes."""
    downsample = None
    if not net.plain and (stride != 1 or net.inplanes != planes):
        downsample = shortcut(net.inplanes, planes, stride)
    layers = [BasicBlock(net.inplanes, planes, stride, downsample, net.plain)]
    net.inplanes = planes
    layers += [BasicBlock(planes, planes, plain=net.plain) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


class ResNet(nn.Module):
    """The ImageNet ResNet with BasicBlocks: (N, in_channels, H, W) -> (N, num_classes).

    stem conv 7x7/2 (64) -> maxpool 3x3/2 -> layer1..4 (64, 128, 256, 512 channels, stride
    1, 2, 2, 2) -> adaptive avg pool -> fc.  Parameters with BN, projections where the shape
    changes, and fc: 11,689,512 for resnet18 and 21,797,672 for resnet34 (1000 classes).
    """

    def __init__(self, layers, num_classes=1000, in_channels=3, plain=False):
        super().__init__()
        self.inplanes, self.plain = 64, plain
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)
        torchvision_init_(self)

    def _make_layer(self, planes, blocks, stride=1):
        return _make_layer(self, planes, blocks, stride, _projection)

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"ResNet: expected input (N, C, H, W), got shape {x.shape}")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


class CifarResNet(nn.Module):
    """He et al. §4.2: (N, 3, 32, 32) -> (N, num_classes), 6n+2 layers.

    conv1 3x3 (16) -> layer1 (n blocks, 16) -> layer2 (n, 32, stride 2) -> layer3 (n, 64,
    stride 2) -> global average pool -> fc.  shortcut='A' (the paper's CIFAR choice, parameter
    free) or 'B' (1x1 projections where the shape changes, named downsample.0/.1).
    """

    def __init__(self, n, num_classes=10, in_channels=3, plain=False, shortcut="A"):
        super().__init__()
        if shortcut not in ("A", "B"):
            raise ValueError(f"CifarResNet: shortcut must be 'A' or 'B', got {shortcut!r}")
        self.n, self.plain, self.shortcut, self.inplanes = n, plain, shortcut, 16
        self.conv1 = conv3x3(in_channels, 16)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(16, n)
        self.layer2 = self._make_layer(32, n, stride=2)
        self.layer3 = self._make_layer(64, n, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes)
        torchvision_init_(self)

    def _make_layer(self, planes, blocks, stride=1):
        return _make_layer(self, planes, blocks, stride, _ShortcutA if self.shortcut == "A" else _projection)

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"CifarResNet: expected input (N, C, H, W), got shape {x.shape}")
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(num_classes=1000, in_channels=3, plain=False):
    """ResNet-18 (He et al. 2016, Table 1; torchvision layout)."""
    return ResNet([2, 2, 2, 2], num_classes, in_channels, plain)


def resnet34(num_classes=1000, in_channels=3, plain=False):
    """ResNet-34 (He et al. 2016, Table 1; torchvision layout)."""
    return ResNet([3, 4, 6, 3], num_classes, in_channels, plain)


def resnet20(num_classes=10, in_channels=3, plain=False, shortcut="A"):
    """CIFAR ResNet-20 (n=3; He et al. 2016, §4.2): 0.27M parameters."""
    return CifarResNet(3, num_classes, in_channels, plain, shortcut)


def resnet32(num_classes=10, in_channels=3, plain=False, shortcut="A"):
    """CIFAR ResNet-32 (n=5; He et al. 2016, §4.2): 0.46M parameters."""
    return CifarResNet(5, num_classes, in_channels, plain, shortcut)


def resnet44(num_classes=10, in_channels=3, plain=False, shortcut="A"):
    """CIFAR ResNet-44 (n=7; He et al. 2016, §4.2): 0.66M parameters."""
    return CifarResNet(7, num_classes, in_channels, plain, shortcut)


def resnet56(num_classes=10, in_channels=3, plain=False, shortcut="A"):
    """CIFAR ResNet-56 (n=9; He et al. 2016, §4.2): 0.85M parameters."""
    return CifarResNet(9, num_classes, in_channels, plain, shortcut)
