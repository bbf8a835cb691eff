"""Datasets, read offline: the bundled digits, and MNIST, Fashion-MNIST and CIFAR-10 from files the
user already has (nothing is ever downloaded).

digits: the UCI "Optical Recognition of Handwritten Digits" test set as scikit-learn
ships it (1797 8x8 images, pixel values 0..16, 10 classes).  Source: E. Alpaydin and
C. Kaynak, UCI Machine Learning Repository, https://doi.org/10.24432/C50P49, licensed
CC BY 4.0; the file pycnn/_data/digits.csv.gz is scikit-learn's copy (BSD-3-Clause
packaging), one image per row: 64 pixels then the label.

mnist / fashion_mnist: the four IDX files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each optionally ``.gz``) in ``root`` or in
torchvision's ``root/MNIST/raw`` / ``root/FashionMNIST/raw``.

cifar10: the binary version (``cifar-10-batches-bin/data_batch_{1..5}.bin``, ``test_batch.bin``;
records of 1 label byte + 3072 pixel bytes, R then G then B planes, rows top to bottom) or the
python version (``cifar-10-batches-py/data_batch_{1..5}``, ``test_batch``: pickled dicts), read by
an unpickler that admits nothing but numpy's array reconstruction (no arbitrary code runs).

The file datasets are ``ImageDataset``s holding the stored uint8 pixels as (N, C, H, W); a
``DataLoader`` turns batches into float32 in [0, 1] (``transforms.ToFloat``) unless its transform
does something else.
"""
from __future__ import annotations

import gzip
import os
import pickle
from typing import NamedTuple

import numpy as np

from .creation import tensor
from .data import Dataset, TensorDataset

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
    is a test image (364 test / 1433 train for the default 5).
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


# ----------------------------------------------------------------------------- image datasets
class ImageDataset(Dataset):
    """Images as stored on disk: ``data`` (N, C, H, W) uint8, ``targets`` (N,) int64 class
    indices, ``classes`` their names.  ``dataset[i]`` is (uint8 (C, H, W) array, int label);
    ``get_batch(indices)`` gives the (images, labels) arrays of a batch, which is what a
    ``DataLoader`` uses (one fancy index per batch, then its per-batch transform)."""

    def __init__(self, data: np.ndarray, targets: np.ndarray, classes, name: str = "images"):
        data, targets = np.asarray(data), np.asarray(targets, dtype=np.int64)
        if data.ndim != 4 or targets.shape != (data.shape[0],):
            raise ValueError(f"{name}: expected data (N, C, H, W) and targets (N,), got {data.shape} "
                             f"and {targets.shape}")
        if targets.size and (targets.min() < 0 or targets.max() >= len(classes)):
            raise ValueError(f"{name}: labels must lie in [0, {len(classes)}), got "
                             f"[{targets.min()}, {targets.max()}]")
        self.data, self.targets, self.classes, self.name = data, targets, list(classes), name

    def __len__(self):
        return self.data.shape[0]

    def __getitem__(self, index):
        return self.data[index], int(self.targets[index])

    def get_batch(self, indices):
        return self.data[indices], self.targets[indices]

    def __repr__(self):
        n, c, h, w = self.data.shape
        return f"{type(self).__name__}({self.name}: {n} images {c}x{h}x{w}, {len(self.classes)} classes)"


# ----------------------------------------------------------------------------- locating files
def _open_maybe_gzip(path):
    """gzip is recognised by its magic bytes (1f 8b), whatever the file is called."""
    with open(path, "rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def _find_files(what: str, root, dirs, names, published: str, gz: bool):
    """{name: path} for every expected file (name or name.gz when gz) in the first of `dirs` (under
    root) that holds them all; otherwise a FileNotFoundError naming each missing file."""
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{what}: data directory {root!r} does not exist; it should hold "
                                f"{', '.join(names)} (published at {published}; pycnn never downloads)")
    tried = []
    for d in dirs:
        folder = os.path.join(root, d) if d else root
        found, missing = {}, []
        for n in names:
            for candidate in ((n, n + ".gz") if gz else (n,)):
                p = os.path.join(folder, candidate)
                if os.path.isfile(p):
                    found[n] = p
                    break
            else:
                missing.append(n + (" (or .gz)" if gz else ""))
        if not missing:
            return found
        tried.append((folder, missing))
    lines = "\n".join(f"  in {folder}: missing {', '.join(m)}" for folder, m in tried)
    raise FileNotFoundError(f"{what}: expected files not found under {root!r}:\n{lines}\n"
                            f"They are published at {published} (pycnn never downloads); "
                            f"put them in one of the folders above.")


