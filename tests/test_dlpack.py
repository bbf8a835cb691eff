"""DLPack (issue 15): Tensor.__dlpack__ / __dlpack_device__ and pycnn.from_dlpack share memory
with numpy and PyTorch both ways (a write on one side is seen on the other), and refuse what a
pycnn tensor cannot be (other dtypes, non-contiguous layouts) instead of copying silently."""
import numpy as np
import pytest

import pycnn

RNG = np.random.default_rng(77)
DTYPES = [np.float32, np.float64, np.int64, np.bool_]


def rand(dtype, shape=(3, 4)):
    if dtype == np.bool_:
        return RNG.random(shape) > 0.5
    if np.issubdtype(dtype, np.integer):
        return RNG.integers(-50, 50, shape).astype(dtype)
    return RNG.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_both_ways_is_zero_copy(dtype):
    t = pycnn.tensor(rand(dtype))
    assert t.__dlpack_device__() == (1, 0)
    a = np.from_dlpack(t)
    assert a.dtype == dtype and a.shape == t.shape
    a[1, 2] = not a[1, 2] if dtype == np.bool_ else a[1, 2] + 7
    assert t.numpy()[1, 2] == a[1, 2]                          # numpy's write seen by the tensor
    src = rand(dtype)
    u = pycnn.from_dlpack(src)
    assert type(u) is pycnn.Tensor and u.dtype == dtype and u.device.type == "cpu"
    u.numpy()[0, 0] = not src[0, 0] if dtype == np.bool_ else src[0, 0] - 3
    assert src[0, 0] == u.numpy()[0, 0]                        # the tensor's write seen by numpy
    np.testing.assert_array_equal(u.numpy(), src)


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_both_ways_is_zero_copy(dtype):
    torch = pytest.importorskip("torch")
    t = pycnn.tensor(rand(dtype))
    for tt in (torch.from_dlpack(t), torch.utils.dlpack.from_dlpack(t)):
        assert str(tt.dtype) == "torch." + np.dtype(dtype).name.replace("bool", "bool")
        np.testing.assert_array_equal(tt.numpy(), t.numpy())
        tt[0, 1] = not bool(tt[0, 1]) if dtype == np.bool_ else tt[0, 1] + 5
        assert t.numpy()[0, 1] == tt[0, 1].item()
    src = torch.from_numpy(rand(dtype))
    u = pycnn.from_dlpack(src)
    assert u.dtype == dtype
    u.numpy()[2, 3] = not bool(src[2, 3]) if dtype == np.bool_ else src[2, 3].item() * 2 + 1
    assert src[2, 3].item() == u.numpy()[2, 3]
    np.testing.assert_array_equal(u.numpy(), src.numpy())


def test_ops_on_an_imported_tensor_match_numpy():
    torch = pytest.importorskip("torch")
    x = torch.randn(4, 5, dtype=torch.float64)
    u = pycnn.from_dlpack(x)
    np.testing.assert_allclose((u @ u.T + 1).numpy(), x.numpy() @ x.numpy().T + 1, rtol=1e-12)


def test_refusals_are_clear():
    t = pycnn.tensor(rand(np.float32), requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad; use tensor.detach"):
        t.__dlpack__()
    np.from_dlpack(t.detach())                                  # fine once detached
    with pytest.raises(ValueError, match="stream must be None"):
        t.detach().__dlpack__(stream=1)
    with pytest.raises(TypeError, match=r"dtype float16; pycnn tensors are float32"):
        pycnn.from_dlpack(rand(np.float16))
    with pytest.raises(ValueError, match=r"strides \(8, 32\).*not C-contiguous"):
        pycnn.from_dlpack(rand(np.float64).T)
    with pytest.raises(TypeError, match="expected an object with __dlpack__"):
        pycnn.from_dlpack([1.0, 2.0])
    u = pycnn.tensor(rand(np.float64))
    assert pycnn.from_dlpack(u).numpy() is u.numpy()            # a Tensor: an alias of it


def test_torch_capsule_is_refused_with_a_hint():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="bare DLPack capsule"):
        pycnn.from_dlpack(torch.utils.dlpack.to_dlpack(torch.ones(2)))


def test_cuda_tensor_device_and_emulator_refusal():
    if not pycnn.cuda.is_available():
        pytest.skip("no CUDA device (real or emulated)")
    t = pycnn.tensor(rand(np.float32)).cuda()
    assert t.__dlpack_device__() == (2, 0)
    if pycnn.cuda.is_emulated():
        with pytest.raises(RuntimeError, match="emulated CUDA device, which has no device memory"):
            t.__dlpack__()
    else:
        cupy = pytest.importorskip("cupy")
        c = cupy.from_dlpack(t)
        c[0, 0] = 5.0
        assert t[0, 0].item() == 5.0
        back = pycnn.from_dlpack(c)
        assert back.device.type == "cuda"
        c[1, 1] = -2.0
        assert back[1, 1].item() == -2.0
