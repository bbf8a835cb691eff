"""The training-step models of bench_train.py and bench_step_ab.py, written once over a library's
``nn`` (pycnn's or torch's: the same names, so one builder gives both and their state_dicts
match key for key).  Imports neither library itself, so bench_step_ab.py can time one library
per process.

    lenet5       LeNet-5 (ReLU, max pools), 1x32x32
    resnet8      CIFAR ResNet, n=1 (16/32/64 channels, BatchNorm, 1x1 projection shortcuts), 3x32x32
    resnet20     the same with n=3
    mobile       MobileNet-style: depthwise-separable blocks 32 -> 256 channels, 3x32x32
    inception    two Inception blocks (1x1, 1x1-3x3, 1x1-5x5, pool-1x1 branches) on a 32-channel stem
"""
from __future__ import annotations

MODELS = ("lenet5", "resnet8", "resnet20", "mobile", "inception")


def input_shape(kind, batch):
    return (batch, 1, 32, 32) if kind == "lenet5" else (batch, 3, 32, 32)


def build(lib, kind):
    nn = lib.nn

    def cbr(cin, cout, s=1, g=1, k=3):
        return [nn.Conv2d(cin, cout, k, s, k // 2, groups=g, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    if kind == "lenet5":
        return nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                             nn.ReLU(), nn.Linear(84, 10))
    if kind == "mobile":
        layers = cbr(3, 32)
        for cin, cout, s in [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1)]:
            layers += cbr(cin, cin, s, cin) + cbr(cin, cout, 1, 1, 1)
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 10)]
        return nn.Sequential(*layers)

    if kind == "inception":
        class Inception(nn.Module):
            def __init__(self, cin, c1, c3r, c3, c5r, c5, cp):
                super().__init__()
                self.b1 = nn.Sequential(*cbr(cin, c1, k=1))
                self.b2 = nn.Sequential(*cbr(cin, c3r, k=1), *cbr(c3r, c3))
                self.b3 = nn.Sequential(*cbr(cin, c5r, k=1), *cbr(c5r, c5, k=5))
                self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), *cbr(cin, cp, k=1))

            def forward(self, x):
                return lib.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)

        return nn.Sequential(*cbr(3, 32), Inception(32, 16, 16, 32, 4, 8, 8), nn.MaxPool2d(2),
                             Inception(64, 32, 32, 64, 8, 16, 16), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(128, 10))

    class Block(nn.Module):
        def __init__(self, cin, cout, s):
            super().__init__()
            self.c1, self.b1 = nn.Conv2d(cin, cout, 3, s, 1, bias=False), nn.BatchNorm2d(cout)
            self.c2, self.b2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
            self.sc = (nn.Sequential(nn.Conv2d(cin, cout, 1, s, bias=False), nn.BatchNorm2d(cout))
                       if s != 1 or cin != cout else None)
            self.relu = nn.ReLU()

        def forward(self, x):
            out = self.relu(self.b1(self.c1(x)))
            out = self.b2(self.c2(out))
            out = out + (x if self.sc is None else self.sc(x))
            return self.relu(out)

    n = {"resnet8": 1, "resnet20": 3}[kind]
    layers, cin = cbr(3, 16), 16
    for cout, s in [(16, 1), (32, 2), (64, 2)]:
        for i in range(n):
            layers.append(Block(cin, cout, s if i == 0 else 1))
            cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def train_step(lib, model, batch, kind, seed=0):
    """One step as a user writes it: zero_grad, forward, cross_entropy, backward, SGD with momentum."""
    import numpy as np
    rng = np.random.default_rng(seed)
    x = lib.tensor(rng.standard_normal(input_shape(kind, batch)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, batch))
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    F = lib.nn.functional

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step
