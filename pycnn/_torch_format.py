"""PyTorch's zip checkpoint format (torch.save since 1.6), read and written without importing torch.

Layout.  A zip archive whose records (all ZIP_STORED) sit under one top-level folder ``<name>/``:

    <name>/data.pkl                 the object, pickled (protocol 2); every storage is a persistent id
                                    ('storage', torch.<Kind>Storage, key, location, numel)
    <name>/.format_version  "1"     storages are keyed "0", "1", ... in the order first met
    <name>/.storage_alignment "64"  each storage's bytes start at a multiple of 64 in the file
    <name>/byteorder        "little"
    <name>/data/<key>               a storage's raw bytes (numel * itemsize)
    <name>/version          "3\\n"
    <name>/.data/serialization_id   40 decimal digits

A tensor is ``torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
OrderedDict())`` (strides and offset in elements), an nn.Parameter
``torch._utils._rebuild_parameter(tensor, requires_grad, OrderedDict())``: exactly the globals that
``torch.load(weights_only=True)`` admits, so torch reads what ``write`` produces.

Reading admits what weights_only=True admits for tensors and plain data (those two rebuild
functions, collections.OrderedDict, the torch.<Kind>Storage types by name, torch.Size, the
_codecs.encode that protocol 2 uses for bytes, and pickle's own containers and scalars).  Any
other global, an object built by a class other than OrderedDict, or state set on anything but an
OrderedDict is refused (``Refused``) before it is called: no pickled code ever runs.  What is read
is bounded by the file's size: records must be stored uncompressed, a storage record must hold
exactly the bytes its persistent id declares, and a tensor must lie inside its storage.
"""
from __future__ import annotations

import contextlib
import io
import os
import pickle
import struct
import zipfile
from collections import OrderedDict

import numpy as np

_MAX_DEPTH = 200  # containers nested deeper are refused by save (every format) and by .npz load

# torch.<Kind>Storage -> the numpy dtype of its elements (little endian as written; bfloat16 is
# read as its uint16 bit patterns and widened to float32)
_STORAGE_DTYPES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "BFloat16Storage": "<u2",
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?", "ComplexFloatStorage": "<c8", "ComplexDoubleStorage": "<c16",
}
_DTYPE_STORAGES = {np.dtype(v).newbyteorder("<").str: k for k, v in _STORAGE_DTYPES.items()
                   if k != "BFloat16Storage"}


@contextlib.contextmanager
def visiting(obj, where, depth, active):
    """Guards one container of a save's walk (both formats): a depth limit and no reference cycles."""
    if depth >= _MAX_DEPTH:
        raise ValueError(f"save: the value at {where!r} is nested more than {_MAX_DEPTH} containers deep")
    if id(obj) in active:
        raise ValueError(f"save: the value at {where!r} contains itself (a reference cycle)")
    active.add(id(obj))
    try:
        yield
    finally:
        active.discard(id(obj))


def check_tensor_type(obj, where):
    """Only Tensor and nn.Parameter are saved (a subclass would load back as its base)."""
    from .nn.module import Parameter
    from .tensor import Tensor
    if type(obj) not in (Tensor, Parameter):
        raise TypeError(f"save: cannot save the value at {where!r} of type {type(obj).__name__} "
                        "(a Tensor subclass); only Tensor and nn.Parameter load back as what they were")


class Refused(Exception):
    """Why an archive cannot be read (pycnn.load turns it into ValueError naming the file)."""


def check_stored(info, noun, writer, refused=Refused):
    """Refuses (raising `refused`) an encrypted or compressed zip member.  `writer` stores every
    `noun` uncompressed, so each one's data fits in its share of the file: what is read is
    bounded by the file's size (no zip bombs)."""
    if info.flag_bits & 0x1:
        raise refused(f"{noun} {info.filename!r} is encrypted")
    if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
        raise refused(f"{noun} {info.filename!r} is compressed ({info.compress_size} bytes declared to expand to "
                      f"{info.file_size}); {writer} writes {noun}s uncompressed")


