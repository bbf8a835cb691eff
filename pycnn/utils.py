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


def _check_sizes(op: str, **sizes):
    """Each size an int; L_in, kernel, stride, dilation >= 1 and padding, output_padding >= 0."""
    for name, v in sizes.items():
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(f"{op}: {name} must be an int, got {v!r}")
        low = 0 if name in ("padding", "output_padding") else 1
        if v < low:
            raise ValueError(f"{op}: {name} must be >= {low}, got {v}")


def conv_out_len(L_in, kernel, stride, padding, dilation) -> int:
    """The raw formula floor((L + 2p - d(k-1) - 1) / s) + 1, unchecked (callers check the result)."""
    return (L_in + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_output_size(L_in, kernel, stride=1, padding=0, dilation=1) -> int:
    """floor((L + 2p - d(k-1) - 1) / s) + 1; a ValueError when that is < 1 (kernel larger than the padded input)."""
    _check_sizes("conv_output_size", L_in=L_in, kernel=kernel, stride=stride, padding=padding, dilation=dilation)
    out = conv_out_len(L_in, kernel, stride, padding, dilation)
    if out < 1:
        raise ValueError(f"conv_output_size: the effective kernel d(k-1)+1 = {dilation * (kernel - 1) + 1} is larger "
                         f"than the padded input L + 2p = {L_in + 2 * padding}: output size {out}")
    return out


def conv_transpose_output_size(L_in, kernel, stride=1, padding=0, output_padding=0, dilation=1) -> int:
    """(L - 1) s - 2p + d(k-1) + output_padding + 1; a ValueError when that is < 1."""
    _check_sizes("conv_transpose_output_size", L_in=L_in, kernel=kernel, stride=stride, padding=padding,
                 output_padding=output_padding, dilation=dilation)
    out = (L_in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    if out < 1:
        raise ValueError(f"conv_transpose_output_size: output size {out} < 1 (L_in {L_in}, kernel {kernel}, "
                         f"stride {stride}, padding {padding}, output_padding {output_padding}, dilation {dilation})")
    return out
