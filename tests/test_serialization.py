"""pycnn.save / pycnn.load (issue 11, items 13 and 14): round trips keep every container, scalar,
array and Tensor as it was; load refuses with one ValueError naming the file whatever pycnn.save
did not write, never unpickles, and bounds what it reads by the file's size; save is atomic, cleans
up after killed saves, keeps an existing file's mode and writes through symlinks."""
import io
import math
import os
import pickle
import signal
import stat
import struct
import subprocess
import tempfile
import sys
import threading
import time
import tracemalloc
import zipfile
import zlib
from collections import OrderedDict, defaultdict, namedtuple

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import pycnn
from pycnn import nn, serialization
from helpers import assert_damage_refused, load_refused

RNG = np.random.default_rng(1234)


def same(a, b, where="root"):
    """Deep equality that also requires identical types (dict vs OrderedDict, list vs tuple,
    int vs bool, np.float32 vs 0-d array), dtypes, shapes, requires_grad and NaN placement."""
    assert type(a) is type(b), (where, type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b), where                      # same keys in the same order
        for k in a:
            same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, pycnn.Tensor):
        assert (a.dtype, a.shape, a.requires_grad, a.device.type) == (b.dtype, b.shape, b.requires_grad, "cpu"), where
        assert b.is_leaf and b.grad is None, where
        np.testing.assert_array_equal(a.detach().cpu().numpy(), b.detach().numpy(), err_msg=where)
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b), where
        np.testing.assert_array_equal(a, b, err_msg=where)
        if isinstance(b, np.ndarray):
            assert b.flags.writeable and b.flags.owndata or b.base is not None, where
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where
        if isinstance(a, float):
            assert math.copysign(1, a) == math.copysign(1, b), where   # -0.0 stays -0.0


def round_trip(obj, tmp_path, name="x.npz"):
    path = tmp_path / name
    pycnn.save(obj, path)
    return pycnn.load(path)


def every_kind():
    sd = nn.Linear(3, 2).state_dict()                          # an OrderedDict of Tensors
    big_endian = RNG.standard_normal(4).astype(">f8")
    return {
        "model": sd,
        "plain": {"b": 1, "a": 2, 7: "int key", -3: None, "x::y": 1.5},   # insertion order, int keys
        "nested": [[1, (2.5, [None, True])], (), [], {}, OrderedDict(), ((),)],
        "scalars": [0, -1, 2 ** 80, -(2 ** 70), 0.1, -0.0, float("inf"), float("-inf"), float("nan"),
                    1e308, 5e-324, "", "héllo ✓ \n\"quoted\"", "::", "__pycnn_tree__", None, True, False],
        "arrays": [RNG.standard_normal((3, 4)).astype(np.float32), RNG.integers(-9, 9, (2, 3, 2)),
                   RNG.integers(0, 255, 5).astype(np.uint8), RNG.integers(-5, 5, 4).astype(np.int8),
                   RNG.standard_normal(3).astype(np.float16), RNG.random(3) > 0.5,
                   RNG.standard_normal(2) + 1j * RNG.standard_normal(2), np.array(3.25), np.zeros((0, 3)),
                   np.asfortranarray(RNG.standard_normal((3, 5))), RNG.standard_normal((6, 6))[::2, 1::3],
                   big_endian],
        "numpy_scalars": (np.float32(1.5), np.int64(-7), np.bool_(True), np.float64(2.0), np.uint16(9)),
        "tensors": {"f32": pycnn.tensor(RNG.standard_normal((2, 3)).astype(np.float32)),
                    "f64_grad": pycnn.tensor(RNG.standard_normal(4), requires_grad=True),
                    "i64": pycnn.tensor(RNG.integers(-100, 100, (3,))),
                    "bool": pycnn.tensor(RNG.random((2, 2)) > 0.5),
                    "scalar": pycnn.tensor(2.5),
                    "empty": pycnn.zeros(0, 4),
                    "param": nn.Parameter(pycnn.tensor(RNG.standard_normal(3).astype(np.float32))),
                    "frozen": nn.Parameter(pycnn.tensor(RNG.standard_normal(2)), requires_grad=False)},
        "clash": {"file": np.ones(2), "allow_pickle": np.zeros(1), "__pycnn_tree__": np.arange(3),
                  "a\x00b": np.ones(1), "a\x00c": np.zeros(1), "\udcff": np.ones(2), "a#1": np.arange(2)},
        "epoch": 3,
    }