# ----------------------------------------------------------------------------- IDX (MNIST)
# IDX: 2 zero bytes, a type code, the number of dims; each dim a big-endian uint32; then the
# values, big-endian, row-major.
_IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path) -> np.ndarray:
    """An IDX file (gzip or not) as a numpy array of its shape and (native-endian) type."""
    with _open_maybe_gzip(path) as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"read_idx: {path} is not an IDX file (header {raw[:4].hex() or 'empty'}; "
                         "expected 00 00 <type 08/09/0b/0c/0d/0e> <ndim>)")
    dtype, ndim = _IDX_TYPES[raw[2]], raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"read_idx: {path} ends inside its header ({len(raw)} bytes, {ndim} dims)")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", ndim, 4))
    expected = 4 + 4 * ndim + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"read_idx: {path} holds {len(raw)} bytes, but its header (shape {shape}, "
                         f"{dtype.itemsize}-byte values) says {expected}")
    return np.frombuffer(raw, dtype, offset=4 + 4 * ndim).reshape(shape).astype(dtype.newbyteorder("="))


_MNIST_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_MNIST_URL = "https://yann.lecun.com/exdb/mnist/ (mirror: https://ossci-datasets.s3.amazonaws.com/mnist/)"
_FASHION_URL = ("https://github.com/zalandoresearch/fashion-mnist "
                "(files: http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/)")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")


def _idx_dataset(what, root, train, subdir, published, classes):
    names = _MNIST_FILES[bool(train)]
    files = _find_files(what, root, ["", os.path.join(subdir, "raw"), subdir], names, published, gz=True)
    images, labels = read_idx(files[names[0]]), read_idx(files[names[1]])
    if images.ndim != 3 or images.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(f"{what}: expected uint8 images (N, H, W) and labels (N,), got {images.dtype} "
                         f"{images.shape} in {files[names[0]]} and {labels.shape} in {files[names[1]]}")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{what}: {files[names[0]]} holds {images.shape[0]} images but "
                         f"{files[names[1]]} holds {labels.shape[0]} labels")
    return ImageDataset(images[:, None], labels.astype(np.int64), classes,
                        f"{what} {'train' if train else 'test'}")


def mnist(root, train: bool = True) -> ImageDataset:
    """MNIST (LeCun et al. 1998) from its IDX files: 60000 train / 10000 test 1x28x28 uint8 images."""
    return _idx_dataset("mnist", root, train, "MNIST", _MNIST_URL, [str(i) for i in range(10)])


def fashion_mnist(root, train: bool = True) -> ImageDataset:
    """Fashion-MNIST (Xiao et al. 2017): MNIST's file names and format, ten kinds of clothing."""
    return _idx_dataset("fashion_mnist", root, train, "FashionMNIST", _FASHION_URL, FASHION_MNIST_CLASSES)


# ----------------------------------------------------------------------------- CIFAR-10
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html (cifar-10-binary.tar.gz or cifar-10-python.tar.gz)"
_CIFAR_BIN = {True: [f"data_batch_{i}.bin" for i in range(1, 6)], False: ["test_batch.bin"]}
_CIFAR_PY = {True: [f"data_batch_{i}" for i in range(1, 6)], False: ["test_batch"]}
_CIFAR_RECORD = 1 + 3 * 32 * 32  # label byte, then R, G, B planes of 32x32


def _read_cifar_bin(path):
    with _open_maybe_gzip(path) as f:
        raw = np.frombuffer(f.read(), np.uint8)
    if raw.size == 0 or raw.size % _CIFAR_RECORD:
        raise ValueError(f"cifar10: {path} holds {raw.size} bytes, not a whole number of "
                         f"{_CIFAR_RECORD}-byte records (1 label byte + 3x32x32 pixels)")
    records = raw.reshape(-1, _CIFAR_RECORD)
    return records[:, 1:].reshape(-1, 3, 32, 32), records[:, 0].astype(np.int64)


def _reconstruct(cls, shape, typecode):
    if cls is not np.ndarray:
        raise pickle.UnpicklingError(f"refusing to reconstruct an array of class {cls!r}")
    return _NP_CORE.multiarray._reconstruct(cls, shape, typecode)


def _dtype(*args):
    dt = np.dtype(*args)
    if dt.hasobject:
        raise pickle.UnpicklingError(f"refusing an array of dtype {dt} (it holds Python objects)")
    return dt


def _frombuffer(buf, dtype, shape, order):
    return _NP_CORE.numeric._frombuffer(buf, _dtype(dtype), shape, order)


