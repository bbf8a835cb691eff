"""Dataset, TensorDataset and DataLoader (torch.utils.data names; single process)."""
from __future__ import annotations

import numpy as np

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
    epoch's order is reproducible; TensorDatasets are batched by fancy indexing."""

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None):
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.drop_last = shuffle, drop_last
        if seed is None:
            from .creation import default_generator
            seed = int(default_generator().integers(2**63))
        self.generator = np.random.default_rng(seed)

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        order = self.generator.permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            if self.drop_last and len(idx) < self.batch_size:
                return
            if isinstance(self.dataset, TensorDataset):
                yield tuple(Tensor._wrap(t._array[idx], t.device) for t in self.dataset.tensors)
            else:
                yield _collate([self.dataset[int(i)] for i in idx])