# ----------------------------------------------------------------------------- write
class _Pickle:
    """Emits protocol-2 pickle opcodes for the objects torch's weights_only loader admits."""

    def __init__(self):
        self.out = io.BytesIO()
        self.out.write(b"\x80\x02")  # PROTO 2
        self.storages = []           # (key, numpy array of the storage, in element order)
        self._keys = {}              # id(root array) -> (key, root): views share one storage

    def op(self, b):
        self.out.write(b)

    def glob(self, module, name):
        self.op(b"c" + module.encode() + b"\n" + name.encode() + b"\n")  # GLOBAL

    def string(self, s):
        b = s.encode("utf-8", "surrogatepass")
        self.op(b"X" + struct.pack("<I", len(b)) + b)  # BINUNICODE

    def integer(self, n):
        if 0 <= n < 256:
            self.op(b"K" + bytes([n]))                        # BININT1
        elif 0 <= n < 65536:
            self.op(b"M" + struct.pack("<H", n))              # BININT2
        elif -2 ** 31 <= n < 2 ** 31:
            self.op(b"J" + struct.pack("<i", n))              # BININT
        else:
            b = pickle.encode_long(n)
            if len(b) < 256:
                self.op(b"\x8a" + bytes([len(b)]) + b)        # LONG1
            else:
                self.op(b"\x8b" + struct.pack("<I", len(b)) + b)  # LONG4

    def scalar(self, v):
        if v is None:
            self.op(b"N")
        elif v is True:
            self.op(b"\x88")
        elif v is False:
            self.op(b"\x89")
        elif type(v) is int:
            self.integer(v)
        elif type(v) is float:
            self.op(b"G" + struct.pack(">d", v))              # BINFLOAT
        elif type(v) is str:
            self.string(v)
        elif type(v) is bytes:
            # protocol 2 has no bytes opcode: _codecs.encode(latin-1 text, 'latin1'), as pickle does
            self.glob("_codecs", "encode")
            self.string(v.decode("latin1"))
            self.string("latin1")
            self.op(b"\x86R")                                 # TUPLE2 REDUCE
        else:
            raise AssertionError(type(v))

    def empty_ordered_dict(self):
        self.glob("collections", "OrderedDict")
        self.op(b")R")                                        # EMPTY_TUPLE REDUCE

    def storage_of(self, arr):
        """(key, storage numel, element offset, strides in elements) for a host array; a C-contiguous
        array that views a larger C-contiguous root (a slice of a saved tensor) shares its root's
        storage, as torch saves a view and its base once."""
        root = arr
        while isinstance(root.base, np.ndarray):
            root = root.base
        item = arr.dtype.itemsize
        if (root.dtype == arr.dtype and root.flags.c_contiguous and arr.size
                and all(s >= 0 and s % item == 0 for s in arr.strides)):
            start = arr.__array_interface__["data"][0] - root.__array_interface__["data"][0]
            if start % item == 0 and 0 <= start and start // item + sum(
                    (n - 1) * s // item for n, s in zip(arr.shape, arr.strides)) < root.size:
                key = self._keys.get(id(root))
                if key is None or key[1] is not root:
                    key = (str(len(self.storages)), root)
                    self._keys[id(root)] = key
                    self.storages.append((key[0], root.reshape(-1)))
                return key[0], root.size, start // item, tuple(s // item for s in arr.strides)
        flat = np.ascontiguousarray(arr).reshape(-1)
        key = str(len(self.storages))
        self.storages.append((key, flat))
        strides, acc = [], 1
        for n in reversed(arr.shape):
            strides.append(acc)
            acc *= max(n, 1)
        return key, flat.size, 0, tuple(reversed(strides))

    def tensor(self, arr, requires_grad, where):
        dt = arr.dtype.newbyteorder("<").str if arr.dtype.byteorder not in ("|",) else arr.dtype.str
        kind = _DTYPE_STORAGES.get(dt)
        if kind is None:
            raise TypeError(f"save: the value at {where!r} has dtype {arr.dtype}, which PyTorch's checkpoint "
                            "format has no storage type for")
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        key, numel, offset, stride = self.storage_of(arr)
        self.glob("torch._utils", "_rebuild_tensor_v2")
        self.op(b"(")                                          # MARK
        self.op(b"(")
        self.string("storage")
        self.glob("torch", kind)
        self.string(key)
        self.string("cpu")
        self.integer(numel)
        self.op(b"tQ")                                         # TUPLE BINPERSID
        self.integer(offset)
        self.ints(arr.shape)
        self.ints(stride)
        self.op(b"\x88" if requires_grad else b"\x89")
        self.empty_ordered_dict()                              # backward hooks
        self.op(b"tR")                                         # TUPLE REDUCE

    def ints(self, xs):
        self.op(b"(")
        for x in xs:
            self.integer(int(x))
        self.op(b"t")