def test_round_trip_keeps_every_container_scalar_array_and_tensor(tmp_path):
    obj = every_kind()
    back = round_trip(obj, tmp_path)
    same(obj, back)
    assert type(back["model"]) is OrderedDict and type(back["plain"]) is dict
    assert back["arrays"][9].flags.f_contiguous and back["arrays"][11].dtype == np.dtype(">f8")
    t = back["tensors"]["f64_grad"]
    (t * t).sum().backward()                                   # a loaded leaf that requires grad is usable
    np.testing.assert_allclose(t.grad.numpy(), 2 * obj["tensors"]["f64_grad"].detach().numpy())
    # loading twice gives independent objects (no shared buffers between loads)
    again = pycnn.load(tmp_path / "x.npz")
    again["arrays"][0][...] = 0
    assert np.all(back["arrays"][0] == obj["arrays"][0])


def test_non_tensor_values_round_trip_as_torch_save_load_does(tmp_path):
    torch = pytest.importorskip("torch")
    obj = every_kind()
    plain = {k: v for k, v in obj.items() if k not in ("tensors", "model")}
    plain["model"] = OrderedDict((k, v.numpy().copy()) for k, v in obj["model"].items())   # as numpy arrays
    plain["arrays"] = plain["arrays"][:-1]      # torch turns '>f8' into native float64; pycnn keeps it, as np.save
    torch.save(plain, tmp_path / "t.pt")
    ref = torch.load(tmp_path / "t.pt", weights_only=False)   # our own file: unpickling is safe here
    same(ref, round_trip(plain, tmp_path))
    # Tensors: torch keeps dtype, shape and requires_grad (a Parameter stays a Parameter)
    tensors = obj["tensors"]
    torch_tensors = {k: (torch.nn.Parameter(torch.from_numpy(v.detach().numpy().copy()), requires_grad=v.requires_grad)
                         if isinstance(v, nn.Parameter) else
                         torch.from_numpy(v.detach().numpy().copy()).requires_grad_(v.requires_grad))
                     for k, v in tensors.items()}
    torch.save(torch_tensors, tmp_path / "tt.pt")
    ref = torch.load(tmp_path / "tt.pt")
    back = round_trip(tensors, tmp_path, "tt.npz")
    for k in tensors:
        assert str(ref[k].dtype).replace("torch.", "") == back[k].dtype.name, k
        assert tuple(ref[k].shape) == back[k].shape and ref[k].requires_grad == back[k].requires_grad, k
        assert isinstance(ref[k], torch.nn.Parameter) == isinstance(back[k], nn.Parameter), k


def test_cuda_tensors_are_saved_to_the_host(tmp_path):
    if not pycnn.cuda.is_available():
        pytest.skip("no CUDA device (real or emulated)")
    w = pycnn.tensor(RNG.standard_normal((3, 2))).cuda().requires_grad_(True)
    m = nn.Linear(2, 3).cuda()
    back = round_trip({"w": w, "p": m.weight, "sd": m.state_dict()}, tmp_path)
    assert back["w"].device.type == "cpu" and back["w"].requires_grad and back["w"].dtype == np.float64
    np.testing.assert_array_equal(back["w"].detach().numpy(), w.detach().cpu().numpy())
    assert isinstance(back["p"], nn.Parameter) and back["p"].device.type == "cpu"
    np.testing.assert_array_equal(back["sd"]["weight"], m.weight.detach().cpu().numpy())


scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=True),
                    st.text(max_size=8))
