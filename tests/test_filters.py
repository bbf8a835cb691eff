"""pycnn.filters: the fixed kernels against their textbook definitions and properties, and
filter2d against a numpy correlation reference (tests/reference/conv_extra.py)."""
import numpy as np
import pytest

import pycnn
from pycnn import filters

from cases import DTYPES
from helpers import assert_close, gradcheck, randn
from reference import conv_extra as ref


def T(a, dtype=None, requires_grad=False):
    a = np.asarray(a)
    return pycnn.tensor(a, dtype=dtype or a.dtype.name, requires_grad=requires_grad)


def ramp(H, W, a, b, c=0.5):
    """f(y, x) = a x + b y + c (x: column index, y: row index)."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    return a * x + b * y + c


TEXTBOOK = {
    "forward_diff_x": [[-1, 1]],
    "forward_diff_y": [[-1], [1]],
    "central_diff_x": [[-0.5, 0, 0.5]],
    "central_diff_y": [[-0.5], [0], [0.5]],
    "sobel_x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel_y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "prewitt_x": [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
    "prewitt_y": [[-1, -1, -1], [0, 0, 0], [1, 1, 1]],
}


@pytest.mark.parametrize("name", sorted(TEXTBOOK))
@pytest.mark.parametrize("dtype", DTYPES)
def test_kernels_are_the_textbook_stencils(name, dtype):
    k = getattr(filters, name)(dtype=dtype)
    assert isinstance(k, pycnn.Tensor) and k.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(k.numpy(), np.array(TEXTBOOK[name], dtype=dtype))
    assert k.numpy().sum() == 0  # a derivative kills constants
    if name.startswith(("sobel", "prewitt")):
        norm = getattr(filters, name)(normalize=True, dtype="float64").numpy()
        np.testing.assert_allclose(norm, np.array(TEXTBOOK[name]) / (8 if "sobel" in name else 6))


def test_default_dtype_is_float32():
    assert filters.sobel_x().dtype == np.float32 and filters.gaussian(3, 1.0).dtype == np.float32


def test_laplacians():
    np.testing.assert_array_equal(filters.laplacian(dtype="float64").numpy(), [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    np.testing.assert_array_equal(filters.laplacian(8, dtype="float64").numpy(), [[1, 1, 1], [1, -8, 1], [1, 1, 1]])
    y, x = np.mgrid[0:9, 0:10].astype(np.float64)
    for f, lap in [(x ** 2 + y ** 2, 4.0), (3 * x ** 2 - y ** 2 + x * y, 4.0), (ramp(9, 10, 2, -3), 0.0)]:
        out4 = filters.filter2d(T(f), filters.laplacian(4, dtype="float64")).numpy()
        out8 = filters.filter2d(T(f), filters.laplacian(8, dtype="float64")).numpy()
        assert_close(out4[1:-1, 1:-1], np.full((7, 8), lap), rtol=1e-12, atol=1e-9)
        assert_close(out8[1:-1, 1:-1], np.full((7, 8), 3 * lap), rtol=1e-12, atol=1e-9)
    with pytest.raises(ValueError, match="laplacian: neighbours"):
        filters.laplacian(6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(9, 11), (2, 9, 11), (2, 3, 9, 11)])
def test_derivative_of_a_linear_ramp_is_constant(shape, dtype):
    """Away from the borders every derivative filter returns the ramp's slope."""
    a, b = 1.5, -0.75
    f = np.broadcast_to(ramp(9, 11, a, b), shape).astype(dtype)
    img = T(f)
    checks = [("forward_diff_x", a, {}), ("forward_diff_y", b, {}), ("central_diff_x", a, {}),
              ("central_diff_y", b, {}), ("sobel_x", a, {"normalize": True}), ("sobel_y", b, {"normalize": True}),
              ("prewitt_x", a, {"normalize": True}), ("prewitt_y", b, {"normalize": True}),
              ("sobel_x", 8 * a, {}), ("prewitt_y", 6 * b, {})]
    for name, slope, kw in checks:
        out = filters.filter2d(img, getattr(filters, name)(dtype=dtype, **kw))
        assert out.shape == shape and out.dtype == np.dtype(dtype)
        assert_close(out.numpy()[..., 1:-1, 1:-1], np.full(shape[:-2] + (7, 9), slope), dtype,
                     rtol=1e-5, atol=1e-4 if dtype == "float32" else 1e-10, what=name)


def test_sobel_of_a_constant_image_is_zero_inside():
    img = T(np.full((2, 8, 9), 3.25))
    for k in (filters.sobel_x(dtype="float64"), filters.sobel_y(dtype="float64")):
        out = filters.filter2d(img, k).numpy()
        np.testing.assert_array_equal(out[:, 1:-1, 1:-1], 0.0)
        assert np.any(out[:, 0] != 0)  # zero padding makes an edge at the border...
        np.testing.assert_array_equal(filters.filter2d(img, k, padding_mode="replicate").numpy(), 0.0)  # ...not here


