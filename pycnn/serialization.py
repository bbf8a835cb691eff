"""pycnn.save / pycnn.load: .npz files (PyTorch's own checkpoint format for paths ending in
.pt / .pth, .safetensors for *.safetensors), written atomically (temp file + fsync + rename).

PyTorch's format (pycnn._torch_format) is written for ``*.pt`` / ``*.pth`` so that
``torch.load(path, weights_only=True)`` reads it, and read from any file that torch.save wrote
(its zip format), admitting only what weights_only=True admits for tensors and plain data.
.safetensors goes through the optional ``safetensors`` package (a flat dict of tensors).

The .npz format.  A zip archive of uncompressed (ZIP_STORED) ``.npy`` members.  Each array (or Tensor)
is one member, named by its path in the saved object (``{"model": sd}`` -> ``model::conv1.weight``),
so a state_dict saved alone reads back with plain ``numpy.load`` under exactly its keys.  The
structure around the arrays is kept as JSON in the member ``__pycnn_tree__``: one single-key
node per value,

    {"dict": [[key, node], ...]}  {"odict": [[key, node], ...]}  (keys: str or int, in order)
    {"list": [node, ...]}  {"tuple": [node, ...]}
    {"value": bool | int | float | str | null}  {"float": "nan" | "inf" | "-inf"}
    {"array": member}  {"numpy_scalar": member}            numpy arrays / numpy scalars
    {"tensor": [member, requires_grad]}  {"parameter": [member, requires_grad]}

Nothing is pickled and nothing is ever unpickled.  Files written before "odict", "tensor",
"parameter" and "numpy_scalar" existed use only the other kinds and still load.

Loading refuses everything pycnn.save did not write (text files, a lone .npy, other zips, plain
numpy .npz archives, torch's legacy pre-1.6 pickle format, truncated or corrupt files), and in a
PyTorch checkpoint any global but those weights_only admits, with one error type,
ValueError, naming the file.  The bytes it will read are bounded by the file's size before any
are read: members must be stored uncompressed (so a member's data is no larger than its share of
the file; a small zip cannot expand to gigabytes), each member's .npy header must account for
exactly its declared size, and the zip reader stops at that size and checks the CRC.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import socket
import stat
import struct
import time
import zipfile
from collections import OrderedDict

import numpy as np

from . import _torch_format
from .tensor import Tensor

_NESTED = "::"  # separator of nested keys in member names, e.g. "model::conv1.weight"
_TREE = "__pycnn_tree__"
_SCALARS = (bool, int, float, str, type(None))
_MAX_DEPTH = _torch_format._MAX_DEPTH  # containers nested deeper are refused by save (and by load)
_TENSOR_DTYPES = ("float32", "float64", "int64", "bool")

# Temporaries are ".<target name>.pycnn-tmp-<host>-<pid>-<random>" next to the target, so the
# next save of that target can tell a crashed writer's leftover (its pid is dead on this host)
# from a concurrent writer's file in progress.  <host> is a hash: the directory may be shared
# by several machines (NFS), whose pids mean nothing here.
_TMP_MARK = ".pycnn-tmp-"
_TMP_TAIL = re.compile(r"([0-9a-f]{8})-([0-9]+)-[0-9a-f]{16}\Z")
# pycnn before these names used tempfile.mkstemp(prefix=".pycnn-", suffix=".npz.tmp") with no
# pid in the name; such leftovers are removed once they are an hour old (a live writer keeps
# its file's mtime fresh).
_LEGACY_TMP = re.compile(r"\.pycnn-[A-Za-z0-9_]{8}\.npz\.tmp\Z")
_LEGACY_TMP_AGE_S = 3600.0

_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"  # pickled 0x1950a86a20f9469cfc6c


# ----------------------------------------------------------------------------- save
def _member_name(path, arrays):
    # zipfile cuts names at a NUL and turns os.sep into "/"; zip names are UTF-8 (no lone surrogates)
    base = (path or "value").replace("\x00", "?")
    if os.sep != "/":
        base = base.replace(os.sep, "?")
    try:
        base.encode("utf-8")
    except UnicodeEncodeError:
        base = "value"
    name, n = base, 1
    while name in arrays or name == _TREE:
        name, n = f"{base}#{n}", n + 1
    return name


def _check_array(arr, path, what="an array"):
    if arr.dtype.kind not in "biufc" or arr.dtype.fields is not None or arr.dtype.subdtype is not None:
        raise TypeError(f"save: the value at {path or '<root>'!r} is {what} of dtype {arr.dtype}; "
                        "only bool/int/float/complex arrays can be saved (nothing is pickled)")


def _encode(obj, path, arrays, depth, active):
    """A JSON-able description of obj; arrays are stored in `arrays` and referenced by name."""
    where = path or "<root>"
    if len(where) > 120:
        where = where[:50] + " ... " + where[-50:]
    if isinstance(obj, Tensor):
        from .nn.module import Parameter
        _torch_format.check_tensor_type(obj, where)
        arr = np.asarray(obj.detach()._host())  # a CUDA tensor is saved from a host copy
        _check_array(arr, path, "a Tensor")
        name = _member_name(path, arrays)
        arrays[name] = arr
        return {"parameter" if type(obj) is Parameter else "tensor": [name, bool(obj.requires_grad)]}
    if isinstance(obj, (np.ndarray, np.generic)):
        if type(obj) is not np.ndarray and not isinstance(obj, np.generic):
            raise TypeError(f"save: cannot save the value at {where!r} of type {type(obj).__name__} "
                            "(an ndarray subclass would load back as a plain ndarray); pass np.asarray(x)")
        arr = np.asarray(obj)
        _check_array(arr, path)
        name = _member_name(path, arrays)
        arrays[name] = arr
        return {"numpy_scalar" if isinstance(obj, np.generic) else "array": name}
    if isinstance(obj, _SCALARS):
        if type(obj) not in _SCALARS:
            raise TypeError(f"save: cannot save the value at {where!r} of type {type(obj).__name__} "
                            f"(a subclass of {next(t for t in _SCALARS if isinstance(obj, t)).__name__} would not load "
                            "back as itself)")
        if isinstance(obj, float) and not np.isfinite(obj):
            return {"float": repr(obj)}
        return {"value": obj}
    if type(obj) in (dict, OrderedDict, list, tuple):
        with _torch_format.visiting(obj, where, depth, active):
            if isinstance(obj, dict):
                items = []
                for k, v in obj.items():
                    if type(k) not in (str, int):
                        raise TypeError(f"save: dict keys must be str or int, got {k!r} at {where!r}")
                    items.append([k, _encode(v, f"{path}{_NESTED}{k}" if path else str(k), arrays,
                                             depth + 1, active)])
                return {"odict" if type(obj) is OrderedDict else "dict": items}
            kind = "list" if type(obj) is list else "tuple"
            return {kind: [_encode(v, f"{path}{_NESTED}{i}" if path else str(i), arrays, depth + 1, active)
                           for i, v in enumerate(obj)]}
    if isinstance(obj, (dict, list, tuple)):
        raise TypeError(f"save: cannot save the value at {where!r} of type {type(obj).__name__} (a subclass "
                        "of dict/list/tuple would not load back as itself); convert it to a dict, list or tuple")
    raise TypeError(f"save: cannot save the value at {where!r} of type {type(obj).__name__}: "
                    "expected Tensors, numpy arrays, dicts, lists, tuples or Python scalars")


def _host_tag():
    return hashlib.sha1(socket.gethostname().encode("utf-8", "surrogateescape")).hexdigest()[:8]


def _tmp_prefix(name):
    # keep the temporary's name under NAME_MAX (255 bytes) for long target names
    if len(os.fsencode(name)) > 150:
        name = hashlib.sha1(os.fsencode(name)).hexdigest()[:16]
    return f".{name}{_TMP_MARK}"


def _pid_alive(pid):
    if pid <= 0:
        return True  # not a pid we wrote: leave the file alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, another user's
        return True
    return True


def _remove_stale_temporaries(directory, prefix):
    """Deletes what killed saves of this target left behind: our-host temporaries whose pid is
    dead (and legacy-named temporaries over an hour old).  Concurrent writers' files stay."""
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process there
        return
    host = _host_tag()
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return  # e.g. no such directory: creating the temporary reports it
    for e in entries:
        stale = False
        if e.name.startswith(prefix):
            m = _TMP_TAIL.match(e.name, len(prefix))
            stale = m is not None and m.group(1) == host and not _pid_alive(int(m.group(2)))
        elif _LEGACY_TMP.match(e.name):
            try:
                stale = now - e.stat(follow_symlinks=False).st_mtime > _LEGACY_TMP_AGE_S
            except OSError:
                stale = False
        if stale:
            try:
                if e.is_file(follow_symlinks=False):
                    os.unlink(e.path)
            except OSError:
                pass  # already gone (another saver cleaned it) or not ours to remove