arrays = st.builds(lambda shape, kind, seed: (np.random.default_rng(seed).standard_normal(shape) * 10).astype(kind),
                   st.lists(st.sampled_from([0, 1, 2, 3, 5]), max_size=3).map(tuple),
                   st.sampled_from(["float32", "float64", "int64", "int8", "bool", "complex64"]),
                   st.integers(0, 2 ** 32))
tensors = st.builds(lambda a, g: pycnn.tensor(a, requires_grad=g and a.dtype.kind == "f"),
                    arrays.filter(lambda a: a.dtype.name in ("float32", "float64", "int64", "bool")), st.booleans())
keys = st.one_of(st.text(max_size=6), st.integers(-5, 5))
values = st.recursive(st.one_of(scalars, arrays, tensors), lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.lists(inner, max_size=4).map(tuple),
    st.dictionaries(keys, inner, max_size=4), st.dictionaries(keys, inner, max_size=4).map(OrderedDict)),
    max_leaves=12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(keys, values, max_size=5))
def test_property_round_trip(tmp_path, obj):
    same(obj, round_trip(obj, tmp_path))


def legacy_save(obj, path):
    """The writer as it was before this change (commit 8d46356), trimmed: a plain dict of
    arrays and scalars, Tensors stored as plain arrays.  Files it wrote must still load."""
    import json
    arrays = {}

    def enc(o, p):
        if isinstance(o, pycnn.Tensor):
            o = o.detach()._host()
        if isinstance(o, (np.ndarray, np.generic)):
            arrays[p or "value"] = np.asarray(o)
            return {"array": p or "value"}
        if isinstance(o, dict):
            return {"dict": [[k, enc(v, f"{p}::{k}" if p else str(k))] for k, v in o.items()]}
        if isinstance(o, (list, tuple)):
            return {"list" if isinstance(o, list) else "tuple": [enc(v, f"{p}::{i}" if p else str(i))
                                                                 for i, v in enumerate(o)]}
        if isinstance(o, float) and not np.isfinite(o):
            return {"float": repr(o)}
        return {"value": o}
    tree = json.dumps(enc(obj, ""))
    with open(path, "wb") as f, zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in list(arrays.items()) + [("__pycnn_tree__", np.array(tree))]:
            with zf.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(arr), allow_pickle=False)


def test_files_written_by_the_previous_pycnn_still_load(tmp_path):
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    opt = pycnn.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(pycnn.randn(2, 4)).sum().backward()
    opt.step()
    old_sd = OrderedDict((k, v.numpy()) for k, v in net.state_dict().items())   # the old state_dict gave arrays
    ckpt = {"model": old_sd, "optim": opt.state_dict(), "epoch": 4, "best": float("inf"), "shape": (2, 3)}
    legacy_save(ckpt, tmp_path / "old.npz")
    back = pycnn.load(tmp_path / "old.npz")
    expected = dict(ckpt, model=dict(ckpt["model"]))          # the old format had no OrderedDict
    same(expected, back)
    net2 = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    net2.load_state_dict(back["model"])
    pycnn.optim.SGD(net2.parameters(), lr=0.5).load_state_dict(back["optim"])


def test_saved_state_dict_stays_readable_by_numpy(tmp_path):
    sd = nn.Linear(3, 2).state_dict()
    pycnn.save(sd, tmp_path / "sd.npz")
    with np.load(tmp_path / "sd.npz") as raw:
        assert set(raw.files) == {"weight", "bias", "__pycnn_tree__"}
        np.testing.assert_array_equal(raw["weight"], sd["weight"])


