"""Dataset, TensorDataset, the samplers, default_collate and DataLoader (torch.utils.data names)."""
from __future__ import annotations

import copy
import multiprocessing
import os
import pickle
import queue
import time
import traceback
from collections.abc import Mapping, Sequence

import numpy as np

from ._args import as_flag, as_int
from .tensor import Tensor


class Dataset:
    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class IterableDataset(Dataset):
    """A stream of samples (torch.utils.data.IterableDataset): define __iter__.  DataLoader
    iterates it and groups consecutive samples into batches; there are no indices, so no
    shuffle, sampler or batch_sampler.  `a + b` chains two of them (ChainDataset)."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __add__(self, other):
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """The samples of each iterable dataset in turn."""

    def __init__(self, datasets):
        self.datasets = list(datasets)

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset: expected IterableDatasets, got {type(d).__name__}")
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)


class TensorDataset(Dataset):
    """Samples are the index-th rows of each tensor (all share the first dim)."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        n = tensors[0].shape[0]
        if any(t.shape[0] != n for t in tensors):
            raise ValueError(f"TensorDataset: size mismatch between tensors {[t.shape for t in tensors]}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


class Sampler:
    """An iterable of dataset indices with a length (torch.utils.data.Sampler)."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class DistributedSampler(Sampler):
    """Rank `rank`'s share of the indices, with torch's DistributedSampler semantics.

    Each epoch every rank draws the same permutation (seed + epoch; call set_epoch(e) before
    each epoch, as the Trainer does) and takes every num_replicas-th index from position rank.
    drop_last=False pads the list by repeating its start to a multiple of num_replicas, so every
    rank gets ceil(n / num_replicas) indices; drop_last=True cuts the tail instead, to
    floor(n / num_replicas) each.  num_replicas / rank default to pycnn.distributed's world.
    (The permutation is numpy's default_rng(seed + epoch), not torch's generator.)
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None or rank is None:
            from . import distributed
            if num_replicas is None:
                num_replicas = distributed.world_size()
            if rank is None:
                rank = distributed.rank()
        if int(num_replicas) < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= int(rank) < int(num_replicas):
            raise ValueError(f"DistributedSampler: invalid rank {rank}, rank should be in the interval "
                             f"[0, {int(num_replicas) - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            self.num_samples = -(-(n - self.num_replicas) // self.num_replicas)  # torch: ceil((n - R) / R)
        else:
            self.num_samples = -(-n // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int):
        """The permutation of the next iteration is seed + epoch's (the same on every rank)."""
        self.epoch = int(epoch)

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            indices = np.arange(n)
        if not self.drop_last:
            pad = self.total_size - n
            if pad > 0:  # repeat the list from its start (several times when n < pad)
                indices = np.concatenate([indices, np.resize(indices, pad)]) if n else indices
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1 (torch.utils.data.SequentialSampler)."""

    def __init__(self, data_source):
        self.data_source = data_source

    def _order(self):
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self):
        return iter(self._order().tolist())

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random order of the indices (torch.utils.data.RandomSampler).  `generator` is a numpy-API
    Generator (pycnn.default_generator() when None): without replacement each pass is one
    generator.permutation(n) (num_samples > n chains several), with it generator.integers(n, size)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = as_flag(replacement, "RandomSampler", "replacement")
        if num_samples is not None:
            num_samples = as_int(num_samples, "RandomSampler", "num_samples")
            if num_samples <= 0:
                raise ValueError(f"RandomSampler: num_samples should be a positive integer value, "
                                 f"but got num_samples={num_samples}")
        self._num_samples, self.generator = num_samples, generator

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _order(self):
        n, k = len(self.data_source), self.num_samples
        gen = self.generator
        if gen is None:
            from .creation import default_generator
            gen = default_generator()
        if self.replacement:
            return np.asarray(gen.integers(0, n, size=k), dtype=np.int64)
        parts = [np.asarray(gen.permutation(n), dtype=np.int64) for _ in range(-(-k // n) if n else 0)]
        return np.concatenate(parts)[:k] if parts else np.zeros(0, np.int64)

    def __iter__(self):
        return iter(self._order().tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order (torch.utils.data.SubsetRandomSampler)."""

    def __init__(self, indices, generator=None):
        self.indices, self.generator = list(indices), generator

    def __iter__(self):
        gen = self.generator
        if gen is None:
            from .creation import default_generator
            gen = default_generator()
        return iter([self.indices[i] for i in np.asarray(gen.permutation(len(self.indices))).tolist()])

    def __len__(self):
        return len(self.indices)


class BatchSampler(Sampler):
    """Lists of batch_size consecutive indices of `sampler`; the last one shorter unless drop_last
    (torch.utils.data.BatchSampler)."""

    def __init__(self, sampler, batch_size, drop_last):
        batch_size = as_int(batch_size, "BatchSampler", "batch_size")
        if batch_size < 1:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        self.sampler, self.batch_size = sampler, batch_size
        self.drop_last = as_flag(drop_last, "BatchSampler", "drop_last")

    def __iter__(self):
        batch = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


# ----------------------------------------------------------------------------- collation
def _stack_tensors(tensors):
    first = tensors[0]
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        raise RuntimeError(f"default_collate: stack expects each tensor to be equal size, got shapes "
                           f"{sorted(shapes)}")
    if first.device.type == "cpu" and not any(t.requires_grad for t in tensors):
        return Tensor._wrap(np.stack([t._array for t in tensors]), first.device)
    from .ops import stack
    return stack(list(tensors))


def default_collate(batch):
    """A list of samples -> a batch, as torch.utils.data.default_collate: Tensors are stacked
    along a new first dim; numpy arrays and numpy scalars become Tensors and are stacked; Python
    floats a float64 Tensor, ints an int64 one, bools a bool one; str/bytes are left as the list;
    a dict (Mapping) is collated key by key into the same type; a namedtuple field by field into
    the namedtuple; a tuple or list position by position into a list (torch turns tuples into
    lists as well).  pycnn has no uint8/int32/float16 Tensors: such arrays come out as int64 /
    float64 (Tensor's own rule)."""
    if not isinstance(batch, Sequence) or isinstance(batch, (str, bytes)) or not len(batch):
        raise TypeError(f"default_collate: expected a non-empty list of samples, got {type(batch).__name__}")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack_tensors(batch)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "SUaO":
            raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                            f"lists; found numpy arrays of dtype {elem.dtype}")
        return _stack_tensors([Tensor._wrap(np.ascontiguousarray(b), "cpu") for b in batch])
    if isinstance(elem, np.generic) and elem.dtype.kind not in "SUaO":
        return Tensor._wrap(np.asarray(batch), "cpu")  # torch.as_tensor(batch): the scalars' dtype
    if isinstance(elem, bool):
        return Tensor._wrap(np.asarray(batch, dtype=np.bool_), "cpu")
    if isinstance(elem, float):
        return Tensor._wrap(np.asarray(batch, dtype=np.float64), "cpu")
    if isinstance(elem, int):
        return Tensor._wrap(np.asarray(batch, dtype=np.int64), "cpu")
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, Mapping):
        out = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return out if type(elem) is dict else type(elem)(out)
        except TypeError:  # a Mapping whose constructor takes no dict
            return out
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, Sequence):
        size = len(elem)
        if any(len(s) != size for s in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of equal size")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(elem).__name__}")