def _resolve_target(path):
    """The file to replace: a symlink is followed to the file it names (written through, the
    link itself stays); a dangling link's target is created, as open(path, 'wb') would."""
    real = os.path.realpath(path)
    if os.path.islink(real):  # realpath stops inside a symlink loop
        raise OSError(errno.ELOOP, "save: too many levels of symbolic links", path)
    return real


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory
    finally:
        os.close(fd)


def _copy_owner_and_mode(fd, tmp, st):
    """The replacement gets the replaced file's mode, and its owner and group where we may set
    them (root may; others only a group they belong to; otherwise the new file stays ours)."""
    if hasattr(os, "chown") and (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
        where = fd if os.chown in os.supports_fd else tmp
        try:
            os.chown(where, st.st_uid, st.st_gid)
        except OSError:
            try:
                os.chown(where, -1, st.st_gid)
            except OSError:
                pass
    # after chown, which may clear set-id bits
    os.chmod(fd if os.chmod in os.supports_fd else tmp, stat.S_IMODE(st.st_mode))


def _safetensors_module(op):
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError(f"{op}: .safetensors files need the safetensors package "
                          "(pip install 'pycnn[safetensors]')") from None
    return safetensors.numpy


def _safetensors_encode(obj):
    """The bytes of a .safetensors file: a flat dict of str -> Tensor / numpy array only."""
    if type(obj) not in (dict, OrderedDict):
        raise TypeError(f"save: a .safetensors file holds a flat dict of tensors, got {type(obj).__name__}")
    arrays = {}
    for k, v in obj.items():
        if type(k) is not str:
            raise TypeError(f"save: .safetensors keys must be str, got {k!r}")
        if isinstance(v, Tensor):
            arr = np.asarray(v.detach()._host())
        elif type(v) is np.ndarray:
            arr = v
        else:
            raise TypeError(f"save: a .safetensors file holds only tensors; the value at {k!r} is a "
                            f"{type(v).__name__} (use .pt or .npz for other values)")
        if arr.dtype.kind not in "biuf" or arr.dtype.fields is not None:
            raise TypeError(f"save: the value at {k!r} has dtype {arr.dtype}, which .safetensors cannot hold")
        arrays[k] = np.ascontiguousarray(arr.astype(arr.dtype.newbyteorder("<"), copy=False))
    return _safetensors_module("save").save(arrays)


def _looks_like_safetensors(head, file_size):
    # an 8-byte little-endian header length, then the JSON header
    return len(head) > 9 and head[8:9] == b"{" and 8 + struct.unpack("<Q", head[:8])[0] <= file_size


def _safetensors_decode(data):
    try:
        arrays = _safetensors_module("load").load(data)
    except ImportError:
        raise
    except Exception as e:  # safetensors' SafetensorError and its header parse errors
        if "BF16" in str(e):
            raise _Refused("it holds bfloat16 tensors, which safetensors.numpy cannot read (numpy has no "
                           "bfloat16); save them as float32, or as a .pt file, which pycnn widens") from None
        raise _Refused(f"it is not a valid .safetensors file ({type(e).__name__}: {e})") from None
    out = {}
    for k, arr in arrays.items():
        if arr.dtype.kind == "c":
            raise _Refused(f"tensor {k!r} is complex; pycnn tensors are {', '.join(_TENSOR_DTYPES)}")
        if arr.dtype == np.float16:
            arr = arr.astype(np.float32)
        elif arr.dtype.kind in "iu" and arr.dtype != np.int64:
            arr = arr.astype(np.int64)
        out[k] = Tensor._wrap(np.array(arr, order="C", copy=not arr.flags.writeable or None))
    return out


def _is_torch_path(path):
    return os.fspath(path).lower().endswith((".pt", ".pth"))


def save(obj, path):
    """Saves a dict of Tensors / numpy arrays / Python scalars and dicts, lists and tuples of
    them (e.g. a state_dict or a checkpoint) to `path` (str or PathLike); load() returns the
    same structure.

    A path ending in .pt or .pth gets PyTorch's own zip checkpoint format, which
    ``torch.load(path, weights_only=True)`` reads (Tensors become torch tensors with their dtype,
    shape and requires_grad, nn.Parameters Parameters; a slice of another saved tensor shares its
    storage, and a view saves its whole base storage, as torch.save does).  That format has no
    numpy values under weights_only: numpy arrays are saved as tensors and numpy scalars as
    Python numbers, so they load back as such; bytes and any root value (not only a dict) are
    accepted there, as torch.save accepts them.  Any other path gets
    the .npz format below, which keeps every value's type.  A path ending in .safetensors
    gets that format (a flat dict of str -> Tensor or numpy array only; needs the safetensors
    package: pip install 'pycnn[safetensors]').

  Atomic: the data is written to a temporary file in the target's directory,
    fsynced and renamed into place, so readers see the old file or the new one, never a part,
    and a failure leaves the old file as it was.  Temporaries of this target left by killed
    saves are removed.  An existing file keeps its permissions (and its owner where allowed);
    a symlink is written through (its target is replaced, the link stays).  Saving over a file
    you may not write raises PermissionError, as open(path, 'wb') would."""
    path = os.fspath(path)
    torch_format = _is_torch_path(path)
    safetensors_bytes = None
    if torch_format:
        pkl, storages = _torch_format.encode(obj)  # raises before any file is created
    elif path.lower().endswith(".safetensors"):
        safetensors_bytes = _safetensors_encode(obj)
    else:
        if type(obj) not in (dict, OrderedDict):
            raise TypeError(f"save: expected a dict (e.g. a state_dict), got {type(obj).__name__}")
        arrays: dict = {}
        tree = json.dumps(_encode(obj, "", arrays, 0, set()))  # raises before any file is created
    target = _resolve_target(path)
    directory, name = os.path.split(target)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISREG(st.st_mode) and not os.access(target, os.W_OK):
        raise PermissionError(errno.EACCES, "save: permission denied (the existing file is not writable)", path)
    prefix = _tmp_prefix(name)
    _remove_stale_temporaries(directory, prefix)
    tmp = os.path.join(directory, f"{prefix}{_host_tag()}-{os.getpid()}-{os.urandom(8).hex()}")
    # 0o666 here lets the kernel apply the umask (and default ACLs) as for any new file
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
                 | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            if safetensors_bytes is not None:
                f.write(safetensors_bytes)
            elif torch_format:
                # torch names the archive folder after the file's stem; its reader takes any name
                stem = re.sub(r"[^A-Za-z0-9_]", "_", os.path.splitext(os.path.basename(path))[0]) or "archive"
                _torch_format.write_encoded(f, pkl, storages, stem)
            else:
                # np.savez(**arrays) would choke on keys such as "file"; write the members directly
                with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
                    for member, arr in list(arrays.items()) + [(_TREE, np.array(tree))]:
                        with zf.open(member + ".npy", "w", force_zip64=True) as out:
                            np.lib.format.write_array(out, np.asarray(arr), allow_pickle=False)
            if st is not None and stat.S_ISREG(st.st_mode):
                _copy_owner_and_mode(f.fileno(), tmp, st)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)  # make the rename itself durable