# ----------------------------------------------------------------------------- save refuses
def test_save_refuses_what_would_not_load_back_as_itself(tmp_path):
    cyc = {"a": []}
    cyc["a"].append(cyc)
    with pytest.raises(ValueError, match=r"save: .*'a::0'.*contains itself"):
        pycnn.save(cyc, tmp_path / "c.npz")
    deep = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValueError, match="save: .*nested more than 200"):
        pycnn.save({"d": deep}, tmp_path / "d.npz")
    ok = []
    for _ in range(150):
        ok = [ok]
    same({"d": ok}, round_trip({"d": ok}, tmp_path))
    Point = namedtuple("Point", "x y")
    for bad, kind in [(defaultdict(int, a=1), "defaultdict"), (Point(1, 2), "Point"),
                      (np.ma.masked_array([1.0, 2.0], mask=[0, 1]), "MaskedArray"), ({True: 1}, "keys"),
                      ({(1, 2): 1}, "keys"), (np.array(["s"]), "dtype <U1"), (object(), "object"),
                      (np.array([1, None], dtype=object), "dtype object"), (b"bytes", "bytes")]:
        with pytest.raises(TypeError, match=f"save: .*{kind}"):
            pycnn.save({"v": bad}, tmp_path / "t.npz")
    with pytest.raises(TypeError, match="save: expected a dict"):
        pycnn.save([1, 2], tmp_path / "t.npz")
    shared = [1.0]
    same({"a": shared, "b": shared}, round_trip({"a": shared, "b": shared}, tmp_path))   # shared, not cyclic
    assert sorted(os.listdir(tmp_path)) == ["x.npz"]           # refusals create no file


# ----------------------------------------------------------------------------- load refuses
def npy_bytes(arr):
    b = io.BytesIO()
    np.lib.format.write_array(b, arr, allow_pickle=True)
    return b.getvalue()