_collate = default_collate  # the old private name


def default_convert(data):
    """One sample as torch.utils.data.default_convert gives it (DataLoader's batch_size=None):
    numpy arrays and numpy scalars become Tensors, without a batch dim; containers are converted
    item by item into the same type; anything else is left as it is."""
    if isinstance(data, np.ndarray) and data.dtype.kind not in "SUaO":
        return Tensor._wrap(np.ascontiguousarray(data), "cpu")
    if isinstance(data, np.generic) and data.dtype.kind not in "SUaO":
        return Tensor._wrap(np.asarray(data), "cpu")
    if isinstance(data, Mapping):
        out = {k: default_convert(v) for k, v in data.items()}
        try:
            return out if type(data) is dict else type(data)(out)
        except TypeError:
            return out
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return tuple(default_convert(d) for d in data)
    if isinstance(data, list):
        return [default_convert(d) for d in data]
    return data


# ----------------------------------------------------------------------------- worker processes
class WorkerInfo:
    """What get_worker_info() returns inside a worker: id, num_workers, seed, dataset (its copy)."""

    def __init__(self, id, num_workers, seed, dataset):
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed}, dataset={self.dataset!r})"


_worker_info = None


def get_worker_info():
    """The WorkerInfo of the current DataLoader worker process; None in the main process."""
    return _worker_info