# ----------------------------------------------------------------------------- load
class _Refused(Exception):
    """Internal: why the file is not a pycnn checkpoint (load turns it into ValueError)."""


def _sniff(head):
    """Why a file that is not a zip archive cannot be a pycnn checkpoint."""
    if not head:
        return "the file is empty"
    if head.startswith(b"\x93NUMPY"):
        return "it is a single numpy .npy array, not a pycnn checkpoint (read it with numpy.load)"
    if head.startswith(_TORCH_LEGACY_MAGIC):
        return ("this looks like a PyTorch checkpoint (torch.save's legacy pickle format, before torch 1.6); "
                "pycnn reads only torch.save's zip format: load it with torch.load and torch.save it again")
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "it is a Python pickle, not a pycnn checkpoint (pycnn never unpickles)"
    try:
        head.decode("utf-8")
        text = b"\x00" not in head
    except UnicodeDecodeError as e:
        text = e.start >= len(head) - 3 and b"\x00" not in head  # a character cut by the sniff
    if text:
        return "it is a text file, not a pycnn checkpoint (a .npz zip archive)"
    return "it is not a zip archive (pycnn checkpoints are .npz zip archives)"


def _looks_like_torch(names):
    # torch.save's zip format: "<archive>/data.pkl", "<archive>/version", "<archive>/data/<key>"
    return any(n == "data.pkl" or n.endswith("/data.pkl") for n in names) or \
        any(n.endswith("/version") or n.endswith(".data/version") for n in names)


