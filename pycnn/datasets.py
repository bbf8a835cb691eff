"""Bundled datasets (offline).

digits: the UCI "Optical Recognition of Handwritten Digits" test set as scikit-learn
ships it (1797 8x8 images, pixel values 0..16, 10 classes).  Source: E. Alpaydin and
C. Kaynak, UCI Machine Learning Repository, https://doi.org/10.24432/C50P49, licensed
CC BY 4.0; the file pycnn/_data/digits.csv.gz is scikit-learn's copy (BSD-3-Clause
packaging), one image per row: 64 pixels then the label.
"""
from __future__ import annotations

import gzip
import os
from typing import NamedTuple

import numpy as np

from .creation import tensor
from .data import TensorDataset

_DIGITS_PATH = os.path.join(os.path.dirname(__file__), "_data", "digits.csv.gz")


class Split(NamedTuple):
    train: TensorDataset
    test: TensorDataset


def _load_digits_raw():
    with gzip.open(_DIGITS_PATH, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    return table[:, :64].reshape(-1, 8, 8), table[:, 64].astype(np.int64)


def _linear_resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix of 1-D linear interpolation, align_corners=False (half-pixel centres)."""
    src = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), lo] += 1 - frac
    m[np.arange(n_out), hi] += frac
    return m


def digits(image_size: int = 8, test_fraction_every: int = 5, dtype="float32") -> Split:
    """The digits as (N, 1, S, S) images scaled to [0, 1] and int64 labels.

    image_size > 8 upsamples bilinearly (LeNet-5 wants 32).  The split is fixed and
    stratified: within each class, every `test_fraction_every`-th image (in file order)
    is a test image (360 test / 1437 train for the default 5).
    """
    images, labels = _load_digits_raw()
    images = images / 16.0
    if image_size != 8:
        if image_size < 1:
            raise ValueError(f"digits: image_size must be >= 1, got {image_size}")
        m = _linear_resize_matrix(8, image_size)
        images = np.einsum("ij,njk,lk->nil", m, images, m)
    images = images[:, None].astype(dtype)
    is_test = np.zeros(len(labels), dtype=bool)
    for c in range(10):
        members = np.flatnonzero(labels == c)
        is_test[members[::test_fraction_every]] = True
    def part(mask):
        return TensorDataset(tensor(images[mask], dtype=dtype), tensor(labels[mask]))
    return Split(part(~is_test), part(is_test))
