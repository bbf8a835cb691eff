"""PyTorch's zip checkpoint format both ways (issue 15): pycnn.save(obj, "x.pt") writes what
torch.load(weights_only=True) reads, pycnn.load reads what torch.save wrote without torch, and a
checkpoint holding anything but tensors and plain data is refused before any pickled code runs.
The torch-free tests check the written bytes structurally with pickletools and zipfile."""
import io
import os
import pickle
import pickletools
import struct
import tempfile
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import pycnn
from pycnn import nn
from helpers import assert_damage_refused, load_refused

RNG = np.random.default_rng(515)


def small_convnet():
    """conv -> batchnorm (float and int64 buffers) -> relu -> linear, with random weights."""
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 5))
    for t in net.state_dict().values():  # random running stats too, so nothing is left at its default
        if t.dtype == np.float32:
            t.numpy()[...] = RNG.standard_normal(t.shape).astype(np.float32)
    net.state_dict()["1.num_batches_tracked"].numpy()[...] = 7
    return net


def globals_in(pkl):
    """Every global a pickle refers to, as 'module name'."""
    out = set()
    for op, arg, _ in pickletools.genops(pkl):
        if op.name == "GLOBAL":
            out.add(arg)
        assert op.name not in ("STACK_GLOBAL", "INST", "OBJ", "NEWOBJ", "BUILD"), op.name
    return out


# ----------------------------------------------------------------------------- torch-free: write
def test_written_checkpoint_has_torchs_layout_and_only_weights_only_globals(tmp_path):
    sd = pycnn.models.LeNet5().state_dict()
    path = tmp_path / "lenet.pt"
    pycnn.save(sd, path)
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        assert all(n.startswith("lenet/") for n in names)
        assert {"lenet/data.pkl", "lenet/byteorder", "lenet/version", "lenet/.data/serialization_id",
                "lenet/.format_version", "lenet/.storage_alignment"} <= set(names)
        assert zf.read("lenet/byteorder") == b"little" and zf.read("lenet/version") == b"3\n"
        sid = zf.read("lenet/.data/serialization_id")
        assert len(sid) == 40 and sid.isdigit()
        assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
        raw = path.read_bytes()
        pkl = zf.read("lenet/data.pkl")
        assert globals_in(pkl) == {"collections OrderedDict", "torch._utils _rebuild_tensor_v2", "torch FloatStorage"}
        # persistent ids ('storage', FloatStorage, key, 'cpu', numel), one per tensor, in order
        pids = [arg for op, arg, _ in pickletools.genops(pkl) if op.name == "BINUNICODE" and arg.isdigit()]
        assert pids == [str(i) for i in range(len(sd))]
        for key, (name, t) in zip(pids, sd.items()):
            info = zf.getinfo(f"lenet/data/{key}")
            start = info.header_offset + 30 + len(info.filename) + struct.unpack("<H", raw[info.header_offset + 28:
                                                                                      info.header_offset + 30])[0]
            assert start % 64 == 0, name                       # storages aligned as torch writes them
            assert zf.read(info) == t.numpy().astype("<f4").tobytes(), name
    back = pycnn.load(path)
    assert type(back) is OrderedDict and list(back) == list(sd)
    for k, v in sd.items():
        assert type(back[k]) is pycnn.Tensor and back[k].dtype == v.dtype
        np.testing.assert_array_equal(back[k].numpy(), v.numpy())