@pytest.mark.parametrize("size,sigma", [(1, 1.0), (3, 0.8), (5, 1.0), (6, 2.0), (7, 0.3)])
def test_gaussian(size, sigma):
    g = filters.gaussian(size, sigma, dtype="float64").numpy()
    assert g.shape == (size, size)
    assert g.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(g, g[::-1, ::-1], atol=1e-15)  # symmetric under 180 deg rotation
    np.testing.assert_allclose(g, g.T, atol=1e-15)
    np.testing.assert_allclose(g, g[::-1], atol=1e-15)
    t = np.arange(size) - (size - 1) / 2
    unnormalised = np.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / (2 * sigma ** 2))
    np.testing.assert_allclose(g, unnormalised / unnormalised.sum(), rtol=1e-12)
    assert g[(size - 1) // 2, (size - 1) // 2] == g.max()
    assert filters.gaussian(size, sigma).numpy().sum() == pytest.approx(1.0, abs=1e-6)


def test_gaussian_limits_and_bad_input():
    np.testing.assert_allclose(filters.gaussian(5, 1e4, dtype="float64").numpy(), np.full((5, 5), 1 / 25), rtol=1e-6)
    assert filters.gaussian(5, 0.05, dtype="float64").numpy()[2, 2] == pytest.approx(1.0)
    for bad in [dict(size=0, sigma=1.0), dict(size=3, sigma=0.0), dict(size=3, sigma=-1.0)]:
        with pytest.raises(ValueError, match="gaussian"):
            filters.gaussian(**bad)
    with pytest.raises(TypeError, match="gaussian: size must be an int, got 2.5"):  # never truncated to 2
        filters.gaussian(2.5, 1)


def test_box():
    b = filters.box(3, dtype="float64").numpy()
    np.testing.assert_allclose(b, np.full((3, 3), 1 / 9))
    img = T(np.full((6, 7), 2.0))
    out = filters.filter2d(img, filters.box(3, dtype="float64"))
    assert_close(out.numpy()[1:-1, 1:-1], np.full((4, 5), 2.0))
    assert_close(filters.filter2d(img, filters.box(3, dtype="float64"), padding_mode="reflect"), np.full((6, 7), 2.0))
    with pytest.raises(ValueError, match="box: size"):
        filters.box(0)


FILTER_CASES = [  # (image shape, kernel shape, padding, padding_mode)
    ((7, 8), (3, 3), "same", "zeros"),
    ((2, 6, 5), (2, 2), "same", "zeros"),        # even kernel: extra padding bottom/right
    ((2, 3, 5, 7), (1, 4), "same", "replicate"),
    ((3, 6, 6), (3, 2), "valid", "zeros"),
    ((1, 2, 5, 6), (3, 3), 2, "zeros"),
    ((5, 6), (3, 5), (1, 2), "reflect"),
    ((2, 6, 5), (3, 3), "same", "circular"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kshape,padding,mode", FILTER_CASES)
def test_filter2d_matches_reference(shape, kshape, padding, mode, dtype):
    img, k = randn(*shape, dtype=dtype), randn(*kshape, dtype=dtype)
    out = filters.filter2d(T(img), T(k), padding=padding, padding_mode=mode)
    if padding == "same":
        lo = tuple((n - 1) // 2 for n in kshape)
        hi = tuple(n - 1 - (n - 1) // 2 for n in kshape)
    elif padding == "valid":
        lo = hi = (0, 0)
    else:
        lo = hi = (padding, padding) if isinstance(padding, int) else padding
    planes = img.reshape(-1, *shape[-2:])
    expected = np.stack([ref.correlate_image(p, k, lo, hi, mode) for p in planes])
    expected = expected.reshape(shape[:-2] + expected.shape[-2:])
    assert out.dtype == np.dtype(dtype)
    if padding == "same":
        assert out.shape == shape
    assert_close(out, expected, dtype)


def test_filter2d_channels_are_independent_and_kernel_cast():
    img = randn(2, 3, 6, 7)
    k = filters.sobel_x()  # float32 kernel on a float64 image: cast to the image's dtype
    out = filters.filter2d(T(img), k)
    assert out.dtype == np.float64
    for n in range(2):
        for c in range(3):
            assert_close(out.numpy()[n, c], filters.filter2d(T(img[n, c]), k.numpy().tolist()).numpy())


def test_filter2d_gradcheck():
    gradcheck(lambda x, k: filters.filter2d(x, k), randn(2, 3, 4), randn(2, 3))
    gradcheck(lambda x: filters.filter2d(x, filters.laplacian(dtype="float64"), padding_mode="reflect"), randn(4, 5))


def test_filter2d_bad_input():
    img = T(randn(5, 6))
    cases = [
        (ValueError, lambda: filters.filter2d(T(randn(6)), filters.box(3))),
        (ValueError, lambda: filters.filter2d(T(randn(1, 1, 1, 5, 6)), filters.box(3))),
        (ValueError, lambda: filters.filter2d(img, T(randn(1, 3, 3)))),
        (ValueError, lambda: filters.filter2d(img, filters.box(3), padding="full")),
        (ValueError, lambda: filters.filter2d(img, filters.box(3), padding_mode="mirror")),
        (ValueError, lambda: filters.filter2d(img, T(randn(7, 3)), padding="valid")),
        (TypeError, lambda: filters.filter2d(pycnn.tensor(np.ones((5, 6), np.int64)), filters.box(3))),
        (TypeError, lambda: filters.filter2d(randn(5, 6), filters.box(3))),
    ]
    for exc, fn in cases:
        with pytest.raises(exc, match="filter2d"):
            fn()


def test_filter2d_matches_torch():
    torch = pytest.importorskip("torch")
    img, k = randn(2, 3, 7, 6), randn(3, 3)
    expected = torch.nn.functional.conv2d(torch.tensor(img).reshape(6, 1, 7, 6), torch.tensor(k)[None, None],
                                          padding="same").reshape(2, 3, 7, 6).numpy()
    assert_close(filters.filter2d(T(img), T(k)), expected)