class _WorkerError:
    """An exception raised in a worker, carried to the parent as its type and formatted traceback."""

    def __init__(self, worker_id, exc):
        self.exc_type, self.exc_name, self.worker_id = type(exc), type(exc).__name__, worker_id
        self.text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        try:
            pickle.dumps(self.exc_type)
        except Exception:  # a local exception class: the parent raises RuntimeError with the text
            self.exc_type = RuntimeError

    def reraise(self):
        msg = (f"Caught {self.exc_name} in DataLoader worker process {self.worker_id}.\n"
               f"Original Traceback (most recent call last) in the worker:\n{self.text}")
        try:
            err = self.exc_type(msg)
        except Exception:  # an exception type whose constructor wants other arguments
            err = None
        if not isinstance(err, BaseException) or (self.exc_type is KeyError):
            err = RuntimeError(msg)  # KeyError would repr() the message into one line
        raise err


class _Fetcher:
    """Fetch and collate one batch of indices: everything that may run in a worker.  The default
    collation batches TensorDatasets by fancy indexing and get_batch datasets by get_batch (both
    what default_collate would give for their samples), the rest by default_collate."""

    def __init__(self, dataset, collate_fn, batched=True):
        self.dataset, self.collate_fn, self.batched = dataset, collate_fn, batched

    def __call__(self, idx):
        ds = self.dataset
        if not self.batched:  # batch_size=None: one sample, converted (or given to collate_fn) as it is
            return (self.collate_fn or default_convert)(ds[_index(idx)])
        if self.collate_fn is None:
            while isinstance(ds, Subset) and _fast(ds.dataset):  # a Subset of a fast dataset: map the indices
                idx, ds = np.asarray(ds.indices, dtype=np.int64)[np.asarray(idx, dtype=np.int64)], ds.dataset
            if isinstance(ds, TensorDataset):
                i = np.asarray(idx, dtype=np.int64)
                return [Tensor._wrap(t._array[i], t.device) for t in ds.tensors]
            if hasattr(ds, "get_batch"):
                return list(ds.get_batch(np.asarray(idx, dtype=np.int64)))
            return default_collate([ds[_index(i)] for i in idx])
        return self.collate_fn([ds[_index(i)] for i in idx])


def _fast(ds):
    while isinstance(ds, Subset):
        ds = ds.dataset
    return isinstance(ds, TensorDataset) or hasattr(ds, "get_batch")


def _index(i):
    return int(i) if isinstance(i, np.integer) else i


_POLL_S = 0.1  # how often a waiting side checks that the other is still alive