def zip_of(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def tree(text):
    return npy_bytes(np.array(text))


def test_load_refuses_files_pycnn_did_not_write(tmp_path):
    p = tmp_path / "a.npz"
    p.write_text("step,loss\n1,0.5\n")
    load_refused(p, "text file")
    p.write_bytes(b"")
    load_refused(p, "empty")
    p.write_bytes(os.urandom(64) + b"\x00")
    load_refused(p, "not a zip archive")
    np.save(tmp_path / "b.npy", np.ones(3))
    os.replace(tmp_path / "b.npy", p)                           # a .npy renamed .npz
    load_refused(p, r"single numpy \.npy array")
    zip_of(p, {"notes.txt": "hi", "img/x.png": b"\x89PNG"})
    load_refused(p, r"zip archive of other members \('notes.txt', 'img/x.png'\)")
    zip_of(p, {})
    load_refused(p, r"other members \(none\)")
    np.savez(p, w=np.ones(2), b=np.zeros(1))                    # decision: plain numpy .npz is refused
    load_refused(p, r"numpy \.npz archive that pycnn\.save did not write.*numpy\.load")
    np.savez_compressed(p, w=np.ones(2))
    load_refused(p, r"numpy \.npz archive")
    for name, body in [("not valid JSON", "{not json"), ("nested too deeply", '{"list":[' * 100000 + "]}" * 100000),
                       ("nested more than 200", '{"dict":[["a",' + '{"list":[' * 300 + ']}' * 300 + ']]}'),
                       ("missing member 'w'", '{"dict":[["w",{"array":"w"}]]}'),
                       ("unknown kind 'set'", '{"dict":[["s",{"set":[]}]]}'),
                       ("one-key object", '{"dict":[["a",{"value":1,"list":[]}]]}'),
                       ("not a dict", '{"list":[]}'), ("'float' holds '1e400'", '{"dict":[["f",{"float":"1e400"}]]}'),
                       ("key 'a' appears twice", '{"dict":[["a",{"value":1}],["a",{"value":2}]]}'),
                       ("item must be", '{"dict":[[true,{"value":1}]]}')]:
        zip_of(p, {"__pycnn_tree__.npy": tree(body)})
        load_refused(p, name)
    zip_of(p, {"__pycnn_tree__.npy": tree('{"dict":[]}'), "w.npy": npy_bytes(np.ones(2))})
    load_refused(p, r"members \['w'\] are not part")
    zip_of(p, {"__pycnn_tree__.npy": tree('{"dict":[["a",{"array":"w"}],["b",{"array":"w"}]]}'),
               "w.npy": npy_bytes(np.ones(2))})
    load_refused(p, "member 'w' twice")                              # one member cannot be read many times
    zip_of(p, {"__pycnn_tree__.npy": tree('{"dict":[["t",{"tensor":["w",true]}]]}'),
               "w.npy": npy_bytes(np.arange(3))})
    load_refused(p, "cannot require gradients")
    zip_of(p, {"__pycnn_tree__.npy": tree('{"dict":[["t",{"tensor":["w",false]}]]}'),
               "w.npy": npy_bytes(np.arange(3, dtype=np.int8))})
    load_refused(p, "pycnn tensors are")
    zip_of(p, {"__pycnn_tree__.npy": npy_bytes(np.array(['{"dict":[]}'] * 2))})
    load_refused(p, "not a single string")


def test_load_never_unpickles(tmp_path):
    marker = tmp_path / "unpickled"

    class Evil:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').close()",))

    p = tmp_path / "evil.npz"
    p.write_bytes(pickle.dumps({"w": Evil()}, protocol=4))
    load_refused(p, "pickle")
    zip_of(p, {"__pycnn_tree__.npy": tree('{"dict":[["w",{"array":"w"}]]}'),
               "w.npy": npy_bytes(np.array([Evil()], dtype=object))})
    load_refused(p, "dtype object")
    zip_of(p, {"__pycnn_tree__.npy": npy_bytes(np.array(Evil(), dtype=object))})
    load_refused(p, "dtype object")
    assert not marker.exists()


def test_load_reads_pytorch_checkpoints_but_refuses_the_legacy_format(tmp_path):
    # issue 15: torch.save's zip format now loads (tests/test_torch_format.py covers it in depth)
    torch = pytest.importorskip("torch")
    p = tmp_path / "model.pt"
    lin = torch.nn.Linear(3, 2)
    torch.save(lin.state_dict(), p)
    back = pycnn.load(p)
    assert type(back) is OrderedDict and list(back) == ["weight", "bias"]
    for k, v in lin.state_dict().items():
        assert type(back[k]) is pycnn.Tensor and back[k].dtype == np.float32
        np.testing.assert_array_equal(back[k].numpy(), v.numpy())
    torch.save({"w": torch.ones(2)}, p, _use_new_zipfile_serialization=False)
    load_refused(p, r"looks like a PyTorch checkpoint \(torch.save's legacy")


def test_load_refuses_truncated_and_corrupt_files(tmp_path):
    good = tmp_path / "good.npz"
    pycnn.save({"w": RNG.standard_normal(1000), "b": [1, 2], "t": pycnn.ones(3)}, good)
    p = tmp_path / "bad.npz"
    data = assert_damage_refused(good, p, "w.npy", 200)  # 200: inside w's data, past its .npy header
    p.write_bytes(data + b"junk")                               # appended bytes: zip still valid
    same(pycnn.load(good), pycnn.load(p))


def npy_header(descr, shape):
    """A .npy version 1.0 header (padded to 64 bytes, as numpy writes it) declaring any shape."""
    h = ("{'descr': %r, 'fortran_order': False, 'shape': %r, }" % (descr, shape)).encode("latin1")
    pad = -(10 + len(h) + 1) % 64
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h) + pad + 1) + h + b" " * pad + b"\n"


def test_load_refuses_npy_headers_that_lie_about_their_size(tmp_path):
    p = tmp_path / "lie.npz"
    assert npy_header("<f8", (4,)) == npy_bytes(np.zeros(4))[:-32]       # the helper writes numpy's header
    zip_of(p, {"__pycnn_tree__.npy": tree('{"dict":[["w",{"array":"w"}]]}'),
               "w.npy": npy_header("<f8", (9999999999999,)) + bytes(32)})
    tracemalloc.start()
    load_refused(p, r"declares shape \(9999999999999,\)")
    assert tracemalloc.get_traced_memory()[1] < 16 << 20
    tracemalloc.stop()
    zip_of(p, {"__pycnn_tree__.npy": tree('{"dict":[["w",{"array":"w"}]]}'),
               "w.npy": npy_header("<f8", (2,)) + bytes(24)})         # 8 bytes more than declared
    load_refused(p, r"declares shape \(2,\).*holds 24 bytes")