class _Reader:
    """Reads and checks one pycnn archive; every check failure raises _Refused."""

    def __init__(self, zf, file_size):
        self.zf = zf
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if _TREE + ".npy" not in names:
            if names and all(n.endswith(".npy") for n in names):
                raise _Refused("it is a numpy .npz archive that pycnn.save did not write (it has no "
                               f"{_TREE} member); read it with numpy.load")
            shown = ", ".join(repr(n) for n in names[:5]) + (", ..." if len(names) > 5 else "")
            raise _Refused(f"it is a zip archive of other members ({shown or 'none'}), not a pycnn checkpoint")
        if len(set(names)) != len(names):
            raise _Refused("the archive lists a member twice")
        total = 0
        for i in infos:
            if not i.filename.endswith(".npy"):
                raise _Refused(f"member {i.filename!r} is not a .npy array")
            _torch_format.check_stored(i, "member", "pycnn", _Refused)
            total += i.compress_size
        if total > file_size:
            raise _Refused(f"its members declare {total} bytes of data, more than the file's {file_size} bytes "
                           "(truncated or corrupt)")
        self.infos = {i.filename[:-4]: i for i in infos}
        self.unused = set(self.infos) - {_TREE}

    def array(self, member, tree=False):
        info = self.infos.get(member) if isinstance(member, str) else None
        if info is None or member == _TREE and not tree:
            raise _Refused(f"the structure refers to a missing member {member!r}")
        if not tree:
            if member not in self.unused:
                raise _Refused(f"the structure refers to member {member!r} twice")
            self.unused.discard(member)
        fmt = np.lib.format
        with self.zf.open(info) as f:  # reads stop at info.file_size; the CRC is checked at its end
            version = fmt.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = fmt.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = fmt.read_array_header_2_0(f)
            else:
                raise _Refused(f"member {member!r} has .npy format version {version}")
            ok = dtype.kind == "U" if tree else dtype.kind in "biufc"
            if not ok or dtype.fields is not None or dtype.subdtype is not None or dtype.hasobject:
                raise _Refused(f"member {member!r} has dtype {dtype}")
            count = 1
            for n in shape:
                count *= n
            nbytes = count * dtype.itemsize
            if nbytes != info.file_size - f.tell():  # also bounds the allocation by the file size
                raise _Refused(f"member {member!r} declares shape {shape} of {dtype} ({nbytes} bytes) "
                               f"but holds {info.file_size - f.tell()} bytes of data")
            arr = np.empty(shape[::-1] if fortran else shape, dtype=dtype)
            buf = arr.reshape(-1).view(np.uint8) if count else memoryview(b"")
            pos = 0
            while pos < nbytes:
                chunk = f.read(min(nbytes - pos, 1 << 24))
                if not chunk:
                    raise _Refused(f"member {member!r} is truncated")
                buf[pos:pos + len(chunk)] = np.frombuffer(chunk, np.uint8)
                pos += len(chunk)
            if f.read(1):
                raise _Refused(f"member {member!r} is longer than declared")
        return arr.T if fortran else arr

    def tree(self):
        arr = self.array(_TREE, tree=True)
        if arr.shape != ():
            raise _Refused(f"the {_TREE} member is not a single string")
        try:
            return json.loads(str(arr[()]))
        except RecursionError:
            raise _Refused(f"the {_TREE} member is nested too deeply") from None
        except ValueError as e:
            raise _Refused(f"the {_TREE} member is not valid JSON ({e})") from None