def _worker_loop(payload, index_queue, result_queue, worker_id, num_workers, seed, parent_pid):
    """A worker process: unpickle (dataset, collate_fn, worker_init_fn), seed pycnn / numpy /
    random with seed (= the loader's base seed + worker_id, as torch), then fetch the batches
    the parent asks for ((task, indices) -> (task, batch or _WorkerError)) until None arrives
    or the parent is gone."""
    global _worker_info
    import random
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it shuts the workers down
    init_error = None
    try:
        dataset, collate_fn, worker_init_fn, batched = pickle.loads(payload)
        random.seed(seed)
        np.random.seed(seed % 2**32)
        from .creation import manual_seed
        manual_seed(seed % 2**63)
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        if worker_init_fn is not None:
            worker_init_fn(worker_id)
        fetch = _Fetcher(dataset, collate_fn, batched)
    except BaseException as e:  # reported with the first task
        init_error = _WorkerError(worker_id, e)
    while True:
        try:
            item = index_queue.get(timeout=_POLL_S * 10)
        except queue.Empty:
            if os.getppid() != parent_pid:  # the parent died: nobody will ever read our results
                return
            continue
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if item is None:
            return
        task, idx = item
        if init_error is not None:
            result = init_error
        else:
            try:
                result = fetch(idx)
            except Exception as e:
                result = _WorkerError(worker_id, e)
        # pickled here, not in the queue's feeder thread, whose failures would only be printed
        # (the parent would then wait for a batch that never comes)
        try:
            data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:  # an unpicklable batch (or exception)
            err = _WorkerError(worker_id, e)
            err.text = f"the worker's result could not be pickled to send it back:\n{err.text}"
            data = pickle.dumps(err, protocol=pickle.HIGHEST_PROTOCOL)
        result_queue.put((task, data))


