"""Small nets the experiments train on the 8x8 digits in seconds."""
from __future__ import annotations

from pycnn import nn


class SmallCNN(nn.Module):
    """(N, 1, 8, 8) -> (N, classes): conv3x3(16)-Norm-ReLU-pool -> conv3x3(32)-Norm-ReLU-pool -> fc(64)-ReLU -> fc.
    norm: a factory C, H -> Module (None: no normalization).  .features: the two conv stages; .head: the two fc layers."""

    def __init__(self, num_classes=10, norm=None, width=16):
        super().__init__()
        n = norm or (lambda c, h: nn.Identity())
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), n(width, 8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), n(2 * width, 4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten())
        self.head = nn.Sequential(nn.Linear(2 * width * 4, 64), nn.ReLU(), nn.Linear(64, num_classes))

    def forward(self, x):
        return self.head(self.features(x))


NORMS = {
    "none": None,
    "batch": lambda c, h: nn.BatchNorm2d(c),
    "layer": lambda c, h: nn.LayerNorm([c, h, h]),
    "instance": lambda c, h: nn.InstanceNorm2d(c, affine=True),
    "group": lambda c, h: nn.GroupNorm(4, c),
}


class SigmoidStack(nn.Module):
    """The notes' setting: (N, 1, H, W) -> (N, classes), a 3x3 conv stem to `width` channels, then
    `depth` blocks x -> sigmoid(conv3x3(x)) (plain) or x -> x + sigmoid(conv3x3(x)) (residual),
    no normalization, PyTorch's default init; global average pool and fc."""

    def __init__(self, depth, residual, width=16, num_classes=10):
        super().__init__()
        self.residual = residual
        self.stem = nn.Conv2d(1, width, 3, padding=1)
        self.blocks = nn.ModuleList([nn.Conv2d(width, width, 3, padding=1) for _ in range(depth)])
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x, keep=None):
        x = self.stem(x)
        for conv in self.blocks:
            if keep is not None:
                x.retain_grad()
                keep.append(x)
            y = conv(x).sigmoid()
            x = x + y if self.residual else y
        return self.fc(x.mean((2, 3)))


def cifar_forward(model, x, keep=None):
    """models.CifarResNet's forward, keeping every block's input (retain_grad) in `keep`."""
    x = model.relu(model.bn1(model.conv1(x)))
    for layer in (model.layer1, model.layer2, model.layer3):
        for block in layer:
            if keep is not None:
                x.retain_grad()
                keep.append(x)
            x = block(x)
    return model.fc(model.avgpool(x).flatten(1))
