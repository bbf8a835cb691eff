"""Dataset readers on tiny fixture files written here in the exact on-disk formats (IDX, CIFAR-10
binary, CIFAR-10 python pickles as Python 2 wrote them), the restricted unpickler, the per-batch
transforms and the DataLoader's transform / uint8 handling."""
import gzip
import os
import pickle
import struct

import numpy as np
import pytest

import pycnn
from pycnn import datasets
from pycnn import transforms as T
from pycnn.data import DataLoader

RNG = np.random.default_rng(20261202)


# ----------------------------------------------------------------------------- fixture writers
_IDX_CODE = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def write_idx(path, array, gz=False):
    """IDX: 00 00 <type> <ndim>, each dim as a big-endian uint32, then big-endian values."""
    array = np.asarray(array)
    kind = array.dtype.kind + str(array.dtype.itemsize)
    header = bytes([0, 0, _IDX_CODE[kind], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    body = array.astype(array.dtype.newbyteorder(">")).tobytes()
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(header + body)


def write_mnist(folder, n_train=12, n_test=7, gz=False, size=28):
    """The four MNIST files; returns {True: (images, labels), False: (...)}."""
    os.makedirs(folder, exist_ok=True)
    out = {}
    for train, prefix, n in ((True, "train", n_train), (False, "t10k", n_test)):
        images = RNG.integers(0, 256, (n, size, size), dtype=np.uint8)
        labels = RNG.integers(0, 10, n).astype(np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte{suffix}"), images, gz)
        write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte{suffix}"), labels, gz)
        out[train] = images, labels
    return out


def cifar_batches(n_per_batch=(3, 2, 4, 1, 2), n_test=3):
    """Random CIFAR content: {file stem: (data (n, 3072) uint8, labels list)}."""
    stems = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    out = {}
    for stem, n in zip(stems, list(n_per_batch) + [n_test]):
        out[stem] = RNG.integers(0, 256, (n, 3072), dtype=np.uint8), RNG.integers(0, 10, n).tolist()
    return out


def write_cifar_bin(folder, batches):
    """cifar-10-batches-bin: records of <1 label byte><1024 R><1024 G><1024 B>."""
    os.makedirs(folder, exist_ok=True)
    for stem, (data, labels) in batches.items():
        records = np.concatenate([np.array(labels, np.uint8)[:, None], data], axis=1)
        with open(os.path.join(folder, stem + ".bin"), "wb") as f:
            f.write(records.tobytes())


def _py2_str(b: bytes) -> bytes:
    """A Python 2 str in a protocol-2 pickle: SHORT_BINSTRING (U) or BINSTRING (T)."""
    return (b"U" + bytes([len(b)]) if len(b) < 256 else b"T" + struct.pack("<I", len(b))) + b


def _py2_int(v: int) -> bytes:
    return b"K" + bytes([v]) if 0 <= v < 256 else b"J" + struct.pack("<i", v)


def py2_cifar_pickle(data, labels, batch_label):
    """The bytes cPickle.dump(d, f, 2) wrote for CIFAR-10 under Python 2 and numpy 1.x: a dict of
    str keys; 'data' through numpy.core.multiarray._reconstruct + ndarray.__setstate__ (the
    pixels as one BINSTRING), 'labels' a list of ints, 'filenames' a list of str."""
    n = data.shape[0]
    dtype = (b"cnumpy\ndtype\n" + _py2_str(b"u1") + _py2_int(0) + _py2_int(1) + b"\x87R"
             + b"(" + _py2_int(3) + _py2_str(b"|") + b"NNN" + _py2_int(-1) + _py2_int(-1) + _py2_int(0) + b"tb")
    array = (b"cnumpy.core.multiarray\n_reconstruct\n" + b"cnumpy\nndarray\n" + _py2_int(0) + b"\x85"
             + _py2_str(b"b") + b"\x87R"
             + b"(" + _py2_int(1) + _py2_int(n) + b"M" + struct.pack("<H", 3072) + b"\x86" + dtype
             + b"\x89" + _py2_str(data.tobytes()) + b"tb")
    labels_p = b"]" + (b"(" + b"".join(_py2_int(v) for v in labels) + b"e" if labels else b"")
    names = b"]" + (b"(" + b"".join(_py2_str(f"img_{i}.png".encode()) for i in range(n)) + b"e" if n else b"")
    return (b"\x80\x02}(" + _py2_str(b"batch_label") + _py2_str(batch_label) + _py2_str(b"labels") + labels_p
            + _py2_str(b"data") + array + _py2_str(b"filenames") + names + b"u.")


def write_cifar_py(folder, batches, protocol=None):
    """cifar-10-batches-py: Python 2 pickles (protocol None) or this Python's pickles."""
    os.makedirs(folder, exist_ok=True)
    for stem, (data, labels) in batches.items():
        with open(os.path.join(folder, stem), "wb") as f:
            if protocol is None:
                f.write(py2_cifar_pickle(data, labels, f"{stem} of 6".encode()))
            else:
                pickle.dump({"batch_label": stem, "labels": labels, "data": data,
                             "filenames": [f"img_{i}.png" for i in range(len(labels))]}, f, protocol=protocol)


def _expected_cifar(batches, train):
    stems = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    data = np.concatenate([batches[s][0] for s in stems]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([batches[s][1] for s in stems]).astype(np.int64)
    return data, labels


# ----------------------------------------------------------------------------- IDX / MNIST
@pytest.mark.parametrize("kind", ["u1", "i1", "i2", "i4", "f4", "f8"])
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trips_every_type(tmp_path, kind, gz):
    a = (RNG.standard_normal((3, 4, 5)) * 50).astype(np.dtype(kind))
    path = tmp_path / ("x.idx" + (".gz" if gz else ""))
    write_idx(path, a, gz)
    b = datasets.read_idx(path)
    assert b.shape == a.shape and b.dtype == a.dtype.newbyteorder("=")
    np.testing.assert_array_equal(b, a)


def test_read_idx_rejects_bad_headers_and_lengths(tmp_path):
    p = tmp_path / "bad"
    p.write_bytes(b"\x01\x00\x08\x01" + struct.pack(">I", 2) + b"ab")
    with pytest.raises(ValueError, match="not an IDX file"):
        datasets.read_idx(p)
    p.write_bytes(b"\x00\x00\x08\x02" + struct.pack(">I", 2))
    with pytest.raises(ValueError, match="ends inside its header"):
        datasets.read_idx(p)
    p.write_bytes(b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"abc")
    with pytest.raises(ValueError, match=r"holds 11 bytes.*says 13"):
        datasets.read_idx(p)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_the_four_idx_files(tmp_path, gz):
    written = write_mnist(tmp_path, gz=gz)
    for train in (True, False):
        ds = datasets.mnist(tmp_path, train=train)
        images, labels = written[train]
        assert ds.data.shape == (len(labels), 1, 28, 28) and ds.data.dtype == np.uint8
        np.testing.assert_array_equal(ds.data[:, 0], images)
        np.testing.assert_array_equal(ds.targets, labels.astype(np.int64))
        x, y = ds[2]
        np.testing.assert_array_equal(x, images[2][None])
        assert y == int(labels[2])
    assert ds.classes == [str(i) for i in range(10)]


def test_fashion_mnist_in_torchvisions_layout(tmp_path):
    written = write_mnist(tmp_path / "FashionMNIST" / "raw", gz=True)
    ds = datasets.fashion_mnist(tmp_path, train=False)
    np.testing.assert_array_equal(ds.data[:, 0], written[False][0])
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"


def test_mnist_rejects_mismatched_counts_and_bad_labels(tmp_path):
    write_mnist(tmp_path, n_train=5)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, np.uint8) + 3)
    with pytest.raises(ValueError, match="5 images but .* 4 labels"):
        datasets.mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([1, 2, 10, 3, 4], np.uint8))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\)"):
        datasets.mnist(tmp_path)


