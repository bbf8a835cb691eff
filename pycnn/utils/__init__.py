"""The output-size formulas of the lecture notes, as functions (their rules are conv's own params,
csrc/params/conv_params.cpp, so they agree with what the ops compute, overflow checks included)."""
from __future__ import annotations

from .. import _C
from .._args import as_int, ntuple  # noqa: F401  (ntuple: kept importable from pycnn.utils)


def conv_output_size(L_in, kernel, stride=1, padding=0, dilation=1) -> int:
    """floor((L + 2p - d(k-1) - 1) / s) + 1; a ValueError when that is < 1 (kernel larger than the padded input)."""
    op = "conv_output_size"
    L_in, kernel, stride, padding, dilation = (as_int(v, op, name) for v, name in (
        (L_in, "L_in"), (kernel, "kernel"), (stride, "stride"), (padding, "padding"), (dilation, "dilation")))
    p = _C.conv2d_params(op, 1, (1, 1, 1, L_in), (1, 1, 1, kernel), None, (1, stride), (0, 0, padding, padding),
                         (1, dilation), 1)
    return p.W_out


def conv_transpose_output_size(L_in, kernel, stride=1, padding=0, output_padding=0, dilation=1) -> int:
    """(L - 1) s - 2p + d(k-1) + output_padding + 1; a ValueError when that is < 1."""
    op = "conv_transpose_output_size"
    L_in, kernel, stride, padding, output_padding, dilation = (as_int(v, op, name) for v, name in (
        (L_in, "L_in"), (kernel, "kernel"), (stride, "stride"), (padding, "padding"),
        (output_padding, "output_padding"), (dilation, "dilation")))
    p = _C.conv_transpose2d_params(op, 1, (1, 1, 1, L_in), (1, 1, 1, kernel), None, (1, stride), (0, padding),
                                   (0, output_padding), 1, (1, dilation))
    return p.W