def _bad(what):
    raise _Refused(f"malformed structure: {what}")


def _decode(node, r, depth=0):
    if type(node) is not dict or len(node) != 1:
        _bad(f"expected a one-key object, got {str(node)[:80]}")
    (kind, v), = node.items()
    if kind in ("dict", "odict", "list", "tuple"):
        if depth >= _MAX_DEPTH:
            _bad(f"containers nested more than {_MAX_DEPTH} deep")
        if type(v) is not list:
            _bad(f"{kind!r} holds {type(v).__name__}, not a list")
        if kind in ("list", "tuple"):
            items = [_decode(x, r, depth + 1) for x in v]
            return items if kind == "list" else tuple(items)
        out = OrderedDict() if kind == "odict" else {}
        for pair in v:
            if type(pair) is not list or len(pair) != 2 or type(pair[0]) not in (str, int):
                _bad(f"a {kind} item must be [str or int key, value], got {str(pair)[:80]}")
            if pair[0] in out:
                _bad(f"key {pair[0]!r} appears twice")
            out[pair[0]] = _decode(pair[1], r, depth + 1)
        return out
    if kind == "value":
        if type(v) not in _SCALARS:
            _bad(f"'value' holds {type(v).__name__}")
        return v
    if kind == "float":
        if v not in ("nan", "inf", "-inf"):
            _bad(f"'float' holds {v!r}")
        return float(v)
    if kind == "array":
        return r.array(v)
    if kind == "numpy_scalar":
        arr = r.array(v)
        if arr.shape != ():
            _bad(f"numpy scalar {v!r} has shape {arr.shape}")
        return arr[()]
    if kind in ("tensor", "parameter"):
        if type(v) is not list or len(v) != 2 or type(v[1]) is not bool:
            _bad(f"{kind!r} must be [member, requires_grad]")
        arr = r.array(v[0])
        if arr.dtype.name not in _TENSOR_DTYPES:
            _bad(f"tensor {v[0]!r} has dtype {arr.dtype}; pycnn tensors are {', '.join(_TENSOR_DTYPES)}")
        if v[1] and arr.dtype.kind != "f":
            _bad(f"tensor {v[0]!r} of dtype {arr.dtype} cannot require gradients")
        t = Tensor._wrap(arr.astype(arr.dtype.newbyteorder("="), order="C", copy=False))
        if kind == "parameter":
            from .nn.module import Parameter
            return Parameter(t, requires_grad=v[1])
        return t.requires_grad_(True) if v[1] else t
    _bad(f"unknown kind {kind!r} (written by a newer pycnn?)")