def _encode(p, obj, path, depth, active):
    from .tensor import Tensor
    from .nn.module import Parameter

    where = path or "<root>"
    if isinstance(obj, Tensor):
        check_tensor_type(obj, where)
        arr = np.asarray(obj.detach()._host())  # a CUDA tensor is saved from a host copy, as at 'cpu'
        if type(obj) is Parameter:
            p.glob("torch._utils", "_rebuild_parameter")
            p.op(b"(")
            p.tensor(arr, False, where)
            p.op(b"\x88" if obj.requires_grad else b"\x89")
            p.empty_ordered_dict()
            p.op(b"tR")
        else:
            p.tensor(arr, bool(obj.requires_grad), where)
        return
    if type(obj) is np.ndarray:
        if obj.dtype.kind not in "biuf" or obj.dtype.fields is not None:
            raise TypeError(f"save: the value at {where!r} is an array of dtype {obj.dtype}; only "
                            "bool/int/float arrays can be saved in PyTorch's format by pycnn (it reads "
                            "no complex tensors back)")
        p.tensor(obj, False, where)  # torch's weights_only loader has no numpy arrays: a tensor
        return
    if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
        p.scalar(obj.item())         # ... nor numpy scalars: the Python number
        return
    if type(obj) in (bool, int, float, str, bytes, type(None)):
        p.scalar(obj)
        return
    if type(obj) in (dict, OrderedDict, list, tuple):
        with visiting(obj, where, depth, active):
            if isinstance(obj, dict):
                if type(obj) is OrderedDict:
                    p.empty_ordered_dict()
                else:
                    p.op(b"}")                                 # EMPTY_DICT
                items = list(obj.items())
                for i in range(0, len(items), 1000):            # batches, as pickle writes them
                    p.op(b"(")
                    for k, v in items[i:i + 1000]:
                        if type(k) not in (str, int, float, bool, type(None)):
                            raise TypeError(f"save: dict keys must be str, int, float, bool or None, got "
                                            f"{k!r} at {where!r}")
                        p.scalar(k)
                        _encode(p, v, f"{path}.{k}" if path else str(k), depth + 1, active)
                    p.op(b"u")                                 # SETITEMS
            elif type(obj) is list:
                p.op(b"]")                                     # EMPTY_LIST
                for i in range(0, len(obj), 1000):
                    p.op(b"(")
                    for j, v in enumerate(obj[i:i + 1000], i):
                        _encode(p, v, f"{path}.{j}" if path else str(j), depth + 1, active)
                    p.op(b"e")                                 # APPENDS
            else:
                p.op(b"(")
                for j, v in enumerate(obj):
                    _encode(p, v, f"{path}.{j}" if path else str(j), depth + 1, active)
                p.op(b"t")                                     # TUPLE
        return
    if isinstance(obj, (dict, list, tuple, bool, int, float, str, bytes)):
        raise TypeError(f"save: cannot save the value at {where!r} of type {type(obj).__name__} (a subclass "
                        "would not load back as itself); convert it to the plain type")
    raise TypeError(f"save: cannot save the value at {where!r} of type {type(obj).__name__} in PyTorch's "
                    "format: expected Tensors, numpy arrays, dicts, lists, tuples or Python scalars")