def _pickled_for_workers(loader):
    """The bytes every worker unpickles; a TypeError naming what cannot be pickled otherwise."""
    parts = (("dataset", loader.dataset), ("collate_fn", loader.collate_fn), ("worker_init_fn", loader.worker_init_fn),
             ("batch_size", loader.batch_size is not None))
    try:
        return pickle.dumps(tuple(obj for _, obj in parts), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        pass
    for name, obj in parts:  # which one failed
        try:
            pickle.dumps(obj)
        except Exception as e:
            raise TypeError(
                f"DataLoader: num_workers={loader.num_workers} starts worker processes with the "
                f"'{loader._context_name}' method, which pickles the dataset, collate_fn and worker_init_fn, "
                f"but the {name} ({type(obj).__name__}) cannot be pickled: {e}. Define it at a module's top "
                f"level (not inside a function, not a lambda), or use num_workers=0") from e
    return pickle.dumps(tuple(obj for _, obj in parts), protocol=pickle.HIGHEST_PROTOCOL)


class _WorkerPool:
    """num_workers spawned processes, one index queue each and one shared result queue.  Tasks
    carry a number that grows across epochs, so a persistent pool can drop the results of an
    epoch that was abandoned half-way."""

    def __init__(self, loader):
        payload = _pickled_for_workers(loader)
        ctx = loader._context
        self.num_workers = loader.num_workers
        self.result_queue = ctx.Queue()
        self.index_queues, self.workers = [], []
        self.next_task = 0
        base_seed = int(loader._worker_seeds.integers(2**62))
        try:
            for wid in range(self.num_workers):
                q = ctx.Queue()
                w = ctx.Process(target=_worker_loop, daemon=True, name=f"pycnn-DataLoader-worker-{wid}",
                                args=(payload, q, self.result_queue, wid, self.num_workers, base_seed + wid,
                                      os.getpid()))
                w.start()
                self.index_queues.append(q)
                self.workers.append(w)
        except BaseException:
            self.shutdown()
            raise
        self._shut = False

    def dead(self):
        return [w for w in self.workers if not w.is_alive()]

    def shutdown(self):
        if getattr(self, "_shut", False):
            return
        self._shut = True
        for q in self.index_queues:
            try:
                q.put(None)
            except Exception:
                pass
        for w in self.workers:
            w.join(timeout=2.0)
            if w.is_alive():
                w.terminate()
                w.join(timeout=1.0)
        for q in self.index_queues + [self.result_queue]:
            q.cancel_join_thread()  # never block interpreter exit on a queue's feeder thread
            q.close()

    def __del__(self):
        try:
            self.shutdown()
        except Exception:
            pass


def _plain_dtype(dt):
    return dt.isnative and dt.names is None and dt.subdtype is None and dt.kind in "biufc"


def _canonical(obj):
    """obj with every array's dtype the builtin numpy singleton again: unpickled arrays carry an
    equal but distinct dtype object, which the C++ core's identity check (py::dtype::is) rejects."""
    if isinstance(obj, Tensor):
        a = obj._array
        if isinstance(a, np.ndarray) and _plain_dtype(a.dtype) and a.dtype is not np.dtype(a.dtype.char):
            obj._array = a.view(np.dtype(a.dtype.char))
        return obj
    if isinstance(obj, np.ndarray):
        return obj.view(np.dtype(obj.dtype.char)) if _plain_dtype(obj.dtype) else obj
    if isinstance(obj, list):
        return [_canonical(v) for v in obj]
    if isinstance(obj, tuple):
        items = [_canonical(v) for v in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
    if isinstance(obj, dict):
        for k in obj:
            obj[k] = _canonical(obj[k])
        return obj
    return obj


class _MultiProcessIter:
    """Hands the epoch's index batches round-robin to the workers, prefetch_factor outstanding per
    worker, and yields the results in the sampler's order.  A worker's exception is re-raised here
    with its traceback; a worker that died, or no batch within `timeout` seconds, is a
    RuntimeError, never a hang."""

    def __init__(self, loader, batches):
        self.loader = loader
        if loader.persistent_workers and loader._pool is not None and not loader._pool.dead():
            self.pool = loader._pool
        else:
            if loader._pool is not None:
                loader._pool.shutdown()
            self.pool = _WorkerPool(loader)
            loader._pool = self.pool if loader.persistent_workers else None
        self.batches = batches
        self.first = self.pool.next_task  # results of tasks before this are an old epoch's
        self.sent = self.rcvd = self.first
        self.buffer = {}
        self.next_worker = 0
        self.done = False
        for _ in range(loader.prefetch_factor * loader.num_workers):
            if not self._send():
                break

    def _send(self):
        idx = next(self.batches, None)
        if idx is None:
            return False
        pool = self.pool
        pool.index_queues[self.next_worker].put((pool.next_task, idx))
        self.next_worker = (self.next_worker + 1) % pool.num_workers
        pool.next_task += 1
        self.sent = pool.next_task
        return True

    def __iter__(self):
        return self

    def _receive(self):
        timeout = self.loader.timeout
        t0 = time.monotonic()
        while True:
            try:
                return self.pool.result_queue.get(timeout=_POLL_S)
            except queue.Empty:
                pass
            dead = self.pool.dead()
            if dead:
                self._stop()
                codes = ", ".join(f"{w.pid} (exit code {w.exitcode})" for w in dead)
                raise RuntimeError(f"DataLoader worker (pid(s) {codes}) exited unexpectedly") from None
            if timeout > 0 and time.monotonic() - t0 > timeout:
                self._stop()
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds") from None

    def __next__(self):
        if self.done:
            raise StopIteration
        while self.rcvd not in self.buffer:
            if self.rcvd >= self.sent:
                self._stop()
                raise StopIteration
            task, data = self._receive()
            if task >= self.first:
                self.buffer[task] = pickle.loads(data)
        data = self.buffer.pop(self.rcvd)
        self.rcvd += 1
        self._send()
        if isinstance(data, _WorkerError):
            self._stop()
            data.reraise()
        return self.loader._finish(_canonical(data))

    def _stop(self):
        self.done = True
        if self.loader._pool is not self.pool:
            self.pool.shutdown()
        elif self.pool.dead():  # a persistent pool with a dead worker is rebuilt next epoch
            self.pool.shutdown()
            self.loader._pool = None

    def __del__(self):
        try:
            if not self.done:
                self._stop()
        except Exception:
            pass


class DataLoader:
    """Batches of a Dataset, with torch.utils.data.DataLoader's arguments, order and semantics.

    The order of an epoch comes from `sampler` (default: SequentialSampler, or RandomSampler
    when shuffle=True) cut into batches of batch_size by a BatchSampler, or from `batch_sampler`
    (lists of indices; exclusive with batch_size, shuffle, sampler and drop_last).  Shuffling
    uses the loader's own numpy Generator, seeded by `seed` (pycnn's extra argument; drawn from
    pycnn's default generator when None, so pycnn.manual_seed makes it reproducible) or given as
    `generator` (a numpy-API Generator such as pycnn.default_generator()): each epoch is one
    generator.permutation(len(dataset)).  The sampler always runs in the main process, so the
    batches do not depend on num_workers.

    collate_fn: samples -> batch, default_collate when None.  The default path batches
    TensorDatasets by fancy indexing and datasets with ``get_batch(indices)``
    (pycnn.datasets.ImageDataset) by that method, which gives what default_collate would.

    num_workers > 0: that many worker processes, started with the 'spawn' method (libgomp, which
    the C++ core uses, is not fork-safe), each with its own copy of the pickled dataset,
    collate_fn and worker_init_fn (so these must be picklable: module-level classes and
    functions).  Workers fetch and collate; results come back in order and equal num_workers=0's.
    Each worker seeds pycnn, numpy and random with base_seed + worker_id (base_seed drawn from
    the loader's seed, not from the shuffle generator), then calls worker_init_fn(worker_id);
    get_worker_info() tells a worker who it is.  prefetch_factor (default 2) batches are in
    flight per worker; persistent_workers keeps the workers between epochs; timeout > 0 bounds
    the wait for one batch.  A worker's exception is raised again here with its traceback; a
    worker that dies is a RuntimeError.  multiprocessing_context: 'spawn' (default),
    'forkserver' or 'fork' (unsafe with OpenMP threads), or a multiprocessing context.

    No-ops, accepted for torch's signature: pin_memory / pin_memory_device (pycnn's host arrays
    are plain memory and its host-to-device copies are synchronous, so there is nothing to pin)
    and in_order (batches always come back in order).

    batch_size=None turns batching off (torch): each sample comes alone, through collate_fn or
    default_convert (numpy arrays -> Tensors, no batch dim).  An IterableDataset is iterated
    in the main process, consecutive samples grouped into batches (the last one shorter unless
    drop_last); it takes no shuffle, sampler or batch_sampler, and pycnn's workers, which fetch
    by index, do not run it yet (num_workers > 0 raises NotImplementedError).

    transform (pycnn's extra): a callable applied, in the main process, to each batch's inputs
    (its first item) as a numpy array (N, C, H, W), e.g. pycnn.transforms.Compose([...]).  On
    the default path numpy batch items become Tensors: uint8 pixels as float32 in [0, 1]
    (transforms.ToFloat), other integers as int64.  A batch of (x, y) samples is a list [x, y],
    as torch's."""

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True, seed=None, transform=None):
        op = "DataLoader"
        if batch_size is not None:  # None: no batching (torch)
            batch_size = as_int(batch_size, op, "batch_size")  # 2.5 is a TypeError, never 2
            if batch_size < 1:
                raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        shuffle = False if shuffle is None else as_flag(shuffle, op, "shuffle")  # torch's default None
        drop_last = as_flag(drop_last, op, "drop_last")
        num_workers = as_int(num_workers, op, "num_workers")
        if num_workers < 0:
            raise ValueError("DataLoader: num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float, np.integer, np.floating)):
            raise TypeError(f"DataLoader: timeout must be a number of seconds, got {type(timeout).__name__}")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative, got {timeout}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor option could only be specified in multiprocessing; "
                             "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None")
        if prefetch_factor is None:
            prefetch_factor = 2
        prefetch_factor = as_int(prefetch_factor, op, "prefetch_factor")
        if prefetch_factor < 1:
            raise ValueError(f"DataLoader: prefetch_factor must be >= 1, got {prefetch_factor}")
        persistent_workers = as_flag(persistent_workers, op, "persistent_workers")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        for name, fn in (("transform", transform), ("collate_fn", collate_fn), ("worker_init_fn", worker_init_fn)):
            if fn is not None and not callable(fn):
                raise TypeError(f"DataLoader: {name} must be callable, got {type(fn).__name__}")
        if sampler is not None and shuffle:  # torch's rule: the sampler decides the order
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                             "sampler, and drop_last")
        if batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually exclusive "
                             "with drop_last")
        if isinstance(dataset, IterableDataset):
            for name, value in (("shuffle", shuffle or None), ("sampler", sampler), ("batch_sampler", batch_sampler)):
                if value is not None:
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified {name} option, but got "
                                     f"{name}={value!r}")
            if num_workers > 0:
                raise NotImplementedError(f"DataLoader: num_workers={num_workers} with an IterableDataset is not "
                                          f"implemented in pycnn (its workers fetch by index); use num_workers=0")
        for name, s in (("sampler", sampler), ("batch_sampler", batch_sampler)):
            if s is not None and not hasattr(s, "__iter__"):
                raise TypeError(f"DataLoader: {name} must be an iterable of indices, got {type(s).__name__}")
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: give seed or generator, not both")
        if generator is not None and not hasattr(generator, "permutation"):
            raise TypeError(f"DataLoader: generator must be a numpy-API Generator (e.g. pycnn.default_generator() "
                            f"or numpy.random.default_rng(seed)), got {type(generator).__name__}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.transform, self.collate_fn, self.worker_init_fn = transform, collate_fn, worker_init_fn
        self.num_workers, self.prefetch_factor = num_workers, prefetch_factor
        self.persistent_workers, self.timeout = persistent_workers, timeout
        self.pin_memory, self.pin_memory_device, self.in_order = bool(pin_memory), pin_memory_device, in_order
        if seed is None and generator is None:
            from .creation import default_generator
            seed = int(default_generator().integers(2**63))
        # the shuffle stream, and a separate one for the workers' seeds (so num_workers changes no order)
        self.generator = generator if generator is not None else np.random.default_rng(seed)
        # (with a given generator: a copy's next draw, which leaves the generator itself untouched)
        wseed = int(seed) if seed is not None else int(copy.deepcopy(generator).integers(2**63))
        self._worker_seeds = np.random.default_rng([wseed, 1])
        if multiprocessing_context is None:
            multiprocessing_context = "spawn"
        if isinstance(multiprocessing_context, str):
            try:
                multiprocessing_context = multiprocessing.get_context(multiprocessing_context)
            except ValueError as e:
                raise ValueError(f"DataLoader: multiprocessing_context {multiprocessing_context!r} is not a start "
                                 f"method of this platform ({multiprocessing.get_all_start_methods()})") from e
        if not hasattr(multiprocessing_context, "Process"):
            raise TypeError(f"DataLoader: multiprocessing_context must be a start method name or a "
                            f"multiprocessing context, got {type(multiprocessing_context).__name__}")
        self.multiprocessing_context = self._context = multiprocessing_context
        self._context_name = multiprocessing_context.get_start_method()
        self._pool = None
        self._user_sampler = sampler
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            self.sampler = self.batch_sampler = None
            self._user_batch_sampler = False
            return
        if sampler is None:
            sampler = RandomSampler(dataset, generator=self.generator) if shuffle else SequentialSampler(dataset)
        self.sampler = sampler
        self._user_batch_sampler = batch_sampler is not None
        if batch_sampler is None and batch_size is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_sampler = batch_sampler

    @property
    def generator(self):
        return self._generator

    @generator.setter
    def generator(self, gen):
        """Replacing the shuffle generator (as `pycnn train` does each epoch) reaches the
        RandomSampler that shuffle=True built."""
        self._generator = gen
        if getattr(self, "_user_sampler", True) is None and isinstance(getattr(self, "sampler", None), RandomSampler):
            self.sampler.generator = gen

    def __len__(self):
        if self._iterable:  # the dataset's length, in batches (a TypeError when it has none)
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is None:  # batch_size=None: one sample a step
            return len(self.sampler)
        return len(self.batch_sampler)

    def _index_batches(self):
        """The epoch's batches of indices (numpy int64 arrays on the default path); single
        indices when batch_size is None."""
        if self.batch_size is None and not self._user_batch_sampler:
            yield from iter(self.sampler)
            return
        if self._user_batch_sampler:
            for b in self.batch_sampler:
                yield list(b)
            return
        s = self.sampler
        order = s._order() if isinstance(s, (SequentialSampler, RandomSampler)) else list(iter(s))
        if not isinstance(order, np.ndarray) and all(isinstance(i, (int, np.integer)) for i in order):
            order = np.asarray(order, dtype=np.int64)
        n, bs = len(order), self.batch_size
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            if self.drop_last and len(idx) < bs:
                return
            yield idx

    def __iter__(self):
        if self._iterable:
            return self._iterate_stream()
        batches = self._index_batches()
        if self.num_workers == 0:
            fetch = _Fetcher(self.dataset, self.collate_fn, self.batch_size is not None)
            return (self._finish(fetch(idx)) for idx in batches)
        return _MultiProcessIter(self, batches)

    def _iterate_stream(self):
        """An IterableDataset's samples, grouped into batches of batch_size (or one by one)."""
        if self.batch_size is None:
            convert = self.collate_fn or default_convert
            for sample in self.dataset:
                yield self._finish(convert(sample))
            return
        collate, batch = self.collate_fn or default_collate, []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self._finish(collate(batch))
                batch = []
        if batch and not self.drop_last:
            yield self._finish(collate(batch))

    def _finish(self, batch):
        """What runs in the main process after fetching: the numpy -> Tensor conversion of the
        default path and the transform."""
        if not isinstance(batch, (tuple, list)):
            return batch
        def post(b):  # get_batch's numpy arrays (default_collate already gives Tensors)
            return _batch_tensor(b) if self.collate_fn is None and isinstance(b, (np.ndarray, np.generic)) else b
        if self.transform is None:
            if any(isinstance(b, (np.ndarray, np.generic)) for b in batch) and self.collate_fn is None:
                return [post(b) for b in batch]
            return batch
        x, device = batch[0], None
        if isinstance(x, Tensor):
            x, device = x.detach()._host(), x.device
        x = _batch_tensor(self.transform(x))
        return [x if device is None else x.to(device)] + [post(b) for b in batch[1:]]

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown()

    def __getstate__(self):  # a loader pickled (e.g. inside a dataset) leaves its workers behind
        state = dict(self.__dict__)
        state["_pool"] = None
        return state


def _batch_tensor(b):
    """A batch item as a Tensor: uint8 images -> float32 / 255, other integers -> int64."""
    if isinstance(b, Tensor):
        return b
    b = np.asarray(b)
    if b.dtype == np.uint8:
        b = b.astype(np.float32) / np.float32(255)
    elif b.dtype.kind in "ui":
        b = b.astype(np.int64)
    elif b.dtype == np.float16:
        b = b.astype(np.float32)
    return Tensor._wrap(np.ascontiguousarray(b), "cpu")


# ----------------------------------------------------------------------------- torch.utils.data's helpers
class Subset(Dataset):
    """The items of `dataset` at `indices`, in that order."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, list(indices)

    def __getitem__(self, i):
        return self.dataset[self.indices[i]]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """The datasets one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, i):
        if i < 0:
            if -i > len(self):
                raise IndexError(f"ConcatDataset: index {i} out of range for length {len(self)}")
            i += len(self)
        d = int(np.searchsorted(self.cumulative_sizes, i, side="right"))
        if d >= len(self.datasets):
            raise IndexError(f"ConcatDataset: index {i} out of range for length {len(self)}")
        return self.datasets[d][i - (self.cumulative_sizes[d - 1] if d else 0)]


def random_split(dataset, lengths, generator=None):
    """Subsets of the given lengths (or fractions summing to 1, rounded as torch: the remainder
    goes one by one to the first subsets) of a random permutation."""
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and abs(sum(lengths) - 1) < 1e-9:
        sizes = [int(np.floor(n * f)) for f in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        lengths = sizes
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths {sum(lengths)} does not equal the length of the "
                         f"input dataset {n}")
    if generator is None:
        from .creation import default_generator
        generator = default_generator()
    perm = np.asarray(generator.permutation(n)).tolist()
    out, start = [], 0
    for k in lengths:
        out.append(Subset(dataset, perm[start:start + k]))
        start += k
    return out
