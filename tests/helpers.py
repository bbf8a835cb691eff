"""Finite-difference gradient checking and comparison helpers for the tests."""
import contextlib
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

import pycnn

RNG = np.random.default_rng(1234)


def randn(*shape, dtype="float64"):
    """Random normal data (never zeros)."""
    return RNG.standard_normal(shape).astype(dtype)


def assert_close(actual, expected, dtype="float64", rtol=None, atol=None, what=""):
    from cases import TOLERANCE
    r, a = TOLERANCE[str(np.dtype(dtype))]
    actual = actual.detach().cpu().numpy() if isinstance(actual, pycnn.Tensor) else np.asarray(actual)
    rtol, atol = rtol if rtol is not None else r, atol if atol is not None else a
    if np.ndim(atol) == 0:
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)
        return
    # a per-element atol (an error bound that follows the terms' sizes): numpy's message cannot print it
    assert actual.shape == np.shape(expected), (what, actual.shape, np.shape(expected))
    ok = np.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)
    if not ok.all():
        i = np.unravel_index(np.argmin(ok), ok.shape)
        raise AssertionError(f"{what}: {(~ok).sum()} of {ok.size} elements off; at {i}: {actual[i]} vs "
                             f"{np.asarray(expected)[i]}, atol there {np.broadcast_to(atol, ok.shape)[i]:.3g}")


def check(actual, expected, dtype, scale=1.0, what=""):
    """|actual - expected| <= atol * max(1, scale) + rtol * |expected| with the shared tolerance;
    `scale` (a number, or an array broadcast against expected) is the size of the terms that
    cancel (for dx: rstd * |weight| * |dy| of the element's set).  A tensor (of any device) must
    also have the dtype."""
    from cases import TOLERANCE
    rtol, atol = TOLERANCE[str(np.dtype(dtype))]
    if isinstance(actual, pycnn.Tensor):
        assert actual.dtype == np.dtype(dtype), f"{what}: dtype {actual.dtype}, expected {dtype}"
        actual = actual.detach().cpu().numpy()
    a, e = np.asarray(actual), np.asarray(expected, np.float64)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, expected {e.shape}"
    tol = np.broadcast_to(atol * np.maximum(1.0, scale) + rtol * np.abs(e), e.shape)
    err = np.abs(a.astype(np.float64) - e)
    bad = ~(err <= tol)
    if bad.any():
        i = tuple(int(k) for k in np.unravel_index(
            np.argmax(np.where(bad, np.nan_to_num(err - tol, nan=np.inf), -np.inf)), e.shape))
        raise AssertionError(f"{what}: {bad.sum()} of {e.size} values off; at {i}: {a[i]!r} vs {e[i]!r} "
                             f"(tolerance {tol[i]:.3g})")


def gradcheck(fn, *arrays, eps=1e-6, rtol=1e-5, atol=1e-7, seed=0):
    """Checks autodiff grads of fn(*tensors) against central differences, in float64.

    fn returns a Tensor (or a tuple whose first item is checked); the scalar
    checked is sum(out * R) for a fixed random R, so every output element counts.
    `arrays` are numpy arrays; None entries pass through as None.
    """
    arrays = [None if a is None else np.array(a, dtype=np.float64) for a in arrays]
    tensors = [None if a is None else pycnn.tensor(a, dtype="float64", requires_grad=True) for a in arrays]

    def first(out):
        return out[0] if isinstance(out, tuple) else out

    out = first(fn(*tensors))
    R = np.random.default_rng(seed).standard_normal(out.shape)
    (out * pycnn.tensor(R, dtype="float64")).sum().backward()
    for i, a in enumerate(arrays):
        if a is None:
            continue
        numeric = np.zeros_like(a)
        flat = a.reshape(-1)
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            plus = (first(fn(*[None if b is None else pycnn.tensor(b, dtype="float64") for b in arrays]))
                    .detach().numpy() * R).sum()
            flat[j] = old - eps
            minus = (first(fn(*[None if b is None else pycnn.tensor(b, dtype="float64") for b in arrays]))
                     .detach().numpy() * R).sum()
            flat[j] = old
            numeric.reshape(-1)[j] = (plus - minus) / (2 * eps)
        analytic = tensors[i].grad
        assert analytic is not None, f"input {i}: no gradient was computed"
        np.testing.assert_allclose(analytic.numpy(), numeric, rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {i} (shape {a.shape})")


def load_refused(path, match):
    """pycnn.load(path) raises load's ValueError, matching `match` and naming the file."""
    import pytest
    with pytest.raises(ValueError, match=match) as info:
        pycnn.load(path)
    assert repr(str(path)) in str(info.value) and str(info.value).startswith("load: cannot load")


def assert_damage_refused(good, bad, member, into):
    """Writes to `bad` the zip checkpoint `good` cut short at five places, then with one byte
    flipped `into` bytes into the data of its member `member`: pycnn.load refuses each (the last
    by the member's CRC).  Returns good's bytes."""
    data = good.read_bytes()
    for cut in [10, 100, len(data) // 2, len(data) - 30, len(data) - 1]:
        bad.write_bytes(data[:cut])
        load_refused(bad, "truncated or corrupt")
    with zipfile.ZipFile(good) as zf:
        at = zf.getinfo(member).header_offset
    # the local header: 30 fixed bytes, the last four the name's and the extra field's lengths
    name_len, extra_len = struct.unpack("<HH", data[at + 26:at + 30])
    flipped = bytearray(data)
    flipped[at + 30 + name_len + extra_len + into] ^= 0xFF
    bad.write_bytes(bytes(flipped))
    load_refused(bad, "truncated or corrupt.*CRC")
    return data


def run_python(*args, **kwargs):
    """Runs `python *args` in a temp dir, outside the checkout: `python -m`/`-c` put the cwd first
    on sys.path, and the source tree's pycnn/ (no compiled module) would shadow the installed one."""
    kwargs.setdefault("cwd", tempfile.gettempdir())
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, **kwargs)


SIMD_LEVELS = ("generic", "avx2", "avx512")


@contextlib.contextmanager
def simd(level):
    """Runs the block with the native kernels' SIMD level forced to `level` (then restores it)."""
    before = pycnn._C.simd_level()
    pycnn._C.set_simd_level(level)
    try:
        yield
    finally:
        pycnn._C.set_simd_level(before)


@contextlib.contextmanager
def num_threads(n):
    """Runs the block with pycnn's thread count set to `n` (then restores it)."""
    before = pycnn.get_num_threads()
    pycnn.set_num_threads(n)
    try:
        yield
    finally:
        pycnn.set_num_threads(before)


def cpu_simd_levels():
    """The SIMD levels this CPU runs, from /proc/cpuinfo (so a level the module wrongly refuses
    fails instead of being left out); without /proc, the ones the module accepts."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(next((ln.split(":", 1)[1].split() for ln in f if ln.startswith("flags")), []))
    except OSError:
        levels = []
        for level in SIMD_LEVELS:
            with contextlib.suppress(ValueError), simd(level):
                levels.append(level)
        return tuple(levels)
    levels = ["generic"]
    if {"avx2", "fma"} <= flags:
        levels.append("avx2")
        if {"avx512f", "avx512dq", "avx512bw", "avx512vl"} <= flags:
            levels.append("avx512")
    return tuple(levels)