def test_pt_round_trip_keeps_dtypes_parameters_and_containers(tmp_path):
    f32 = pycnn.tensor(RNG.standard_normal((2, 3)).astype(np.float32))
    obj = {
        "f32": f32, "f64": pycnn.tensor(RNG.standard_normal(4), requires_grad=True),
        "i64": pycnn.tensor(RNG.integers(-2 ** 40, 2 ** 40, (3,))), "bool": pycnn.tensor(RNG.random((2, 2)) > 0.5),
        "scalar": pycnn.tensor(2.5), "empty": pycnn.zeros(0, 4),
        "param": nn.Parameter(pycnn.tensor(RNG.standard_normal(3).astype(np.float32))),
        "frozen": nn.Parameter(pycnn.tensor(RNG.standard_normal(2)), requires_grad=False),
        "nested": OrderedDict(a=[1, (2.5, None), {"x": True}], b=()), "big": 2 ** 80, "neg": -(2 ** 33),
        "s": "héllo ✓", "bytes": bytes(range(256)), "inf": float("-inf"), 3: "int key",
        "np_array": RNG.integers(0, 9, (2, 2)).astype(np.int32), "np_scalar": np.float32(1.5),
    }
    back = pycnn.load(_save(obj, tmp_path))
    assert list(back) == list(obj)
    for k in ("f32", "f64", "i64", "bool", "scalar", "empty", "param", "frozen"):
        assert type(back[k]) is type(obj[k]), k
        assert (back[k].dtype, back[k].shape, back[k].requires_grad) == (obj[k].dtype, obj[k].shape,
                                                                         obj[k].requires_grad), k
        np.testing.assert_array_equal(back[k].detach().numpy(), obj[k].detach().numpy())
    for k in ("nested", "big", "neg", "s", "bytes", "inf", 3):
        assert back[k] == obj[k] and type(back[k]) is type(obj[k]), k
    assert type(back["nested"]) is OrderedDict and type(back["nested"]["a"][1]) is tuple
    # documented: the format has no numpy values, so arrays come back as Tensors, scalars as numbers
    assert type(back["np_array"]) is pycnn.Tensor and back["np_array"].dtype == np.int64
    np.testing.assert_array_equal(back["np_array"].numpy(), obj["np_array"])
    assert back["np_scalar"] == 1.5 and type(back["np_scalar"]) is float


def _save(obj, tmp_path, name="x.pt"):
    pycnn.save(obj, tmp_path / name)
    return tmp_path / name


def test_views_share_one_storage_when_written_and_read(tmp_path):
    base = pycnn.tensor(RNG.standard_normal((4, 5)))
    rows = pycnn.Tensor._wrap(base.numpy()[1:3])             # a contiguous view of base's memory
    path = _save({"base": base, "rows": rows, "T": base.T}, tmp_path)
    with zipfile.ZipFile(path) as zf:
        assert sorted(n for n in zf.namelist() if "/data/" in n) == ["x/data/0", "x/data/1"]  # T was copied
    back = pycnn.load(path)
    np.testing.assert_array_equal(back["rows"].numpy(), base.numpy()[1:3])
    np.testing.assert_array_equal(back["T"].numpy(), base.numpy().T)
    back["base"].numpy()[1, 0] = 99.0
    assert back["rows"].numpy()[0, 0] == 99.0                 # sharing survives, as in torch


def test_save_pt_refuses_what_torch_cannot_read_before_writing(tmp_path):
    class Custom:
        pass
    for obj, match in [({"a": Custom()}, "type Custom"), ({"a": {1j: 1}}, "dict keys"),
                       ({"a": np.array(["x"])}, "dtype <U1"), ({"a": np.ones(2, np.uint16)}, "no storage type")]:
        with pytest.raises(TypeError, match=match):
            pycnn.save(obj, tmp_path / "bad.pt")
    cyc = []
    cyc.append(cyc)
    with pytest.raises(ValueError, match="contains itself"):
        pycnn.save({"c": cyc}, tmp_path / "bad.pt")
    assert not os.listdir(tmp_path)


