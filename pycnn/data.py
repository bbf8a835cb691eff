"""Dataset, TensorDataset, Sampler, DistributedSampler and DataLoader (torch.utils.data names)."""
from __future__ import annotations

import numpy as np

from ._args import as_flag, as_int
from .tensor import Tensor


class Dataset:
    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


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


def _collate(samples):
    first = samples[0]
    if isinstance(first, dict):
        return {k: _collate([s[k] for s in samples]) for k in first}
    if isinstance(first, (tuple, list)):
        return tuple(_collate([s[i] for s in samples]) for i in range(len(first)))
    if isinstance(first, Tensor):
        return Tensor._wrap(np.stack([s._array for s in samples]), first.device)
    return Tensor(np.asarray(samples))


class DataLoader:
    """Batches of a Dataset.  shuffle uses its own generator seeded by `seed`, so each
    epoch's order is reproducible; TensorDatasets are batched by fancy indexing, datasets with
    a ``get_batch(indices)`` method (pycnn.datasets.ImageDataset) by that method.

    transform: a callable applied to each batch's inputs (its first item) as a numpy array
    (N, C, H, W), e.g. pycnn.transforms.Compose([...]).  Numpy batches become Tensors
    afterwards: uint8 pixels as float32 in [0, 1] (transforms.ToFloat), other integers as int64.
    sampler: the indices of an epoch, in order (e.g. DistributedSampler); exclusive with shuffle."""

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, transform=None,
                 sampler=None):
        batch_size = as_int(batch_size, "DataLoader", "batch_size")  # 2.5 is a TypeError, never 2
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        shuffle = False if shuffle is None else as_flag(shuffle, "DataLoader", "shuffle")  # torch's default None
        drop_last = as_flag(drop_last, "DataLoader", "drop_last")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable, got {type(transform).__name__}")
        self.transform = transform
        if sampler is not None and shuffle:  # torch's rule: the sampler decides the order
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        self.sampler = sampler
        self.dataset, self.batch_size = dataset, batch_size
        self.shuffle, self.drop_last = shuffle, drop_last
        if seed is None:
            from .creation import default_generator
            seed = int(default_generator().integers(2**63))
        self.generator = np.random.default_rng(seed)

    def __len__(self):
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        if self.sampler is not None:
            order = np.fromiter(iter(self.sampler), dtype=np.int64)
        else:
            order = self.generator.permutation(len(self.dataset)) if self.shuffle else np.arange(len(self.dataset))
        n = len(order)
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            if self.drop_last and len(idx) < self.batch_size:
                return
            yield self._batch(idx)

    def _batch(self, idx):
        if isinstance(self.dataset, TensorDataset):
            batch = tuple(Tensor._wrap(t._array[idx], t.device) for t in self.dataset.tensors)
        elif hasattr(self.dataset, "get_batch"):
            batch = tuple(self.dataset.get_batch(idx))
        else:
            batch = _collate([self.dataset[int(i)] for i in idx])
        if self.transform is None or not isinstance(batch, tuple):
            return tuple(_batch_tensor(b) for b in batch) if isinstance(batch, tuple) else batch
        x, device = batch[0], None
        if isinstance(x, Tensor):
            x, device = x.detach()._host(), x.device
        x = _batch_tensor(self.transform(x))
        return (x if device is None else x.to(device),) + tuple(_batch_tensor(b) for b in batch[1:])


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


def default_collate(batch):
    """A list of samples -> a batch: Tensors and numbers are stacked, tuples/lists/dicts collated
    item by item (torch.utils.data.default_collate)."""
    if not isinstance(batch, (list, tuple)) or not batch:
        raise TypeError(f"default_collate: expected a non-empty list of samples, got {type(batch).__name__}")
    first = batch[0]
    if isinstance(first, list):
        return [default_collate([s[i] for s in batch]) for i in range(len(first))]
    return _collate(list(batch))