def _to_device(obj, device):
    if isinstance(obj, Tensor):
        from .nn.module import Parameter
        if type(obj) is Parameter:
            return Parameter(obj.detach().to(device), requires_grad=obj.requires_grad)
        return obj.detach().to(device).requires_grad_(obj.requires_grad) if obj.requires_grad else obj.to(device)
    if type(obj) in (dict, OrderedDict):
        return type(obj)((k, _to_device(v, device)) for k, v in obj.items())
    if type(obj) in (list, tuple):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj


def load(path, map_location=None, weights_only=None):
    """Loads what save() wrote: the same dicts (OrderedDicts), lists, tuples and Python scalars,
    numpy arrays as numpy arrays, Tensors as CPU Tensors with their dtype, shape and
    requires_grad (nn.Parameters as Parameters; a CUDA tensor was saved from a host copy).

    Also reads checkpoints that torch.save wrote (its zip format, torch >= 1.6, whatever the
    file's name) without torch: tensors become pycnn Tensors (float16/bfloat16 widened to
    float32, smaller ints to int64; a tensor torch saved as a contiguous view of another keeps
    sharing its storage, a transposed or strided one is a contiguous copy), and only what
    ``torch.load(weights_only=True)`` admits for tensors and plain data is read: any other pickled
    global is refused with ValueError naming it, before it could run.  ``weights_only`` is
    accepted for torch.load compatibility; True, None and False all use this same safe reader
    (pycnn never runs pickled code, so False does not widen what loads).  ``map_location``:
    None or 'cpu' keeps tensors on the CPU; a device (str or pycnn.device) moves them there.

    Raises ValueError naming the file for anything else, also plain numpy .npz archives (use
    numpy.load) and torch's legacy pickle format.  A ``.safetensors`` file (by name or by its
header; needs the safetensors package) loads as a dict of Tensors, widened as above.  OSError (e.g. FileNotFoundError) is raised
    as by open()."""
    if weights_only not in (None, True, False):
        raise TypeError(f"load: weights_only must be a bool or None, got {weights_only!r}")
    if map_location is not None and not isinstance(map_location, str) and \
            type(map_location).__name__ != "device":
        raise TypeError(f"load: map_location must be None, a device string or a pycnn.device, got "
                        f"{type(map_location).__name__} (functions and dicts are not supported)")
    out = _load(os.fspath(path))
    if map_location is not None and str(map_location) != "cpu":
        out = _to_device(out, map_location)
    return out