def encode(obj):
    """(data.pkl bytes, [(key, flat storage array)]) for obj; raises TypeError/ValueError on what
    torch.load(weights_only=True) could not read, before anything is written."""
    p = _Pickle()
    _encode(p, obj, "", 0, set())
    p.op(b".")                                                  # STOP
    return p.out.getvalue(), p.storages


def _record(zf, name, data, align=64):
    """Writes one ZIP_STORED record whose data starts at a multiple of `align` in the file (the
    local header's extra field pads, as torch's writer does, so torch.load(mmap=True) works)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o600 << 16
    size = len(data) if isinstance(data, (bytes, bytearray)) else data.nbytes
    big = size >= zipfile.ZIP64_LIMIT
    offset = zf.fp.tell()
    header = 30 + len(name.encode()) + (20 if big else 0)
    pad = -(offset + header + 4) % align
    info.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # "FB" padding field, as torch writes
    with zf.open(info, "w", force_zip64=big) as out:
        if isinstance(data, (bytes, bytearray)):
            out.write(data)
        else:
            flat = data.reshape(-1).view(np.uint8)
            for i in range(0, flat.size, 1 << 24):
                out.write(flat[i:i + (1 << 24)].tobytes())


def write(f, obj, archive="archive"):
    """Writes obj as torch.save's zip format to the binary file f."""
    write_encoded(f, *encode(obj), archive)


def write_encoded(f, pkl, storages, archive="archive"):
    """Writes what encode() returned as torch.save's zip format to the binary file f."""
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        _record(zf, f"{archive}/data.pkl", pkl)
        _record(zf, f"{archive}/.format_version", b"1")
        _record(zf, f"{archive}/.storage_alignment", b"64")
        _record(zf, f"{archive}/byteorder", b"little")
        for key, arr in storages:
            if arr.dtype.byteorder == ">":
                arr = arr.astype(arr.dtype.newbyteorder("<"))
            _record(zf, f"{archive}/data/{key}", np.ascontiguousarray(arr))
        _record(zf, f"{archive}/version", b"3\n")
        _record(zf, f"{archive}/.data/serialization_id",
                str(int.from_bytes(os.urandom(16), "little")).zfill(40)[:40].encode())


# ----------------------------------------------------------------------------- read
class _StorageType:
    """Stands for torch.<name> in a persistent id; never called."""

    def __init__(self, name):
        self.name = name


class _Storage:
    def __init__(self, array, kind):
        self.array = array  # 1-d, native byte order
        self.kind = kind