def _latin1_encode(text, encoding="utf-8", errors="strict"):
    # how a protocol-2 pickle written by Python 3 spells a bytes object
    if encoding != "latin1" or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


_NP_CORE = getattr(np, "_core", None) or np.core
_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class _ArrayUnpickler(pickle.Unpickler):
    """Admits only numpy arrays (of non-object dtypes) and pickle's own containers and scalars."""

    def find_class(self, module, name):
        try:
            return _SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load the global {module}.{name}: this file may only hold a dict of numpy "
                "arrays, lists, bytes and str (a CIFAR batch)") from None


def _check_plain(value, where):
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise pickle.UnpicklingError(f"{where}: object array refused")
    elif isinstance(value, (list, tuple)):
        for v in value:
            if not isinstance(v, (int, str, bytes)):
                raise pickle.UnpicklingError(f"{where}: list item of type {type(v).__name__} refused")
    elif not isinstance(value, (str, bytes, int)):
        raise pickle.UnpicklingError(f"{where}: value of type {type(value).__name__} refused")


def load_array_pickle(path) -> dict:
    """A pickled dict of numpy arrays / lists / bytes / str (Python 2's CIFAR batches included) with
    str keys, read without running any code from the file (see _ArrayUnpickler)."""
    with _open_maybe_gzip(path) as f:
        try:
            obj = _ArrayUnpickler(f, encoding="latin1").load()
        except pickle.UnpicklingError as e:
            raise pickle.UnpicklingError(f"load_array_pickle: {path}: {e}") from None
    if not isinstance(obj, dict):
        raise pickle.UnpicklingError(f"load_array_pickle: {path} holds a {type(obj).__name__}, expected a dict")
    out = {}
    for k, v in obj.items():
        key = k.decode("latin1") if isinstance(k, bytes) else k
        if not isinstance(key, str):
            raise pickle.UnpicklingError(f"load_array_pickle: {path}: key {k!r} is not a str")
        _check_plain(v, f"load_array_pickle: {path}[{key!r}]")
        out[key] = v
    return out


def _read_cifar_py(path):
    d = load_array_pickle(path)
    if "data" not in d or "labels" not in d:
        raise ValueError(f"cifar10: {path} has keys {sorted(d)}, expected 'data' and 'labels'")
    data, labels = np.asarray(d["data"]), np.asarray(d["labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (data.shape[0],):
        raise ValueError(f"cifar10: {path}: expected uint8 data (N, 3072) and N labels, got {data.dtype} "
                         f"{data.shape} and {labels.shape}")
    return data.reshape(-1, 3, 32, 32), labels


def cifar10(root, train: bool = True, version: str = "auto") -> ImageDataset:
    """CIFAR-10 (Krizhevsky 2009): 50000 train / 10000 test 3x32x32 uint8 images.

    version: 'binary' (``cifar-10-batches-bin``), 'python' (``cifar-10-batches-py``, read by a
    restricted unpickler) or 'auto' (binary if all its files are there, else python)."""
    if version not in ("auto", "binary", "python"):
        raise ValueError(f"cifar10: version must be 'auto', 'binary' or 'python', got {version!r}")
    what = "cifar10"
    attempts = []
    for kind, names, sub, reader in (("binary", _CIFAR_BIN[bool(train)], "cifar-10-batches-bin", _read_cifar_bin),
                                     ("python", _CIFAR_PY[bool(train)], "cifar-10-batches-py", _read_cifar_py)):
        if version not in ("auto", kind):
            continue
        try:
            files = _find_files(f"{what} ({kind} version)", root, [sub, ""], names, _CIFAR_URL, gz=False)
        except FileNotFoundError as e:
            attempts.append(str(e))
            continue
        parts = [reader(files[n]) for n in names]
        data = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        return ImageDataset(data, labels, CIFAR10_CLASSES, f"cifar10 {'train' if train else 'test'}")
    raise FileNotFoundError("\n".join(attempts))


def load(name: str, root=None, train: bool = True):
    """A dataset by its CLI name: 'mnist', 'fashion-mnist' (or 'fashion_mnist') or 'cifar10'."""
    readers = {"mnist": mnist, "fashion-mnist": fashion_mnist, "fashion_mnist": fashion_mnist,
               "cifar10": cifar10}
    if name not in readers:
        raise ValueError(f"datasets.load: unknown dataset {name!r}; expected one of {sorted(readers)}")
    if root is None:
        raise ValueError(f"datasets.load: {name} is read from files; give root (the folder holding them)")
    return readers[name](root, train=train)