def _load(path):
    with open(path, "rb") as f:
        file_size = os.fstat(f.fileno()).st_size
        head = f.read(64)
        f.seek(0)
        try:
            if path.lower().endswith(".safetensors") or _looks_like_safetensors(head, file_size):
                return _safetensors_decode(f.read())  # bounded by the file's size
            if not head.startswith(b"PK"):
                raise _Refused(_sniff(head))
            try:
                zf = zipfile.ZipFile(f)
            except zipfile.BadZipFile as e:
                raise _Refused(f"it is a truncated or corrupt zip archive ({e})") from None
            with zf:
                if _looks_like_torch([i.filename for i in zf.infolist()]):
                    return _torch_format.read(zf, file_size)
                r = _Reader(zf, file_size)
                out = _decode(r.tree(), r)
                if type(out) not in (dict, OrderedDict):
                    _bad(f"the saved object is a {type(out).__name__}, not a dict")
                if r.unused:
                    _bad(f"members {sorted(r.unused)[:5]} are not part of the saved object")
                return out
        except (_Refused, _torch_format.Refused) as e:
            raise ValueError(f"load: cannot load {path!r}: {e}") from None
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, struct.error, OverflowError,
                NotImplementedError, UnicodeDecodeError, ValueError, KeyError, IndexError, TypeError,
                SyntaxError) as e:
            # what the zip and .npy readers raise on corrupt data (e.g. a CRC mismatch)
            raise ValueError(f"load: cannot load {path!r}: it is truncated or corrupt "
                             f"({type(e).__name__}: {e})") from e
        except OSError as e:
            if e.errno != errno.EINVAL:  # EINVAL: a corrupt offset made a seek fail
                raise
            raise ValueError(f"load: cannot load {path!r}: it is truncated or corrupt ({e})") from e