def crc32_combine(crc1, crc2, len2):
    """CRC-32 of A + B from crc(A), crc(B) and len(B), as zlib's crc32_combine (GF(2) matrices)."""
    def times(mat, vec):
        out, i = 0, 0
        while vec:
            if vec & 1:
                out ^= mat[i]
            vec, i = vec >> 1, i + 1
        return out

    def square(mat):
        return [times(mat, m) for m in mat]
    odd = [0xEDB88320] + [1 << n for n in range(31)]       # the operator for one zero bit
    even = square(odd)                                      # two zero bits
    odd = square(even)                                      # four zero bits
    while len2:
        even = square(odd)
        if len2 & 1:
            crc1 = times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = square(even)
        if len2 & 1:
            crc1 = times(odd, crc1)
        len2 >>= 1
    return crc1 ^ crc2


def deflated_bomb(path, gib=1):
    """A valid zip of a stored tree and a deflated member that inflates to `gib` GiB: a .npy
    header then zeros.  The deflate stream repeats one fully flushed block of 16 MiB of zeros
    (so building it is quick), and the zip is written by hand (zipfile would compress the GiB)."""
    n = (gib << 30) // 8
    header, zeros = npy_header("<f8", (n,)), bytes(1 << 24)
    c = zlib.compressobj(1, zlib.DEFLATED, -15)
    head = c.compress(header) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    tail = c.flush(zlib.Z_FINISH)
    reps = (n * 8) // len(zeros)
    crc, length = zlib.crc32(zeros), len(zeros)
    while length < len(zeros) * reps:                         # CRC of 2^k blocks of zeros by doubling
        crc, length = crc32_combine(crc, crc, length), 2 * length
    crc = crc32_combine(zlib.crc32(header), crc, length)
    t = tree('{"dict":[["w",{"array":"w"}]]}')
    members = [(b"__pycnn_tree__.npy", 0, zlib.crc32(t), [t], len(t), len(t)),
               (b"w.npy", 8, crc, [head] + [block] * reps + [tail], len(head) + len(block) * reps + len(tail),
                len(header) + len(zeros) * reps)]
    with open(path, "wb") as f:
        central = b""
        for name, method, crc, parts, csize, usize in members:
            offset = f.tell()
            f.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, csize, usize, len(name), 0)
                    + name)
            for part in parts:
                f.write(part)
            central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, csize, usize,
                                   len(name), 0, 0, 0, 0, 0, offset) + name
        start = f.tell()
        f.write(central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 2, 2, len(central), start, 0))


def test_zip_bomb_is_refused_quickly_without_reading_it(tmp_path):
    p = tmp_path / "bomb.npz"
    deflated_bomb(p)
    assert p.stat().st_size < 8 << 20
    tracemalloc.start()
    t0 = time.perf_counter()
    load_refused(p, r"member 'w.npy' is compressed \(\d+ bytes declared to expand to 1073741\d{3}\)")
    assert time.perf_counter() - t0 < 1.0
    assert tracemalloc.get_traced_memory()[1] < 16 << 20
    tracemalloc.stop()
    # stored members whose central-directory sizes claim more data than the file holds
    q = tmp_path / "liar.npz"
    zip_of(q, {"__pycnn_tree__.npy": tree('{"dict":[["w",{"array":"w"}]]}'), "w.npy": npy_bytes(np.zeros(8))})
    raw = bytearray(q.read_bytes())
    cd = raw.rindex(b"w.npy") - 46                                # the member's central-directory entry
    assert raw[cd:cd + 4] == b"PK\x01\x02"
    raw[cd + 20:cd + 28] = struct.pack("<II", 3 << 30, 3 << 30)   # compressed and uncompressed size
    q.write_bytes(bytes(raw))
    load_refused(q, "more than the file's")


