"""Small shared helpers: argument normalisation and output-size formulas."""
from __future__ import annotations


def ntuple(value, n: int, op: str, arg: str) -> tuple:
    """An int or an n-sequence of ints -> an n-tuple of ints (TypeError naming op/arg otherwise)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * n
    try:
        out = tuple(int(v) for v in value)
    except TypeError:
        raise TypeError(f"{op}: {arg} must be an int or a tuple of {n} ints, got {value!r}") from None
    if len(out) != n:
        raise ValueError(f"{op}: {arg} must have {n} values, got {value!r}")
    return out


def conv_output_size(L_in, kernel, stride=1, padding=0, dilation=1) -> int:
    """floor((L + 2p - d(k-1) - 1) / s) + 1."""
    return (L_in + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_output_size(L_in, kernel, stride=1, padding=0, output_padding=0, dilation=1) -> int:
    """(L - 1) s - 2p + d(k-1) + output_padding + 1."""
    return (L_in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
