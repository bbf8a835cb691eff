"""Temporal convolutional network: Bai, Kolter, Koltun, "An Empirical Evaluation of Generic
Convolutional and Recurrent Networks for Sequence Modeling", 2018 (arXiv:1803.01271), after
WaveNet (van den Oord et al. 2016, arXiv:1609.03499): causal convolutions with dilations
1, 2, 4, ... and residual connections.

Level l (dilation 2^l): CausalConv1d -> ReLU -> Dropout -> CausalConv1d -> ReLU -> Dropout,
plus the input (through a 1x1 Conv1d where the channel count changes), then ReLU.  Bai et al.
also wrap the convs in weight normalization; that is left out here (plain weights).

Receptive field: each causal conv widens it by (k - 1) d, so the stack sees
1 + sum over its convs of (k - 1) d = 1 + 2 (k - 1) (2^L - 1) inputs for L levels.
"""
from __future__ import annotations

from .. import nn

__all__ = ["TemporalBlock", "TCN", "tcn"]


class TemporalBlock(nn.Module):
    def __init__(self, n_inputs, n_outputs, kernel_size, dilation, dropout=0.0):
        super().__init__()
        self.conv1 = nn.CausalConv1d(n_inputs, n_outputs, kernel_size, dilation=dilation)
        self.relu1 = nn.ReLU()
        self.dropout1 = nn.Dropout(dropout)
        self.conv2 = nn.CausalConv1d(n_outputs, n_outputs, kernel_size, dilation=dilation)
        self.relu2 = nn.ReLU()
        self.dropout2 = nn.Dropout(dropout)
        self.downsample = nn.Conv1d(n_inputs, n_outputs, 1) if n_inputs != n_outputs else None
        self.relu = nn.ReLU()
        for conv in (self.conv1, self.conv2):  # Bai et al.'s init
            nn.init.normal_(conv.weight, 0, 0.01)
        if self.downsample is not None:
            nn.init.normal_(self.downsample.weight, 0, 0.01)

    def forward(self, x):
        out = self.dropout1(self.relu1(self.conv1(x)))
        out = self.dropout2(self.relu2(self.conv2(out)))
        res = x if self.downsample is None else self.downsample(x)
        return self.relu(out + res)


class TCN(nn.Module):
    """(N, num_inputs, L) -> (N, num_channels[-1], L), or with num_outputs set, a Linear head on
    the last time step: (N, num_outputs).  Output t depends on inputs t - receptive_field + 1 .. t."""

    def __init__(self, num_inputs, num_channels, kernel_size=2, dropout=0.0, num_outputs=None):
        super().__init__()
        if not num_channels:
            raise ValueError("TCN: num_channels must list at least one level's channels")
        blocks, c = [], num_inputs
        for i, out in enumerate(num_channels):
            blocks.append(TemporalBlock(c, out, kernel_size, 2 ** i, dropout))
            c = out
        self.network = nn.Sequential(*blocks)
        self.num_inputs = num_inputs
        self.head = nn.Linear(c, num_outputs) if num_outputs is not None else None

    @property
    def receptive_field(self) -> int:
        """1 + sum over every causal conv of (k - 1) * dilation."""
        return 1 + sum(m.left_padding for m in self.modules() if isinstance(m, nn.CausalConv1d))

    def forward(self, x):
        if x.ndim != 3 or x.shape[1] != self.num_inputs:
            raise ValueError(f"TCN: expected input (N, {self.num_inputs}, L), got shape {x.shape}")
        y = self.network(x)
        return y if self.head is None else self.head(y[:, :, -1])


def tcn(num_inputs=1, num_channels=(25, 25, 25, 25), kernel_size=2, dropout=0.0, num_outputs=None):
    """A TCN with len(num_channels) levels, dilations 1, 2, 4, ... (Bai et al. 2018)."""
    return TCN(num_inputs, list(num_channels), kernel_size, dropout, num_outputs)