# ----------------------------------------------------------------------------- save: atomic, cleanup, mode, links
KILLED_SAVE = r"""
import os, sys, time
import numpy as np
import pycnn
real_fsync = os.fsync
def stall(fd):                         # the data is written; die before the rename
    real_fsync(fd)
    print("ready", flush=True)
    time.sleep(60)
os.fsync = stall
pycnn.save({"w": np.full(1 << 18, 7.0)}, sys.argv[1])
"""


def temporaries(directory):
    return sorted(n for n in os.listdir(directory) if "pycnn-tmp" in n or n.endswith(".tmp"))


def test_a_killed_save_leaves_no_temporary_after_the_next_save(tmp_path):
    path = tmp_path / "ckpt.npz"
    pycnn.save({"w": np.ones(3)}, path)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_SAVE, str(path)], cwd=tempfile.gettempdir(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "ready", line or proc.stderr.read()   # stdout closed: the child failed
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    left = temporaries(tmp_path)                               # the killed save's 2 MiB temporary
    assert len(left) == 1 and left[0].startswith(".ckpt.npz.pycnn-tmp-")
    assert os.path.getsize(tmp_path / left[0]) > 2 << 20
    np.testing.assert_array_equal(pycnn.load(path)["w"], np.ones(3))           # the old file is intact
    pycnn.save({"w": np.zeros(2)}, path)                                        # the next save cleans up
    assert temporaries(tmp_path) == []
    np.testing.assert_array_equal(pycnn.load(path)["w"], np.zeros(2))


def test_cleanup_spares_live_writers_other_hosts_and_other_targets(tmp_path):
    path = tmp_path / "m.npz"
    host = serialization._host_tag()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    names = {
        f".m.npz.pycnn-tmp-{host}-{dead.pid}-{'a' * 16}": False,            # dead writer: removed
        f".m.npz.pycnn-tmp-{host}-{os.getpid()}-{'b' * 16}": True,          # live writer: kept
        f".m.npz.pycnn-tmp-{'0' * 8 if host != '0' * 8 else '1' * 8}-{dead.pid}-{'c' * 16}": True,  # other host
        f".other.npz.pycnn-tmp-{host}-{dead.pid}-{'d' * 16}": True,         # another target's
        ".pycnn-abcd1234.npz.tmp": False,                                   # legacy leftover, two hours old
        ".pycnn-efgh5678.npz.tmp": True,                                    # legacy, fresh: maybe in progress
        "m.npz.pycnn-tmp-notes.txt": True,                                  # not a temporary's name
    }
    for n in names:
        (tmp_path / n).write_bytes(b"x")
    old = time.time() - 7200
    os.utime(tmp_path / ".pycnn-abcd1234.npz.tmp", (old, old))
    pycnn.save({"w": np.ones(1)}, path)
    assert {n for n in os.listdir(tmp_path) if n != "m.npz"} == {n for n, keep in names.items() if keep}


def test_failed_replace_leaves_no_temporary_and_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "x.npz"
    pycnn.save({"w": np.ones(3)}, path)

    def boom(*a):
        raise OSError("disk on fire")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk on fire"):
        pycnn.save({"w": np.zeros(3)}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["x.npz"]
    np.testing.assert_array_equal(pycnn.load(path)["w"], np.ones(3))


def test_save_keeps_an_existing_files_mode(tmp_path):
    path = tmp_path / "x.npz"
    for mode in (0o640, 0o600, 0o604, 0o755):
        pycnn.save({"w": np.ones(1)}, path)
        os.chmod(path, mode)
        pycnn.save({"w": np.full(2, 3.0)}, path)
        assert stat.S_IMODE(os.stat(path).st_mode) == mode
        np.testing.assert_array_equal(pycnn.load(path)["w"], [3.0, 3.0])
    new = tmp_path / "new.npz"
    old_umask = os.umask(0o077)
    try:
        pycnn.save({"w": np.ones(1)}, new)                        # a new file gets 0o666 & ~umask
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(new).st_mode) == 0o600
    os.chmod(path, 0o444)                                        # read-only: as open(path, "wb") would
    if os.geteuid() == 0:                                        # root may write it (and the mode stays)
        os.chown(path, 4321, 4322)
        pycnn.save({"w": np.ones(1)}, path)
        st_ = os.stat(path)
        assert stat.S_IMODE(st_.st_mode) == 0o444 and (st_.st_uid, st_.st_gid) == (4321, 4322)   # owner kept
    else:
        with pytest.raises(PermissionError):
            pycnn.save({"w": np.ones(1)}, path)
        np.testing.assert_array_equal(pycnn.load(path)["w"], [3.0, 3.0])
    assert temporaries(tmp_path) == []


def test_save_writes_through_a_symlink(tmp_path):
    (tmp_path / "runs").mkdir()
    real = tmp_path / "runs" / "epoch3.npz"
    pycnn.save({"w": np.ones(2)}, real)
    os.chmod(real, 0o640)
    link = tmp_path / "latest.npz"
    link.symlink_to(os.path.join("runs", "epoch3.npz"))        # relative link
    chain = tmp_path / "chain.npz"
    chain.symlink_to(link)                                      # a link to the link
    pycnn.save({"w": np.full(2, 5.0)}, chain)
    assert link.is_symlink() and chain.is_symlink() and os.readlink(link) == os.path.join("runs", "epoch3.npz")
    np.testing.assert_array_equal(pycnn.load(real)["w"], [5.0, 5.0])
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o640
    assert temporaries(tmp_path) == [] and temporaries(tmp_path / "runs") == []
    dangling = tmp_path / "next.npz"
    dangling.symlink_to(os.path.join("runs", "epoch4.npz"))
    pycnn.save({"w": np.ones(1)}, dangling)                      # creates the link's target
    assert dangling.is_symlink() and (tmp_path / "runs" / "epoch4.npz").is_file()
    loop = tmp_path / "loop.npz"
    loop.symlink_to(loop)
    with pytest.raises(OSError):
        pycnn.save({"w": np.ones(1)}, loop)
    assert loop.is_symlink()


CONCURRENT_WRITER = r"""
import sys
import numpy as np
import pycnn
me, path = int(sys.argv[1]), sys.argv[2]
for i in range(8):
    pycnn.save({"who": me, "i": i, "w": np.full(50000 + 1000 * me, float(me))}, path)
"""


def test_concurrent_saves_to_one_target_stay_atomic(tmp_path):
    path = tmp_path / "shared.npz"
    pycnn.save({"who": -1, "i": 0, "w": np.full(10, -1.0)}, path)
    writers = [subprocess.Popen([sys.executable, "-c", CONCURRENT_WRITER, str(k), str(path)], cwd=tempfile.gettempdir())
               for k in range(2)]
    threads = [threading.Thread(target=lambda k=k: [pycnn.save({"who": 10 + k, "i": i,
                                                                "w": np.full(20000, 10.0 + k)}, path)
                                                    for i in range(8)]) for k in range(2)]
    for t in threads:
        t.start()
    seen = set()
    while any(w.poll() is None for w in writers) or any(t.is_alive() for t in threads):
        d = pycnn.load(path)                                   # every read is one whole save
        assert np.all(d["w"] == d["who"]) and d["w"].shape[0] in (10, 20000, 50000, 51000, 52000)
        seen.add(d["who"])
        time.sleep(0.002)                                      # leave the writers the CPU
    for t in threads:
        t.join()
    assert [w.wait(60) for w in writers] == [0, 0]
    assert temporaries(tmp_path) == [] and os.listdir(tmp_path) == ["shared.npz"]
    d = pycnn.load(path)
    assert d["i"] == 7 and np.all(d["w"] == d["who"])
    assert len(seen) >= 2                                      # the reader saw the writers interleave
