"""AlexNet and VGG in torchvision's layouts (parameter names ``features.{i}``, ``classifier.{i}``
as torchvision's, so its state_dicts load with strict=True).

* AlexNet: Krizhevsky, Sutskever, Hinton, "ImageNet Classification with Deep Convolutional
  Neural Networks", NeurIPS 2012, in the one-GPU variant of torchvision (Krizhevsky 2014,
  "One weird trick", arXiv:1404.5997): 61,100,840 parameters for 1000 classes.
* VGG-11 ("configuration A"), with or without BatchNorm: Simonyan, Zisserman, "Very Deep
  Convolutional Networks for Large-Scale Image Recognition", ICLR 2015 (arXiv:1409.1556):
  132,863,336 parameters (vgg11) and 132,868,840 (vgg11_bn).

Both end in an AdaptiveAvgPool2d to the 6x6 / 7x7 map the classifier expects, so smaller
inputs work: VGG from 32x32 (its five 2x2 pools leave 1x1, replicated to 7x7), AlexNet from
63x63 (its stride-4 conv and three 3x3/2 pools need that much).
"""
from __future__ import annotations

from .. import nn
from ._init import torchvision_init_

__all__ = ["AlexNet", "VGG", "alexnet", "vgg11", "vgg11_bn", "make_vgg_layers", "VGG_CFGS"]

# channels per 3x3 conv, "M" a 2x2/2 max pool (torchvision's cfgs)
VGG_CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class AlexNet(nn.Module):
    """(N, 3, H >= 63, W >= 63) -> (N, num_classes); torchvision.models.AlexNet's layout."""

    def __init__(self, num_classes=1000, dropout=0.5, in_channels=3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes))

    def forward(self, x):
        if x.ndim != 4 or min(x.shape[2:]) < 63:
            raise ValueError(f"AlexNet: expected input (N, C, H, W) with H, W >= 63 (the stride-4 conv and "
                             f"three 3x3/2 pools need that much), got shape {x.shape}")
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def make_vgg_layers(cfg, batch_norm=False, in_channels=3):
    """torchvision's make_layers: conv3x3(pad 1) [+ BatchNorm2d] + ReLU per number, MaxPool 2x2 per "M"."""
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))
            in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """features -> AdaptiveAvgPool2d(7x7) -> Linear(512*49, 4096) -> ReLU -> Dropout ->
    Linear(4096, 4096) -> ReLU -> Dropout -> Linear(4096, num_classes) (torchvision.models.VGG)."""

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes))
        if init_weights:
            torchvision_init_(self, linear_std=0.01)

    def forward(self, x):
        if x.ndim != 4 or min(x.shape[2:]) < 32:
            raise ValueError(f"VGG: expected input (N, C, H, W) with H, W >= 32 (five 2x2 pools), got shape {x.shape}")
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def vgg11(num_classes=1000, in_channels=3, dropout=0.5):
    """VGG-11, configuration A (Simonyan & Zisserman 2015)."""
    return VGG(make_vgg_layers(VGG_CFGS["A"], False, in_channels), num_classes, dropout=dropout)


def vgg11_bn(num_classes=1000, in_channels=3, dropout=0.5):
    """VGG-11 (configuration A) with BatchNorm after each conv (torchvision's vgg11_bn)."""
    return VGG(make_vgg_layers(VGG_CFGS["A"], True, in_channels), num_classes, dropout=dropout)


def alexnet(num_classes=1000, in_channels=3, dropout=0.5):
    """AlexNet (Krizhevsky et al. 2012; torchvision's one-GPU layout)."""
    return AlexNet(num_classes, dropout, in_channels)