def test_missing_files_name_each_file_and_where_it_is_published(tmp_path):
    write_mnist(tmp_path)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(FileNotFoundError) as e:
        datasets.mnist(tmp_path, train=False)
    msg = str(e.value)
    assert "t10k-labels-idx1-ubyte" in msg and "t10k-images" not in msg.split("missing", 1)[1].split("\n")[0]
    assert "yann.lecun.com" in msg and "never downloads" in msg
    with pytest.raises(FileNotFoundError) as e:
        datasets.fashion_mnist(tmp_path / "empty" if False else tmp_path / "nothing-here")
    assert "does not exist" in str(e.value) and "zalandoresearch" in str(e.value)
    with pytest.raises(FileNotFoundError) as e:
        datasets.cifar10(tmp_path)
    msg = str(e.value)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + [f"data_batch_{i}" for i in range(1, 6)]:
        assert name in msg, name
    assert "cs.toronto.edu/~kriz/cifar.html" in msg and "cifar-10-batches-bin" in msg
    assert "cifar-10-batches-py" in msg
    with pytest.raises(FileNotFoundError, match="test_batch.bin"):
        datasets.cifar10(tmp_path, train=False, version="binary")


# ----------------------------------------------------------------------------- CIFAR-10
def test_cifar10_binary_layout(tmp_path):
    batches = cifar_batches()
    write_cifar_bin(tmp_path / "cifar-10-batches-bin", batches)
    for train in (True, False):
        ds = datasets.cifar10(tmp_path, train=train)
        data, labels = _expected_cifar(batches, train)
        np.testing.assert_array_equal(ds.data, data)
        np.testing.assert_array_equal(ds.targets, labels)
    # byte 1 + c*1024 + y*32 + x of a record is channel c (R, G, B), row y, column x
    record = np.fromfile(tmp_path / "cifar-10-batches-bin" / "data_batch_1.bin", np.uint8)[:3073]
    ds = datasets.cifar10(tmp_path)
    assert ds.targets[0] == record[0]
    for c, y, x in [(0, 0, 0), (1, 5, 7), (2, 31, 30), (2, 0, 31)]:
        assert ds.data[0, c, y, x] == record[1 + c * 1024 + y * 32 + x]
    assert ds.classes[0] == "airplane" and len(ds.classes) == 10