def _widen(arr, kind):
    """A storage's elements in a dtype pycnn tensors have (float32/float64/int64/bool): half and
    bfloat16 widen to float32, smaller ints to int64 (these are copies)."""
    if kind == "BFloat16Storage":
        return (arr.astype(np.uint32) << 16).view(np.float32)
    if kind == "HalfStorage":
        return arr.astype(np.float32)
    if arr.dtype.kind in "iu" and arr.dtype != np.int64:
        return arr.astype(np.int64)
    return arr


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                    metadata=None):
    from .tensor import Tensor

    if type(storage) is not _Storage:
        raise Refused(f"_rebuild_tensor_v2 got {type(storage).__name__} for its storage")
    if storage.kind.startswith("Complex"):
        raise Refused(f"a tensor has complex dtype ({storage.kind}); pycnn tensors are float32, float64, "
                      "int64 or bool")
    size, stride = tuple(size), tuple(stride)
    if not (type(storage_offset) is int and len(size) == len(stride)
            and all(type(x) is int and x >= 0 for x in size + stride + (storage_offset,))):
        raise Refused(f"a tensor has a malformed layout (offset {storage_offset!r}, size {size!r}, "
                      f"stride {stride!r})")
    if type(requires_grad) is not bool or backward_hooks not in (None, {}) or \
            not (metadata is None or type(metadata) in (dict, OrderedDict)):
        raise Refused("a tensor has backward hooks or malformed flags")
    base = storage.array
    numel = 1
    for n in size:
        numel *= n
    if numel == 0:
        arr = np.empty(size, dtype=base.dtype)
    else:
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= base.size:
            raise Refused(f"a tensor of size {size} and stride {stride} at offset {storage_offset} reaches element "
                          f"{last} of a storage of {base.size}")
        arr = np.lib.stride_tricks.as_strided(base[storage_offset:], size,
                                              tuple(s * base.itemsize for s in stride))
        # pycnn tensors are C-contiguous: a contiguous view (a slice of another saved tensor) keeps
        # sharing the storage, as in torch; a transposed / strided / expanded one is copied
        if not arr.flags.c_contiguous or any(s == 0 for n, s in zip(size, stride) if n > 1):
            arr = np.ascontiguousarray(arr)
    arr = _widen(arr, storage.kind)
    t = Tensor._wrap(arr)
    if requires_grad:
        if arr.dtype.kind != "f":
            raise Refused("an integer or bool tensor is marked as requiring gradients")
        t.requires_grad_(True)
    return t


def _rebuild_parameter(data, requires_grad, backward_hooks=None, state=None):
    from .tensor import Tensor
    from .nn.module import Parameter

    if type(data) is not Tensor or type(requires_grad) is not bool or backward_hooks not in (None, {}) \
            or state not in (None, {}):
        raise Refused("_rebuild_parameter got malformed arguments")
    if requires_grad and data.dtype.kind != "f":
        raise Refused("an integer or bool parameter is marked as requiring gradients")
    return Parameter(data.detach(), requires_grad=requires_grad)


def _codecs_encode(text, encoding="utf-8"):
    if type(text) is not str or encoding not in ("latin1", "latin-1"):
        raise Refused("_codecs.encode is admitted only as pickle uses it for bytes (text, 'latin1')")
    return text.encode("latin1")


def _torch_size(dims=()):
    dims = tuple(dims)
    if not all(type(d) is int for d in dims):
        raise Refused("torch.Size of non-integers")
    return dims


_GLOBALS = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("collections", "OrderedDict"): OrderedDict,
    ("torch", "Size"): _torch_size,
    ("_codecs", "encode"): _codecs_encode,
}
_CALLABLE = {id(v) for v in _GLOBALS.values()}


