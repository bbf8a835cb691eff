"""Three building blocks of modern CNNs as their PyTorch implementations write them, ported to
pycnn by changing the imports: MobileNet's depthwise-separable convolution (v1) and inverted
residual (v2, torchvision's InvertedResidual), an Inception block with 1x1 reductions
(torchvision's GoogLeNet Inception / BasicConv2d), and a small encoder-decoder (U-Net style:
ConvTranspose2d up-sampling, skip connections by concatenation).  Each gets a forward, a
backward and SGD steps on a fixed random batch; the script prints each one's loss.

    python examples/blocks.py --quick
"""
import argparse
from typing import Optional

import pycnn
import pycnn.nn as nn
import pycnn.nn.functional as F
from pycnn import Tensor


# ----------------------------------------------------------------------------- MobileNet
def _make_divisible(v: float, divisor: int, min_value: Optional[int] = None) -> int:
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    # Make sure that round down does not go down by more than 10%.
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class DepthwiseSeparable(nn.Module):
    """MobileNet v1: a 3x3 depthwise conv (groups = channels) then a 1x1 pointwise conv, each with BN + ReLU."""

    def __init__(self, inp: int, oup: int, stride: int = 1) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False)
        self.bn1 = nn.BatchNorm2d(inp)
        self.pointwise = nn.Conv2d(inp, oup, 1, 1, 0, bias=False)
        self.bn2 = nn.BatchNorm2d(oup)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.bn1(self.depthwise(x)))
        return F.relu(self.bn2(self.pointwise(x)))


class ConvBNReLU(nn.Sequential):
    def __init__(self, in_planes: int, out_planes: int, kernel_size: int = 3, stride: int = 1, groups: int = 1) -> None:
        padding = (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(in_planes, out_planes, kernel_size, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(out_planes),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        self.stride = stride
        if stride not in [1, 2]:
            raise ValueError(f"stride should be 1 or 2 instead of {stride}")

        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = self.stride == 1 and inp == oup

        layers = []
        if expand_ratio != 1:
            # pw
            layers.append(ConvBNReLU(inp, hidden_dim, kernel_size=1))
        layers.extend(
            [
                # dw
                ConvBNReLU(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim),
                # pw-linear
                nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
                nn.BatchNorm2d(oup),
            ]
        )
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup
        self._is_cn = stride > 1

    def forward(self, x: Tensor) -> Tensor:
        if self.use_res_connect:
            return x + self.conv(x)
        else:
            return self.conv(x)


class TinyMobileNet(nn.Module):
    """A stem, a depthwise-separable block and two inverted residuals (one with the residual), a classifier."""

    def __init__(self, num_classes: int = 10, width_mult: float = 1.0) -> None:
        super().__init__()
        c = [_make_divisible(v * width_mult, 8) for v in (16, 24, 24)]
        self.features = nn.Sequential(
            ConvBNReLU(3, c[0], stride=2),
            DepthwiseSeparable(c[0], c[0]),
            InvertedResidual(c[0], c[1], 2, 6),
            InvertedResidual(c[1], c[2], 1, 6),
        )
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(c[2], num_classes))

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        x = pycnn.flatten(x, 1)
        return self.classifier(x)


# ----------------------------------------------------------------------------- Inception
class BasicConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, **kwargs) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(x)
        x = self.bn(x)
        return F.relu(x, inplace=True)


class Inception(nn.Module):
    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
                 pool_proj: int) -> None:
        super().__init__()
        conv_block = BasicConv2d
        self.branch1 = conv_block(in_channels, ch1x1, kernel_size=1)

        self.branch2 = nn.Sequential(
            conv_block(in_channels, ch3x3red, kernel_size=1), conv_block(ch3x3red, ch3x3, kernel_size=3, padding=1)
        )

        self.branch3 = nn.Sequential(
            conv_block(in_channels, ch5x5red, kernel_size=1),
            # Here, kernel_size=3 instead of kernel_size=5 is a known bug (torchvision keeps it).
            conv_block(ch5x5red, ch5x5, kernel_size=3, padding=1),
        )

        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            conv_block(in_channels, pool_proj, kernel_size=1),
        )

    def _forward(self, x: Tensor):
        branch1 = self.branch1(x)
        branch2 = self.branch2(x)
        branch3 = self.branch3(x)
        branch4 = self.branch4(x)

        outputs = [branch1, branch2, branch3, branch4]
        return outputs

    def forward(self, x: Tensor) -> Tensor:
        outputs = self._forward(x)
        return pycnn.cat(outputs, 1)


# ----------------------------------------------------------------------------- encoder-decoder
class DoubleConv(nn.Module):
    """(conv => BN => ReLU) * 2"""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.double_conv(x)


class Up(nn.Module):
    """Upscaling by a stride-2 ConvTranspose2d, then the skip concatenated, then double conv."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
        self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        x1 = self.up(x1)
        # input is CHW: pad x1 to x2's size when the sizes are odd
        diffY = x2.size()[2] - x1.size()[2]
        diffX = x2.size()[3] - x1.size()[3]
        x1 = F.pad(x1, [diffX // 2, diffX - diffX // 2, diffY // 2, diffY - diffY // 2])
        x = pycnn.cat([x2, x1], dim=1)
        return self.conv(x)


class EncoderDecoder(nn.Module):
    """A two-level U-Net: per-pixel class scores of the input's size."""

    def __init__(self, n_channels: int = 3, n_classes: int = 2, base: int = 8) -> None:
        super().__init__()
        self.inc = DoubleConv(n_channels, base)
        self.down1 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(base, base * 2))
        self.down2 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(base * 2, base * 4))
        self.up1 = Up(base * 4, base * 2)
        self.up2 = Up(base * 2, base)
        self.outc = nn.Conv2d(base, n_classes, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x = self.up1(x3, x2)
        x = self.up2(x, x1)
        return self.outc(x)


# ----------------------------------------------------------------------------- a few steps each
def build(name: str) -> nn.Module:
    """The models this script trains, by name (also used by tests/test_examples.py under torch)."""
    if name == "mobilenet":
        return TinyMobileNet(num_classes=10)
    if name == "inception":
        return nn.Sequential(BasicConv2d(3, 32, kernel_size=3, padding=1), Inception(32, 16, 8, 16, 4, 8, 8),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(48, 10))
    if name == "encoder_decoder":
        return EncoderDecoder(3, 2, base=8)
    raise ValueError(f"unknown model {name!r}")


def train_steps(name: str, steps: int, batch: int, size: int):
    """`steps` SGD steps on one fixed random batch: (first loss, last loss)."""
    model = build(name)
    x = pycnn.randn(batch, 3, size, size)
    if name == "encoder_decoder":  # a per-pixel target: is the pixel brighter than its image's mean?
        target = (x.mean(1) > x.mean((1, 2, 3), keepdim=True).squeeze(1)).long()
    else:
        target = pycnn.randint(0, 10, (batch,))
    criterion = nn.CrossEntropyLoss()
    optimizer = pycnn.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = criterion(model(x), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses[0], losses[-1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="a few seconds: 6 steps on 8 images of 16x16")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.batch_size, args.size = 6, 8, 16
    pycnn.manual_seed(0)
    for name in ("mobilenet", "inception", "encoder_decoder"):
        first, last = train_steps(name, args.steps, args.batch_size, args.size)
        print(f"{name}: first loss: {first:.4f} final loss: {last:.4f}")


if __name__ == "__main__":
    main()
