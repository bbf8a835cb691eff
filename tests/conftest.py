"""Test setup: the tests dir on sys.path (for reference/, cases/, helpers.py, backends.py), the
``backend`` fixture (each op test runs once per registered backend, see backends.py), and a
header line saying which pycnn build is under test."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import pytest  # noqa: E402

import pycnn  # noqa: E402

# Without a GPU, device='cuda' runs on the emulated device in the tests (PYCNN_CUDA_EMULATOR=1), so
# every op test of the backend tables also runs the CUDA kernels.  PYCNN_REQUIRE_GPU=1 (on a GPU
# machine) insists on a real GPU instead of letting the CUDA tests fall back or skip.
if os.environ.get("PYCNN_REQUIRE_GPU", "") not in ("", "0"):
    if not (pycnn.cuda.gpu_count() > 0 and pycnn.cuda.is_available() and not pycnn.cuda.is_emulated()):
        raise pytest.UsageError(f"PYCNN_REQUIRE_GPU=1 but no GPU can run: {pycnn.cuda.unavailable_reason()}")
elif "PYCNN_CUDA_EMULATOR" not in os.environ and pycnn.cuda.gpu_count() == 0:
    os.environ["PYCNN_CUDA_EMULATOR"] = "1"

from backends import BACKENDS  # noqa: E402


@pytest.fixture(params=BACKENDS, ids=[b.name for b in BACKENDS])
def backend(request):
    with request.param.active() as b:
        yield b


def pytest_report_header(config):
    info = pycnn.build_info()
    return (f"pycnn {info['version']} from {os.path.dirname(pycnn.__file__)}: simd={info['simd']}, "
            f"threads={info['num_threads']}, cuda_built={info['cuda_built']}, "
            f"cuda_available={info['cuda_available']}; test backends: {', '.join(b.name for b in BACKENDS)}")