class _Unpickler(pickle._Unpickler):
    """pickle's pure-Python unpickler, with find_class, REDUCE, the object-building opcodes and
    BUILD restricted to what weights_only=True admits for tensors and plain data."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, data, read_storage):
        super().__init__(io.BytesIO(data))
        self._read_storage = read_storage

    def find_class(self, module, name):
        if (module, name) in _GLOBALS:
            return _GLOBALS[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise Refused(f"it refers to the global {module}.{name}, which weights_only loading does not admit "
                      "(only tensors, nn.Parameters, OrderedDicts and plain Python data are read)")

    def persistent_load(self, pid):
        if not (type(pid) is tuple and len(pid) == 5 and pid[0] == "storage" and type(pid[1]) is _StorageType
                and type(pid[2]) is str and type(pid[3]) is str and type(pid[4]) is int and pid[4] >= 0):
            raise Refused(f"malformed persistent id {str(pid)[:100]}")
        return self._read_storage(pid[1].name, pid[2], pid[4])

    def load_reduce(self):
        args = self.stack.pop()
        func = self.stack[-1]
        if id(func) not in _CALLABLE or type(args) is not tuple:
            raise Refused(f"it calls {type(func).__name__} {str(func)[:60]}, which weights_only loading does not admit")
        self.stack[-1] = func(*args)
    dispatch[pickle.REDUCE[0]] = load_reduce

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if type(inst) is not OrderedDict or type(state) is not dict or not all(type(k) is str for k in state):
            raise Refused(f"it sets the state of a {type(inst).__name__}, which weights_only loading does not admit")
        inst.__dict__.update(state)  # a torch state_dict's _metadata
    dispatch[pickle.BUILD[0]] = load_build

    def _refuse(self):
        raise Refused("it builds objects with pickle's INST/OBJ/NEWOBJ/EXT opcodes, which weights_only "
                      "loading does not admit here")

    def load_newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        if cls is not OrderedDict or args != ():
            self._refuse()
        self.append(OrderedDict())
    dispatch[pickle.NEWOBJ[0]] = load_newobj

    for _op in (pickle.INST, pickle.OBJ, pickle.NEWOBJ_EX, pickle.EXT1, pickle.EXT2, pickle.EXT4):
        dispatch[_op[0]] = _refuse
    del _op


def read(zf, file_size):
    """The object stored in torch.save's zip format (zf an open zipfile.ZipFile)."""
    infos = zf.infolist()
    pkls = [i for i in infos if i.filename.endswith("/data.pkl") and i.filename.count("/") == 1]
    if len(pkls) != 1:
        raise Refused("it looks like a PyTorch checkpoint but has no single <archive>/data.pkl record")
    prefix = pkls[0].filename[:-len("data.pkl")]
    records, total = {}, 0
    for i in infos:
        if not i.filename.startswith(prefix):
            raise Refused(f"record {i.filename!r} is outside the archive folder {prefix!r}")
        if i.filename in records:
            raise Refused(f"record {i.filename!r} is listed twice")
        check_stored(i, "record", "torch.save")
        records[i.filename] = i
        total += i.compress_size
    if total > file_size:
        raise Refused(f"its records declare {total} bytes, more than the file's {file_size} bytes "
                      "(truncated or corrupt)")
    order = "<"
    if prefix + "byteorder" in records:
        bo = zf.read(records[prefix + "byteorder"])
        if bo not in (b"little", b"big"):
            raise Refused(f"its byteorder record says {bo[:20]!r}")
        order = "<" if bo == b"little" else ">"
    storages = {}

    def read_storage(kind, key, numel):
        if key in storages:
            s = storages[key]
            if s.kind != kind or s.array.size != numel:
                raise Refused(f"storage {key!r} is referred to as two different storages")
            return s
        info = records.get(f"{prefix}data/{key}")
        if info is None:
            raise Refused(f"the pickle refers to a missing storage record data/{key}")
        dtype = np.dtype(_STORAGE_DTYPES[kind])
        if dtype.itemsize > 1:
            dtype = dtype.newbyteorder(order)
        if numel * dtype.itemsize != info.file_size:  # bounds the allocation by the file's size
            raise Refused(f"storage {key!r} declares {numel} elements of {kind} ({numel * dtype.itemsize} bytes) "
                          f"but its record holds {info.file_size} bytes")
        arr = np.empty(numel, dtype=dtype)
        buf = memoryview(arr.view(np.uint8))
        with zf.open(info) as f:  # reads stop at file_size; the CRC is checked at its end
            pos = 0
            while pos < info.file_size:
                n = f.readinto(buf[pos:pos + (1 << 24)])
                if not n:
                    raise Refused(f"storage record data/{key} is truncated")
                pos += n
            if f.read(1):
                raise Refused(f"storage record data/{key} is longer than declared")
        s = storages[key] = _Storage(arr.astype(dtype.newbyteorder("="), copy=False), kind)
        return s

    data = zf.read(pkls[0])
    try:
        return _Unpickler(data, read_storage).load()
    except RecursionError:
        raise Refused("its pickle is nested too deeply") from None
    except (pickle.UnpicklingError, EOFError, IndexError, AttributeError, TypeError, KeyError,
            UnicodeDecodeError, struct.error, MemoryError) as e:
        raise Refused(f"its data.pkl is truncated or corrupt ({type(e).__name__}: {e})") from None