def test_cifar10_binary_rejects_a_partial_record(tmp_path):
    batches = cifar_batches()
    write_cifar_bin(tmp_path, batches)
    with open(tmp_path / "test_batch.bin", "ab") as f:
        f.write(b"\x01\x02")
    with pytest.raises(ValueError, match="3073-byte records"):
        datasets.cifar10(tmp_path, train=False)


def test_python2_pickle_fixture_is_what_pickle_reads_as_cifar():
    # the hand-written Python 2 bytes are a valid pickle: the stock unpickler (trusted input
    # here) reads back exactly the content, so the fixture is the real format
    data = RNG.integers(0, 256, (2, 3072), dtype=np.uint8)
    d = pickle.loads(py2_cifar_pickle(data, [3, 9], b"training batch 1 of 5"), encoding="bytes")
    assert sorted(d) == [b"batch_label", b"data", b"filenames", b"labels"]
    np.testing.assert_array_equal(d[b"data"], data)
    assert d[b"labels"] == [3, 9] and d[b"filenames"] == [b"img_0.png", b"img_1.png"]


@pytest.mark.parametrize("protocol", [None, 2, 4, 5], ids=["python2", "p2", "p4", "p5"])
def test_cifar10_python_version_equals_the_binary_version(tmp_path, protocol):
    batches = cifar_batches()
    write_cifar_py(tmp_path / "cifar-10-batches-py", batches, protocol)
    write_cifar_bin(tmp_path / "bin" / "cifar-10-batches-bin", batches)
    for train in (True, False):
        py = datasets.cifar10(tmp_path, train=train)  # only the python version is under tmp_path
        binary = datasets.cifar10(tmp_path / "bin", train=train, version="binary")
        np.testing.assert_array_equal(py.data, binary.data)
        np.testing.assert_array_equal(py.targets, binary.targets)
        np.testing.assert_array_equal(py.data, _expected_cifar(batches, train)[0])
    d = datasets.load_array_pickle(tmp_path / "cifar-10-batches-py" / "test_batch")
    assert set(d) == {"batch_label", "labels", "data", "filenames"}


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("protocol", [2, 5])
def test_malicious_pickles_are_refused_without_running_anything(tmp_path, protocol):
    marker = tmp_path / "pwned"
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_py(folder, cifar_batches(), protocol=2)
    # 1. the whole file is a reduce to os.system
    (folder / "test_batch").write_bytes(pickle.dumps(_Evil(marker), protocol=protocol))
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load the global (posix|os|nt)\.system"):
        datasets.cifar10(tmp_path, train=False)
    # 2. a genuine-looking batch with the payload hidden in its labels
    data = RNG.integers(0, 256, (2, 3072), dtype=np.uint8)
    (folder / "test_batch").write_bytes(pickle.dumps({"data": data, "labels": [1, _Evil(marker)]},
                                                     protocol=protocol))
    with pytest.raises(pickle.UnpicklingError, match="system"):
        datasets.cifar10(tmp_path, train=False)
    # 3. builtins are no exception
    (folder / "test_batch").write_bytes(pickle.dumps({"data": data, "labels": [1, 2], "f": eval}, protocol=protocol))
    with pytest.raises(pickle.UnpicklingError, match=r"(builtins|__builtin__)\.eval"):
        datasets.cifar10(tmp_path, train=False)
    assert not marker.exists()
    # 4. object arrays (which would carry arbitrary objects) and non-dicts
    (folder / "test_batch").write_bytes(pickle.dumps({"data": np.array([1, "a"], dtype=object)}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="object"):
        datasets.cifar10(tmp_path, train=False)
    (folder / "test_batch").write_bytes(pickle.dumps([data], protocol=protocol))
    with pytest.raises(pickle.UnpicklingError, match="expected a dict"):
        datasets.cifar10(tmp_path, train=False)


def test_load_by_cli_name(tmp_path):
    write_mnist(tmp_path)
    assert len(datasets.load("fashion-mnist", tmp_path, train=False)) == 7
    with pytest.raises(ValueError, match="unknown dataset 'svhn'"):
        datasets.load("svhn", tmp_path)


def test_bundled_digits_still_load():
    split = datasets.digits(image_size=32)
    # every 5th image of each class (178, 182, 177, 183, 181, 182, 181, 179, 174, 180 of them) is a test image
    assert split.train.tensors[0].shape == (1433, 1, 32, 32) and len(split.test) == 364


# ----------------------------------------------------------------------------- transforms
def _batch(n=6, c=3, h=9, w=7, dtype=np.float32):
    return RNG.standard_normal((n, c, h, w)).astype(dtype)


def test_to_float_scales_integers_by_their_max():
    x = RNG.integers(0, 256, (2, 1, 3, 3), dtype=np.uint8)
    y = T.ToFloat()(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, x / 255.0, rtol=1e-7)
    z = T.ToFloat("float64")(x.astype(np.uint16) * 200)
    np.testing.assert_allclose(z, x.astype(np.float64) * 200 / 65535.0, rtol=1e-12)
    f = _batch(dtype=np.float64)
    np.testing.assert_array_equal(T.ToFloat()(f), f.astype(np.float32))


def test_normalize_per_channel():
    x = _batch()
    mean, std = [0.1, -0.2, 0.3], [0.5, 2.0, 0.25]
    y = T.Normalize(mean, std)(x)
    for c in range(3):
        np.testing.assert_allclose(y[:, c], (x[:, c] - mean[c]) / std[c], rtol=1e-6)
    with pytest.raises(ValueError, match="3 means for a batch of 2 channels"):
        T.Normalize(mean, std)(x[:, :2])
    with pytest.raises(ValueError, match="std must be positive"):
        T.Normalize([0.0], [0.0])
    with pytest.raises(TypeError, match="put ToFloat"):
        T.Normalize([0.5], [0.5])(np.zeros((1, 1, 2, 2), np.uint8))


def _windows(padded, h, w):
    """{(top, left): window} of every h x w window of one padded image (C, H, W)."""
    H, W = padded.shape[1:]
    return {(t, l): padded[:, t:t + h, l:l + w] for t in range(H - h + 1) for l in range(W - w + 1)}


def test_random_crop_takes_a_window_of_the_padded_image_per_image():
    x = _batch(n=40, c=2, h=6, w=5)
    crop = T.RandomCrop((6, 5), padding=2, generator=3)
    y = crop(x)
    assert y.shape == x.shape
    offsets = set()
    for i in range(len(x)):
        padded = np.pad(x[i], ((0, 0), (2, 2), (2, 2)))
        hits = [k for k, win in _windows(padded, 6, 5).items() if np.array_equal(win, y[i])]
        assert hits, i
        offsets.add(hits[0])
    assert len(offsets) > 5  # a new offset per image, not one per batch
    # (l, t, r, b) padding, reflect mode, an uncropped size
    z = T.RandomCrop((7, 9), padding=(1, 0, 3, 1), padding_mode="reflect", generator=0)(x)
    np.testing.assert_array_equal(z, np.pad(x, ((0, 0), (0, 0), (0, 1), (1, 3)), mode="reflect"))
    with pytest.raises(ValueError, match="larger than"):
        T.RandomCrop(8)(x)
    assert T.RandomCrop(8, pad_if_needed=True, generator=0)(x).shape == (40, 2, 8, 8)


def test_random_transforms_follow_pycnn_manual_seed_and_generators():
    x = _batch(n=32)
    t = T.Compose([T.RandomCrop(9, padding=3), T.RandomHorizontalFlip()])
    pycnn.manual_seed(5)
    a = t(x)
    pycnn.manual_seed(5)
    b = t(x)
    pycnn.manual_seed(6)
    c = t(x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    g1, g2 = (T.RandomHorizontalFlip(generator=np.random.default_rng(9)) for _ in range(2))
    np.testing.assert_array_equal(g1(x), g2(x))


def test_random_horizontal_flip():
    x = _batch(n=64)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(0.0)(x), x)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(x), x[..., ::-1])
    y = T.RandomHorizontalFlip(0.5, generator=1)(x)
    flipped = [np.array_equal(y[i], x[i, :, :, ::-1]) for i in range(len(x))]
    kept = [np.array_equal(y[i], x[i]) for i in range(len(x))]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 16 < sum(flipped) < 48
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        T.RandomHorizontalFlip(1.5)


