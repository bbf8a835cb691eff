"""The native elementwise kernels (csrc/elementwise.h: ReLU) on every backend: against the
float64 numpy reference, on sizes around the chunk and the parallel threshold, both dtypes,
1 and 2 threads, with the special values torch defines (-inf -> 0, -0.0 -> +0, NaN stays)."""
import numpy as np
import pytest

import pycnn
from helpers import gradcheck

# around the CPU kernel's chunk (16384) and parallel threshold (32768), primes, 1, empty
SIZES = [0, 1, 7, 16383, 16384, 16385, 32767, 32768, 32769, 100003]
SPECIAL = np.array([-np.inf, -1.0, -0.0, 0.0, 1e-45, 2.0, np.inf, np.nan])


def _data(n, dtype, seed):
    a = np.random.default_rng(seed).standard_normal(n)
    a[: min(n, len(SPECIAL))] = SPECIAL[: min(n, len(SPECIAL))]
    return a.astype(dtype)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", SIZES)
def test_relu_forward_backward_match_the_reference(backend, n, dtype, threads):
    x0, dy0 = _data(n, dtype, 1), _data(n, dtype, 2)
    before = pycnn.get_num_threads()
    pycnn.set_num_threads(threads)
    try:
        with backend.active():
            x = backend.tensor(x0, requires_grad=True)
            y = pycnn.functional.relu(x)
            y.backward(backend.tensor(dy0))
            out, grad = backend.numpy(y), backend.numpy(x.grad)
    finally:
        pycnn.set_num_threads(before)
    x64, dy64 = x0.astype(np.float64), dy0.astype(np.float64)
    ref = np.where(x64 <= 0, 0.0, x64)  # NaN <= 0 is False: NaN stays
    ref_grad = np.where(ref <= 0, 0.0, dy64)
    np.testing.assert_array_equal(out, ref.astype(dtype))
    np.testing.assert_array_equal(grad, ref_grad.astype(dtype))
    assert not np.signbit(out[~np.isnan(out)]).any()  # never -0.0


def test_relu_shapes_and_gradcheck():
    x = np.random.default_rng(3).standard_normal((3, 4, 5))
    gradcheck(lambda t: pycnn.functional.relu(t), x)
    assert pycnn.functional.relu(pycnn.tensor(x)).shape == (3, 4, 5)


def test_relu_binding_rejects_bad_arrays():
    with pytest.raises(TypeError, match="relu: input must be float32 or float64"):
        pycnn._C.relu_forward(np.arange(3))
    with pytest.raises(ValueError, match="relu: grad_output"):
        pycnn._C.relu_backward(np.ones(3), np.ones(4))
    with pytest.raises(TypeError, match="relu: grad_output dtype"):
        pycnn._C.relu_backward(np.ones(3, np.float32), np.ones(3))
    # an integer tensor keeps the glue path (no gradient ever flows into it)
    np.testing.assert_array_equal(pycnn.functional.relu(pycnn.tensor([-2, 3])).numpy(), [0, 3])
