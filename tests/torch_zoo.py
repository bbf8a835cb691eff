"""Plain torch.nn definitions of the zoo's architectures, for comparison (torchvision is not a
dependency).  Module names, order and shapes follow torchvision's source (resnet.py, vgg.py,
alexnet.py, mobilenetv2.py, googlenet.py's BasicConv2d) and pycnn.models for the architectures
torchvision lacks, so state_dict keys match exactly.

Where torchvision has the model, the code here is written independently of pycnn's (only the
channel plans, which are data, come from pycnn.models: mobilenet_v2_plan).  Where pycnn's own
design is the only spec (the EncoderDecoder's wiring, MobileNet v1's block and plan, the 5x5
Inception block's branches), the torch twin is built by the same builder over torch.nn, so these
compare each torch op's numerics, gradients and parameter names/shapes, not the wiring."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pycnn.models.encoder_decoder import build_layers, double_conv_layers, run_layers
from pycnn.models.inception import build_branches
from pycnn.models.mobilenet import build_separable_block, mobilenet_v1_plan, mobilenet_v2_plan, run_separable_block


# ------------------------------------------------------------------------------ LeNet-5
class LeNet5(nn.Module):
    """pycnn.models.LeNet5's layout (ReLU, 2x2 max pools); also the torch side of
    bench/bench_train.py and bench/bench_cuda.py."""

    def __init__(self, num_classes=10, in_channels=1):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(in_channels, 6, 5), nn.Conv2d(6, 16, 5)
        self.pool = nn.MaxPool2d(2)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool(self.conv1(x).relu())
        x = self.pool(self.conv2(x).relu()).flatten(1)
        return self.fc3(self.fc2(self.fc1(x).relu()).relu())


# ------------------------------------------------------------------------------ ResNet
class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None, plain=False):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.plain = plain

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if not self.plain:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


class ShortcutA(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.stride, self.extra = stride, planes - in_planes

    def forward(self, x):
        x = x[:, :, ::self.stride, ::self.stride]
        lo = self.extra // 2
        return F.pad(x, (0, 0, 0, 0, lo, self.extra - lo))


class ResNet(nn.Module):
    def __init__(self, layers, num_classes=1000, plain=False):
        super().__init__()
        self.inplanes, self.plain = 64, plain
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], 2)
        self.layer3 = self._make_layer(256, layers[2], 2)
        self.layer4 = self._make_layer(512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if not self.plain and (stride != 1 or self.inplanes != planes):
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
        layers = [BasicBlock(self.inplanes, planes, stride, downsample, self.plain)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes, plain=self.plain) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class CifarResNet(nn.Module):
    def __init__(self, n, num_classes=10, plain=False, shortcut="A"):
        super().__init__()
        self.inplanes, self.plain, self.shortcut = 16, plain, shortcut
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(16, n)
        self.layer2 = self._make_layer(32, n, 2)
        self.layer3 = self._make_layer(64, n, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes)

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if not self.plain and (stride != 1 or self.inplanes != planes):
            downsample = (ShortcutA(self.inplanes, planes, stride) if self.shortcut == "A" else
                          nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)))
        layers = [BasicBlock(self.inplanes, planes, stride, downsample, self.plain)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes, plain=self.plain) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(**kw):
    return ResNet([2, 2, 2, 2], **kw)


def resnet34(**kw):
    return ResNet([3, 4, 6, 3], **kw)


# ------------------------------------------------------------------------------ VGG / AlexNet
class AlexNet(nn.Module):
    def __init__(self, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
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
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def make_vgg_layers(cfg, batch_norm=False):
    layers, in_channels = [], 3
    for v in cfg:
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
        else:
            conv2d = nn.Conv2d(in_channels, v, kernel_size=3, padding=1)
            layers += [conv2d, nn.BatchNorm2d(v), nn.ReLU(inplace=True)] if batch_norm else [conv2d, nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


CFG_A = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]


def vgg11(**kw):
    return VGG(make_vgg_layers(CFG_A, False), **kw)


def vgg11_bn(**kw):
    return VGG(make_vgg_layers(CFG_A, True), **kw)


# ------------------------------------------------------------------------------ MobileNets
class Conv2dNormActivation(nn.Sequential):
    def __init__(self, in_planes, out_planes, kernel_size=3, stride=1, groups=1):
        padding = (kernel_size - 1) // 2
        super().__init__(nn.Conv2d(in_planes, out_planes, kernel_size, stride, padding, groups=groups, bias=False),
                         nn.BatchNorm2d(out_planes), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden_dim, kernel_size=1))
        layers.extend([Conv2dNormActivation(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim),
                       nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)])
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes=1000, width_mult=1.0, round_nearest=8, dropout=0.2):
        super().__init__()
        stem, blocks, self.last_channel = mobilenet_v2_plan(width_mult, round_nearest)  # the channel plan (data)
        features = [Conv2dNormActivation(3, stem, stride=2)]
        features += [InvertedResidual(inp, oup, stride, t) for inp, oup, stride, t in blocks]
        features.append(Conv2dNormActivation(blocks[-1][1], self.last_channel, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(self.last_channel, num_classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


class DepthwiseSeparableConv2d(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)


class DSBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        build_separable_block(self, nn, DepthwiseSeparableConv2d(cin, cout, stride))

    def forward(self, x):
        return run_separable_block(self, x)


class MobileNetV1(nn.Module):
    def __init__(self, num_classes=1000, width_mult=1.0):
        super().__init__()
        c, blocks = mobilenet_v1_plan(width_mult)  # the channel plan (data)
        layers = [nn.Sequential(nn.Conv2d(3, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True))]
        layers += [DSBlock(cin, cout, stride) for cin, cout, stride in blocks]
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.0)
        self.fc = nn.Linear(blocks[-1][1], num_classes)

    def forward(self, x):
        return self.fc(self.dropout(torch.flatten(self.avgpool(self.features(x)), 1)))


# ------------------------------------------------------------------------------ Inception
class BasicConv2d(nn.Module):
    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Inception(nn.Module):
    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        build_branches(self, nn, BasicConv2d, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = BasicConv2d(3, 64, kernel_size=3, padding=1)
        self.inception3a = Inception(64, 32, 48, 64, 8, 16, 16)
        self.inception3b = Inception(128, 64, 64, 96, 16, 48, 32)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, padding=1)
        self.inception4a = Inception(240, 96, 48, 104, 8, 24, 32)
        self.inception4b = Inception(256, 80, 56, 112, 12, 32, 32)
        self.maxpool4 = nn.MaxPool2d(3, stride=2, padding=1)
        self.inception5a = Inception(256, 128, 80, 160, 16, 64, 64)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(416, num_classes)

    def forward(self, x):
        x = self.inception3b(self.inception3a(self.stem(x)))
        x = self.inception4b(self.inception4a(self.maxpool3(x)))
        x = self.inception5a(self.maxpool4(x))
        return self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))


# ------------------------------------------------------------------------------ TCN
class CausalConv1d(nn.Module):
    def __init__(self, cin, cout, k, dilation):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k) * 0.1)
        self.bias = nn.Parameter(torch.randn(cout) * 0.1)
        self.pad, self.dilation = dilation * (k - 1), dilation

    def forward(self, x):
        return F.conv1d(F.pad(x, (self.pad, 0)), self.weight, self.bias, dilation=self.dilation)


class TemporalBlock(nn.Module):
    def __init__(self, cin, cout, k, dilation):
        super().__init__()
        self.conv1 = CausalConv1d(cin, cout, k, dilation)
        self.conv2 = CausalConv1d(cout, cout, k, dilation)
        self.downsample = nn.Conv1d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        out = F.relu(self.conv2(F.relu(self.conv1(x))))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class TCN(nn.Module):
    def __init__(self, num_inputs, num_channels, kernel_size=2, num_outputs=None):
        super().__init__()
        blocks, c = [], num_inputs
        for i, out in enumerate(num_channels):
            blocks.append(TemporalBlock(c, out, kernel_size, 2 ** i))
            c = out
        self.network = nn.Sequential(*blocks)
        self.head = nn.Linear(c, num_outputs) if num_outputs is not None else None

    def forward(self, x):
        y = self.network(x)
        return y if self.head is None else self.head(y[:, :, -1])


# ------------------------------------------------------------------------------ EncoderDecoder
def double_conv(cin, cout):
    return nn.Sequential(*double_conv_layers(nn, cin, cout))


class Up(nn.Module):
    def __init__(self, cin, cout, mode):
        super().__init__()
        self.mode = mode
        if mode == "transposed":
            self.up = nn.ConvTranspose2d(cin, cout, 2, stride=2)
        else:
            self.reduce = nn.Conv2d(cin, cout, 1)
            if mode == "max_unpool":
                self.up = nn.MaxUnpool2d(2)

    def forward(self, x, indices=None, output_size=None):
        if self.mode == "transposed":
            return self.up(x)
        x = self.reduce(x)
        if self.mode == "nearest":
            return F.interpolate(x, scale_factor=2, mode="nearest")
        if self.mode == "bed_of_nails":
            y = x.new_zeros(x.shape[0], x.shape[1], 2 * x.shape[2], 2 * x.shape[3])
            y[:, :, ::2, ::2] = x
            return y
        return self.up(x, indices, output_size)


class EncoderDecoder(nn.Module):
    """pycnn's own architecture (torchvision has none to follow): its top-level wiring is
    pycnn.models.encoder_decoder's, built over torch.nn with the torch blocks above, so what is
    checked is the blocks' names and shapes and every op's numerics against torch."""

    def __init__(self, in_channels=1, out_channels=2, base_channels=16, depth=2, upsample="nearest"):
        super().__init__()
        self.upsample = upsample
        build_layers(self, nn, double_conv, Up, in_channels, out_channels, base_channels, depth)

    def forward(self, x):
        return run_layers(self, x, torch.cat)


def randomize_(model, seed=0):
    """Random weights and BN statistics (so a test does not pass on defaults): weights
    N(0, 2 / fan_in), biases and running means N(0, 0.01), BN scales and running_var U(0.5, 1.5)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var") or (name.endswith("weight") and t.ndim == 1):  # BN scales
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith("weight"):
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            else:  # biases, running_mean
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
    return model