def test_pad_resize_and_grayscale():
    x = _batch(c=3)
    np.testing.assert_array_equal(T.Pad((1, 2, 3, 4), fill=0.5)(x),
                                  np.pad(x, ((0, 0), (0, 0), (2, 4), (1, 3)), constant_values=0.5))
    g = T.Grayscale(1)(x)
    np.testing.assert_allclose(g[:, 0], 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2], rtol=1e-5, atol=1e-6)
    rep = T.Grayscale(3)(x[:, :1])
    assert rep.shape == (6, 3, 9, 7) and all(np.array_equal(rep[:, c], x[:, 0]) for c in range(3))
    u = RNG.integers(0, 256, (2, 3, 4, 4), dtype=np.uint8)
    assert T.Grayscale(1)(u).dtype == np.uint8 and T.Resize(8)(u).dtype == np.uint8
    # Resize is bilinear with half-pixel centres, as torch's interpolate(align_corners=False)
    torch = pytest.importorskip("torch")
    r = T.Resize((13, 4))(x.astype(np.float64))
    ref = torch.nn.functional.interpolate(torch.from_numpy(x.astype(np.float64)), size=(13, 4), mode="bilinear",
                                          align_corners=False).numpy()
    np.testing.assert_allclose(r, ref, rtol=1e-12, atol=1e-12)


