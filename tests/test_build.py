"""The build: build_info, the optional CUDA module, thread control, the CLI."""
import os

import numpy as np
import pytest

import pycnn
from helpers import run_python

REQUIRE_GPU = os.environ.get("PYCNN_REQUIRE_GPU") == "1"


def test_build_info_fields():
    info = pycnn.build_info()
    for key in ("version", "compiler", "openmp", "num_threads", "simd", "cuda_built", "cuda_available"):
        assert key in info, key
    assert info["num_threads"] >= 1
    assert info["simd"] in ("generic", "avx2", "avx512")
    assert info["openmp"] >= 201107  # OpenMP 3.1 or newer


def test_malloc_tuning_is_on_by_default_and_has_an_off_switch():
    """On glibc, importing pycnn fixes the mmap threshold at 32 MB and the trim threshold at 1 GB
    (csrc/bind/module.cpp: freed activations are reused instead of page-faulted in every step);
    PYCNN_MALLOC_TUNING=0 leaves glibc's defaults.  Each case in a fresh process: the setting is
    made once, at import."""
    import platform
    code = "import pycnn; print(pycnn.build_info()['malloc_tuned'])"
    glibc = platform.libc_ver()[0] == "glibc"
    for env, expected in (({}, glibc), ({"PYCNN_MALLOC_TUNING": "0"}, False), ({"PYCNN_MALLOC_TUNING": "1"}, glibc)):
        out = run_python("-c", code, env={**os.environ, **env})
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == str(expected), (env, out.stdout, out.stderr)


def test_omp_wait_policy_defaults_to_passive_unless_the_user_chose():
    """pycnn sets OMP_WAIT_POLICY=PASSIVE before libgomp loads (pycnn/__init__.py: spinning
    threads stall a busy machine), and keeps a policy the user set; build_info says which."""
    code = "import os, pycnn; print(os.environ['OMP_WAIT_POLICY'], '|', pycnn.build_info()['omp_wait_policy'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = run_python("-c", code, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "PASSIVE | PASSIVE (pycnn's default)"
    out = run_python("-c", code, env={**env, "OMP_WAIT_POLICY": "ACTIVE"})
    assert out.stdout.strip() == "ACTIVE | ACTIVE", out.stderr


def test_cuda_built_when_expected():
    # CI sets PYCNN_EXPECT_CUDA=1 when nvcc exists: a silent CPU-only build must fail here.
    if os.environ.get("PYCNN_EXPECT_CUDA") == "1":
        assert pycnn.cuda.is_built(), "nvcc is present but the CUDA module was not built"
    assert pycnn.build_info()["cuda_built"] == pycnn.cuda.is_built()


def test_emulated_device_built_unless_cuda_off():
    """pycnn._cuda_emu (the CUDA kernels on the emulated device) is in every build but PYCNN_CUDA=OFF."""
    info = pycnn.build_info()
    assert info["cuda_emulator_built"] == (pycnn.cuda._cuda_emu is not None)
    if os.environ.get("PYCNN_CUDA", "AUTO") != "OFF":
        assert info["cuda_emulator_built"]
        assert pycnn.cuda._cuda_emu.emulated and pycnn.cuda._cuda_emu.device_count() == 1


def test_gpu_device_roundtrip():
    """A device buffer on a real GPU (the GPU module's runtime: cudaMalloc, cudaMemcpy)."""
    if pycnn.cuda.gpu_count() == 0:
        if REQUIRE_GPU:
            pytest.fail("PYCNN_REQUIRE_GPU=1 but no CUDA device is available")
        pytest.skip("no CUDA GPU on this machine (GPU test)")
    from pycnn import _cuda
    assert isinstance(_cuda.get_device_name(0), str) and _cuda.get_device_name(0)
    a = np.random.default_rng(0).standard_normal((7, 13)).astype(np.float32)
    buf = _cuda.DeviceBuffer(a)
    out = np.empty_like(a)
    buf.copy_to(out)
    np.testing.assert_array_equal(out, a)


def test_set_num_threads_roundtrip():
    n = pycnn.get_num_threads()
    try:
        pycnn.set_num_threads(1)
        assert pycnn.get_num_threads() == 1
    finally:
        pycnn.set_num_threads(n)
    with pytest.raises(ValueError, match="set_num_threads"):
        pycnn.set_num_threads(0)


def test_cli_help_lists_commands():
    out = run_python("-m", "pycnn", "--help", check=True)
    assert "train" in out.stdout and "info" in out.stdout
    out = run_python("-m", "pycnn", "train", "--help", check=True)
    for opt in ("--epochs", "--batch-size", "--lr", "--momentum", "--weight-decay", "--seed", "--threads",
                "--save"):
        assert opt in out.stdout, opt
