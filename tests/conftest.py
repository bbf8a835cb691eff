"""Test setup: the tests dir on sys.path (for reference/, cases/, helpers.py, backends.py), the
``backend`` fixture (each op test runs once per registered backend, see backends.py), and a
header line saying which pycnn build is under test."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import pytest  # noqa: E402

import pycnn  # noqa: E402
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