# ----------------------------------------------------------------------------- torch-free: refusals
def torch_zip(path, pkl, records=None, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        zf.writestr("archive/data.pkl", pkl)
        zf.writestr("archive/version", "3\n")
        for k, v in (records or {}).items():
            zf.writestr(f"archive/data/{k}", v)


class _Global:
    """Pickles as a bare GLOBAL reference to module.name (without importing it)."""

    def __init__(self, module, name):
        self.module, self.name = module, name


def handmade(obj):
    """Protocol-2 pickle of obj, where _Global and ('REDUCE', f, args) / ('PID', tuple) are spelled out."""
    out = io.BytesIO()

    def emit(o):
        if isinstance(o, _Global):
            out.write(b"c" + o.module.encode() + b"\n" + o.name.encode() + b"\n")
        elif isinstance(o, tuple) and o and o[0] == "REDUCE":
            emit(o[1])
            emit(tuple(o[2]))
            out.write(b"R")
        elif isinstance(o, tuple) and o and o[0] == "PID":
            emit(o[1])
            out.write(b"Q")
        elif isinstance(o, tuple):
            out.write(b"(")
            for x in o:
                emit(x)
            out.write(b"t")
        elif isinstance(o, dict):
            out.write(b"}(")
            for k, v in o.items():
                emit(k)
                emit(v)
            out.write(b"u")
        else:
            out.write(pickle.dumps(o, protocol=2)[2:-1])
    out.write(b"\x80\x02")
    emit(obj)
    out.write(b".")
    return out.getvalue()


def tensor_pickle(numel, offset, size, stride, kind="FloatStorage"):
    storage = ("PID", ("storage", _Global("torch", kind), "0", "cpu", numel))
    hooks = ("REDUCE", _Global("collections", "OrderedDict"), ())
    return {"w": ("REDUCE", _Global("torch._utils", "_rebuild_tensor_v2"),
                  (storage, offset, tuple(size), tuple(stride), False, hooks))}


def test_handmade_tensor_pickle_loads_so_the_refusals_below_are_meaningful(tmp_path):
    p = tmp_path / "ok.pt"
    data = RNG.standard_normal(6).astype("<f4")
    torch_zip(p, handmade(tensor_pickle(6, 1, (2, 2), (1, 2))), {"0": data.tobytes()})
    back = pycnn.load(p)
    np.testing.assert_array_equal(back["w"].numpy(), np.lib.stride_tricks.as_strided(data[1:], (2, 2), (4, 8)))


def test_malicious_pickles_are_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    p = tmp_path / "evil.pt"
    torch_zip(p, pickle.dumps({"w": Evil()}, protocol=2))
    load_refused(p, r"global (posix|os|nt)\.system, which weights_only loading does not admit")
    for obj, match in [
        ({"w": ("REDUCE", _Global("builtins", "eval"), ("1",))}, r"global builtins\.eval"),
        ({"w": ("REDUCE", _Global("torch", "load"), ("x",))}, r"global torch\.load"),
        ({"w": ("REDUCE", _Global("numpy.core.multiarray", "_reconstruct"), ())}, r"numpy\.core\.multiarray\._reconstruct"),
        ({"w": ("REDUCE", _Global("torch", "FloatStorage"), ())}, "it calls _StorageType"),
        ({"w": ("REDUCE", _Global("_codecs", "encode"), ("x", "rot13"))}, r"_codecs\.encode is admitted only"),
    ]:
        torch_zip(p, handmade(obj))
        load_refused(p, match)
    torch_zip(p, pickle.dumps({"w": Evil()}, protocol=4))     # STACK_GLOBAL goes through find_class too
    load_refused(p, r"\.system")
    # BUILD on anything but an OrderedDict (state on a list) and NEWOBJ of another class
    torch_zip(p, b"\x80\x02]}(X\x01\x00\x00\x00aK\x01ub.")
    load_refused(p, "sets the state of a list")
    torch_zip(p, b"\x80\x02ccollections\nOrderedDict\n)\x81}(X\x01\x00\x00\x00aK\x01ub.")
    assert pycnn.load(p) == OrderedDict()                    # a state_dict's _metadata: admitted
    assert not marker.exists()


def test_storages_and_layouts_that_lie_are_refused(tmp_path):
    p = tmp_path / "lie.pt"
    four = RNG.standard_normal(4).astype("<f4").tobytes()
    for pkl, records, match in [
        (tensor_pickle(4, 0, (2, 3), (3, 1)), {"0": four}, r"reaches element 5 of a storage of 4"),
        (tensor_pickle(4, 3, (2,), (1,)), {"0": four}, "reaches element"),
        (tensor_pickle(1000, 0, (2,), (1,)), {"0": four}, r"declares 1000 elements .* holds 16 bytes"),
        (tensor_pickle(4, 0, (2,), (1,)), {}, "missing storage record data/0"),
        (tensor_pickle(4, 0, (2,), (-1,)), {"0": four}, "malformed layout"),
        (tensor_pickle(2, 0, (2,), (1,), "ComplexFloatStorage"), {"0": four}, "complex dtype"),
        ({"w": ("PID", ("storage", "FloatStorage", "0", "cpu", 4))}, {"0": four}, "malformed persistent id"),
    ]:
        torch_zip(p, handmade(pkl), records)
        load_refused(p, match)
    torch_zip(p, handmade(tensor_pickle(1 << 20, 0, (2,), (1,))), {"0": bytes(4 << 20)}, zipfile.ZIP_DEFLATED)
    load_refused(p, "compressed .* torch.save writes records uncompressed")


def test_truncated_and_corrupt_pt_files_are_refused(tmp_path):
    good = _save(pycnn.models.LeNet5().state_dict(), tmp_path, "good.pt")
    p = tmp_path / "bad.pt"
    assert_damage_refused(good, p, "good/data/0", 20)
    with zipfile.ZipFile(good) as zf:
        pkl = zf.read("good/data.pkl")
        storages = {n.rsplit("/", 1)[1]: zf.read(n) for n in zf.namelist() if "/data/" in n}
    torch_zip(p, pkl[: len(pkl) - 40], storages)
    load_refused(p, "data.pkl is truncated or corrupt")


def test_load_accepts_weights_only_and_map_location(tmp_path):
    sd = small_convnet().state_dict()
    path = _save(sd, tmp_path)
    for wo in (True, False, None):        # one safe reader whatever weights_only says
        back = pycnn.load(path, weights_only=wo)
        np.testing.assert_array_equal(back["0.weight"].numpy(), sd["0.weight"].numpy())
    assert pycnn.load(path, map_location="cpu")["1.num_batches_tracked"].item() == 7
    with pytest.raises(TypeError, match="weights_only must be a bool"):
        pycnn.load(path, weights_only="yes")
    with pytest.raises(TypeError, match="map_location must be"):
        pycnn.load(path, map_location=lambda s, loc: s)
    if pycnn.cuda.is_available():
        back = pycnn.load(path, map_location="cuda")
        assert back["0.weight"].device.type == "cuda"
        np.testing.assert_array_equal(back["0.weight"].cpu().numpy(), sd["0.weight"].numpy())


def test_reading_and_writing_never_import_torch(tmp_path):
    """With torch made unimportable, a .pt round trip still works (what torch.save wrote is
    checked against torch below)."""
    import subprocess
    import sys
    code = ("import sys; sys.modules['torch'] = None\n"
            "import numpy as np, pycnn\n"
            "sd = pycnn.models.LeNet5().state_dict()\n"
            f"pycnn.save(sd, {str(tmp_path / 'n.pt')!r})\n"
            f"back = pycnn.load({str(tmp_path / 'n.pt')!r})\n"
            "assert all(np.array_equal(back[k].numpy(), v.numpy()) for k, v in sd.items())\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=tempfile.gettempdir())  # not the checkout: its pycnn/ has no _C
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


# ----------------------------------------------------------------------------- with torch
def torch_convnet(torch):
    tnn = torch.nn
    return tnn.Sequential(tnn.Conv2d(3, 4, 3), tnn.BatchNorm2d(4), tnn.ReLU(), tnn.Flatten(), tnn.Linear(64, 5))


def test_torch_save_then_pycnn_load_into_lenet5(tmp_path):
    torch = pytest.importorskip("torch")
    import torch_zoo as tz
    tm = tz.LeNet5().eval()
    torch.save(tm.state_dict(), tmp_path / "t.pt")
    sd = pycnn.load(tmp_path / "t.pt")
    assert type(sd) is OrderedDict and list(sd) == list(tm.state_dict())
    pm = pycnn.models.LeNet5()
    pm.load_state_dict(sd)
    for k, v in tm.state_dict().items():
        np.testing.assert_array_equal(pm.state_dict()[k].numpy(), v.numpy())
    x = RNG.standard_normal((2, 1, 32, 32)).astype(np.float32)
    with torch.no_grad():
        ref = tm(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(pm(pycnn.tensor(x)).detach().numpy(), ref, rtol=1e-5, atol=1e-5)


def test_pycnn_save_then_torch_load_weights_only(tmp_path):
    torch = pytest.importorskip("torch")
    net = small_convnet()
    ckpt = {"model": net.state_dict(), "epoch": 3, "acc": 0.5, "name": "run", "lrs": [0.1, 0.01],
            "lenet": pycnn.models.LeNet5().state_dict()}
    pycnn.save(ckpt, tmp_path / "c.pth")
    back = torch.load(tmp_path / "c.pth", weights_only=True)
    assert list(back) == list(ckpt) and type(back["model"]) is OrderedDict
    assert (back["epoch"], back["acc"], back["name"], back["lrs"]) == (3, 0.5, "run", [0.1, 0.01])
    for part in ("model", "lenet"):
        assert list(back[part]) == list(ckpt[part])
        for k, v in ckpt[part].items():
            assert str(back[part][k].dtype) == "torch." + v.dtype.name, k
            np.testing.assert_array_equal(back[part][k].numpy(), v.numpy())
    tm = torch_convnet(torch)
    tm.load_state_dict(back["model"])                         # strict: same keys, shapes and dtypes
    assert tm[1].num_batches_tracked.item() == 7
    mm = torch.load(tmp_path / "c.pth", weights_only=True, mmap=True)   # aligned storages map directly
    np.testing.assert_array_equal(mm["model"]["0.weight"].numpy(), ckpt["model"]["0.weight"].numpy())
    # every pycnn dtype, parameters and requires_grad
    obj = {"b": pycnn.tensor(RNG.random(5) > 0.5), "d": pycnn.tensor(RNG.standard_normal(3), requires_grad=True),
           "p": nn.Parameter(pycnn.tensor(RNG.standard_normal(2).astype(np.float32))), "e": pycnn.zeros(0, 2)}
    pycnn.save(obj, tmp_path / "d.pt")
    t = torch.load(tmp_path / "d.pt", weights_only=True)
    assert t["b"].dtype == torch.bool and t["d"].dtype == torch.float64 and t["d"].requires_grad
    assert isinstance(t["p"], torch.nn.Parameter) and t["p"].requires_grad and t["e"].shape == (0, 2)
    for k, v in obj.items():
        np.testing.assert_array_equal(t[k].detach().numpy(), v.detach().numpy())


def test_non_contiguous_and_narrow_dtype_tensors_saved_by_torch(tmp_path):
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(3)
    w = torch.randn(5, 6, dtype=torch.float64, generator=g)
    obj = {"base": w, "T": w.t(), "rows": w[1:3], "col": w[:, 2], "step": w[::2, 1::3], "exp": w[0:1].expand(4, 6),
           "perm": torch.randn(2, 3, 4, generator=g).permute(2, 0, 1), "h": torch.randn(3, generator=g).half(),
           "bf": torch.randn(3, generator=g).bfloat16(), "i8": torch.arange(-3, 3, dtype=torch.int8),
           "u8": torch.arange(250, 256, dtype=torch.uint8), "i32": torch.arange(4, dtype=torch.int32)}
    torch.save(obj, tmp_path / "v.pt")
    back = pycnn.load(tmp_path / "v.pt")
    for k, v in obj.items():
        want = v.float() if v.dtype in (torch.float16, torch.bfloat16) else v
        want = want.long() if not want.is_floating_point() else want
        assert back[k].dtype.name == str(want.dtype).replace("torch.", "").replace("long", "int64"), k
        np.testing.assert_array_equal(back[k].numpy(), want.contiguous().numpy(), err_msg=k)
        assert back[k].numpy().flags.c_contiguous, k
    back["base"].numpy()[1, 0] = 42.0                          # 'rows' is contiguous: it shares, as in torch
    assert back["rows"].numpy()[0, 0] == 42.0


def test_load_state_dict_takes_torch_tensors_directly(tmp_path):
    torch = pytest.importorskip("torch")
    tm = torch_convnet(torch)
    with torch.no_grad():
        tm[1].running_mean.normal_()
    pm = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(64, 5))
    pm.load_state_dict(tm.state_dict())
    for k, v in tm.state_dict().items():
        np.testing.assert_array_equal(pm.state_dict()[k].numpy(), v.numpy())
    params = dict(tm.named_parameters())                     # requires_grad=True: read through detach()
    pm.load_state_dict(params, strict=False)
    np.testing.assert_array_equal(pm.state_dict()["0.weight"].numpy(), params["0.weight"].detach().numpy())
    half = tm.state_dict()
    half["4.bias"] = half["4.bias"].half()                    # numpy reads float16: cast into float32
    pm.load_state_dict(half)
    np.testing.assert_array_equal(pm[4].bias.detach().numpy(), half["4.bias"].float().numpy())
    with pytest.raises(TypeError, match=r"load_state_dict: '4.bias': cannot read the Tensor through DLPack"):
        pm.load_state_dict(dict(half, **{"4.bias": half["4.bias"].bfloat16()}))


def test_legacy_torch_format_is_still_refused(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(2)}, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    load_refused(tmp_path / "old.pt", r"legacy pickle format.*torch.save it again")


# ----------------------------------------------------------------------------- .safetensors (extra)
def test_safetensors_round_trip_and_refusals(tmp_path):
    pytest.importorskip("safetensors")
    sd = small_convnet().state_dict()
    path = tmp_path / "m.safetensors"
    pycnn.save(sd, path)
    back = pycnn.load(path)
    assert sorted(back) == sorted(sd)
    for k, v in sd.items():
        assert type(back[k]) is pycnn.Tensor and back[k].dtype == v.dtype, k
        np.testing.assert_array_equal(back[k].numpy(), v.numpy())
    os.replace(path, tmp_path / "m.bin")                         # recognised by its header too
    assert sorted(pycnn.load(tmp_path / "m.bin")) == sorted(sd)
    with pytest.raises(TypeError, match="holds only tensors; the value at 'epoch'"):
        pycnn.save({"w": pycnn.ones(2), "epoch": 3}, tmp_path / "bad.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(struct.pack("<Q", 16) + b'{"a":1}')
    load_refused(tmp_path / "bad.safetensors", "not a valid .safetensors file")


def test_safetensors_written_by_torch_load(tmp_path):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    tm = torch_convnet(torch)
    st.save_file(tm.state_dict(), tmp_path / "t.safetensors")
    back = pycnn.load(tmp_path / "t.safetensors")
    pm = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(64, 5))
    pm.load_state_dict(back)
    for k, v in tm.state_dict().items():
        np.testing.assert_array_equal(pm.state_dict()[k].numpy(), v.numpy())
    pycnn.save(pm.state_dict(), tmp_path / "p.safetensors")
    t = st.load_file(tmp_path / "p.safetensors")
    tm.load_state_dict(t)
    assert t["1.num_batches_tracked"].dtype == torch.int64