def test_transforms_reject_non_batches():
    with pytest.raises(ValueError, match=r"RandomCrop: expected a batch \(N, C, H, W\), got shape \(3, 4\)"):
        T.RandomCrop(2)(np.ones((3, 4), np.float32))
    with pytest.raises(TypeError, match="numpy array"):
        T.ToFloat()([1, 2])
    with pytest.raises(TypeError, match="callable"):
        T.Compose([T.ToFloat(), 3])


# ----------------------------------------------------------------------------- DataLoader
def test_dataloader_turns_uint8_batches_into_floats_and_applies_its_transform(tmp_path):
    written = write_mnist(tmp_path, n_train=10)
    ds = datasets.mnist(tmp_path)
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    assert x.dtype == pycnn.float32 and y.dtype == pycnn.int64 and x.shape == (4, 1, 28, 28)
    np.testing.assert_allclose(x.numpy()[:, 0], written[True][0][:4] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y.numpy(), written[True][1][:4])
    t = T.Compose([T.ToFloat(), T.Normalize([0.5], [0.25]), T.Pad(2), T.Grayscale(3)])
    batches = list(DataLoader(ds, batch_size=4, transform=t))
    assert [b[0].shape for b in batches] == [(4, 3, 32, 32), (4, 3, 32, 32), (2, 3, 32, 32)]
    np.testing.assert_allclose(batches[0][0].numpy()[:, 1, 2:30, 2:30], (written[True][0][:4] / 255.0 - 0.5) / 0.25,
                               rtol=1e-5, atol=1e-6)
    assert (batches[0][0].numpy()[:, :, :2] == 0).all()
    # a TensorDataset's batches go through the transform too
    split = datasets.digits()
    xb, _ = next(iter(DataLoader(split.test, batch_size=5, transform=T.Grayscale(3))))
    assert xb.shape == (5, 3, 8, 8)
    np.testing.assert_array_equal(xb.numpy()[:, 2], split.test.tensors[0].numpy()[:5, 0])
    with pytest.raises(TypeError, match="transform must be callable"):
        DataLoader(ds, transform="flip")
