"""Test setup: the tests dir on sys.path (for reference/, cases.py, helpers.py) and a
header line saying which pycnn build is under test."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import pycnn  # noqa: E402


def pytest_report_header(config):
    info = pycnn.build_info()
    return (f"pycnn {info['version']} from {os.path.dirname(pycnn.__file__)}: simd={info['simd']}, "
            f"threads={info['num_threads']}, cuda_built={info['cuda_built']}, "
            f"cuda_available={info['cuda_available']}")
