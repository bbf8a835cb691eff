"""A small U-Net-like encoder-decoder (Ronneberger, Fischer, Brox, "U-Net: Convolutional Networks
for Biomedical Image Segmentation", MICCAI 2015, arXiv:1505.04597) whose way back up is
selectable: the four upsampling methods of the notes.

* ``'nearest'``: each value copied into its 2x2 block (F.interpolate, nearest);
* ``'bed_of_nails'``: each value at the top-left of its 2x2 block, zeros elsewhere;
* ``'max_unpool'``: each value back at the position its encoder max-pool took it from
  (the pool's indices, SegNet: Badrinarayanan et al. 2017);
* ``'transposed'``: a learned 2x2 stride-2 ConvTranspose2d.

Level i of the encoder: (conv3x3 -> BN -> ReLU) x 2 to base * 2^i channels, then a 2x2/2 max
pool.  The bottleneck doubles the channels once more.  Each decoder level goes up 2x and
halves the channels (a 1x1 conv before the fixed upsamplers, which keep channels; the
transposed conv does both), concatenates the encoder's feature map of that size (the skip
connection) and applies the double conv.  A final 1x1 conv gives out_channels per pixel:
(N, in_channels, H, W) -> (N, out_channels, H, W) with H, W divisible by 2^depth.
"""
from __future__ import annotations

from .. import nn
from ..ops import cat

__all__ = ["DoubleConv", "EncoderDecoder", "encoder_decoder", "UPSAMPLE_MODES"]

UPSAMPLE_MODES = ("nearest", "bed_of_nails", "max_unpool", "transposed")


def double_conv_layers(nn, in_channels, out_channels):
    """(conv3x3 without bias -> BN -> ReLU) x 2, from the namespace `nn` (pycnn's, or torch's in
    tests/torch_zoo.py): children '0'..'5'."""
    return [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True)]


class DoubleConv(nn.Sequential):
    def __init__(self, in_channels, out_channels):
        super().__init__(*double_conv_layers(nn, in_channels, out_channels))


class _Up(nn.Module):
    """2x up from `in_channels` to `out_channels` by one of UPSAMPLE_MODES."""

    def __init__(self, in_channels, out_channels, mode):
        super().__init__()
        self.mode = mode
        if mode == "transposed":
            self.up = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        else:
            self.reduce = nn.Conv2d(in_channels, out_channels, 1)
            if mode == "nearest":
                self.up = nn.Upsample(scale_factor=2, mode="nearest")
            elif mode == "bed_of_nails":
                self.up = nn.BedOfNailsUpsample(2)
            else:
                self.up = nn.MaxUnpool2d(2)

    def forward(self, x, indices=None, output_size=None):
        if self.mode == "transposed":
            return self.up(x)
        x = self.reduce(x)
        return self.up(x, indices, output_size) if self.mode == "max_unpool" else self.up(x)

    def extra_repr(self):
        return f"mode={self.mode!r}"


def build_layers(model, nn, double_conv, up, in_channels, out_channels, base_channels, depth):
    """Gives `model` (whose .upsample is set) the net's modules, from the namespace `nn` with
    double_conv(cin, cout) and up(cin, cout, mode): pycnn's here, torch's in the tests' torch
    twin (tests/torch_zoo.py), so that both have this architecture's names and wiring."""
    widths = [base_channels * 2 ** i for i in range(depth + 1)]
    model.encoders = nn.ModuleList([double_conv(in_channels if i == 0 else widths[i - 1], widths[i])
                                    for i in range(depth)])
    model.pool = nn.MaxPool2d(2, return_indices=model.upsample == "max_unpool")
    model.bottleneck = double_conv(widths[depth - 1], widths[depth])
    model.ups = nn.ModuleList([up(widths[i + 1], widths[i], model.upsample) for i in reversed(range(depth))])
    model.decoders = nn.ModuleList([double_conv(2 * widths[i], widths[i]) for i in reversed(range(depth))])
    model.head = nn.Conv2d(widths[0], out_channels, 1)


def run_layers(model, x, cat):
    """The forward pass through build_layers' modules; `cat` joins along channels (the skips)."""
    skips, indices = [], []
    for enc in model.encoders:
        x = enc(x)
        skips.append(x)
        if model.upsample == "max_unpool":
            x, idx = model.pool(x)
            indices.append(idx)
        else:
            x = model.pool(x)
    x = model.bottleneck(x)
    for up, dec in zip(model.ups, model.decoders):
        skip = skips.pop()
        x = up(x, indices.pop(), skip.shape[2:]) if model.upsample == "max_unpool" else up(x)
        x = dec(cat([x, skip], 1))
    return model.head(x)


class EncoderDecoder(nn.Module):
    def __init__(self, in_channels=1, out_channels=2, base_channels=16, depth=2, upsample="nearest"):
        super().__init__()
        if upsample not in UPSAMPLE_MODES:
            raise ValueError(f"EncoderDecoder: upsample must be one of {UPSAMPLE_MODES}, got {upsample!r}")
        if depth < 1:
            raise ValueError(f"EncoderDecoder: depth must be >= 1, got {depth}")
        self.depth, self.upsample, self.in_channels = depth, upsample, in_channels
        build_layers(self, nn, DoubleConv, _Up, in_channels, out_channels, base_channels, depth)

    def forward(self, x):
        m = 2 ** self.depth
        if x.ndim != 4 or x.shape[1] != self.in_channels or x.shape[2] % m or x.shape[3] % m:
            raise ValueError(f"EncoderDecoder: expected input (N, {self.in_channels}, H, W) with H and W "
                             f"divisible by 2^depth = {m}, got shape {x.shape}")
        return run_layers(self, x, cat)


def encoder_decoder(in_channels=1, out_channels=2, base_channels=16, depth=2, upsample="nearest"):
    """A small U-Net-like net with a selectable way back up (see UPSAMPLE_MODES)."""
    return EncoderDecoder(in_channels, out_channels, base_channels, depth, upsample)
