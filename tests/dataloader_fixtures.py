"""Datasets and functions that DataLoader worker processes unpickle (tests/test_dataloader_torch.py):
they live in a module importable by its plain name (the tests dir is on sys.path, and spawned
workers inherit it), not in the test module, which pytest imports under a package-less name."""
import collections
import os
import signal
import time

import numpy as np

import pycnn
from pycnn.utils.data import Dataset, get_worker_info

Point = collections.namedtuple("Point", "x y")
RNG = np.random.default_rng(7)
XS = RNG.standard_normal((23, 3, 4))
YS = RNG.integers(0, 10, 23)


# ----------------------------------------------------------------------------- module-level datasets (picklable)
class Pairs(Dataset):
    """(float64 array, int) samples, usable by torch's DataLoader as well (a plain map-style dataset)."""

    def __len__(self):
        return len(XS)

    def __getitem__(self, i):
        return XS[i], int(YS[i])


class Records(Dataset):
    def __len__(self):
        return 9

    def __getitem__(self, i):
        return {"x": pycnn.tensor(XS[i]), "w": float(XS[i, 0, 0]), "name": f"s{i}", "p": Point(i, [i, -i])}


class WhoAmI(Dataset):
    """The worker's id and numpy's first draw there (seeded by the loader), per sample."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return np.array([i, -1 if info is None else info.id, os.getpid(), np.random.randint(2**31)])


class Failing(Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, i):
        if i == 6:
            raise ValueError(f"sample {i} is corrupt")
        return np.float64(i)


class Dying(Dataset):
    """A worker that fetches sample 3 is killed (SIGKILL: no exception, no message)."""

    def __len__(self):
        return 10

    def __getitem__(self, i):
        if i == 3 and get_worker_info() is not None:
            os.kill(os.getpid(), signal.SIGKILL)
        return np.float64(i)


class Stalling(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if get_worker_info() is not None:
            time.sleep(30)
        return np.float64(i)


def pair_collate(samples):
    """A user collate_fn: inputs summed over the batch, labels as a sorted Python list."""
    xs = np.stack([s[0] for s in samples])
    return pycnn.tensor(xs.sum(0)), sorted(s[1] for s in samples)


def init_marker(worker_id):
    np.random.seed(1000 + worker_id)  # overrides the loader's per-worker seed, as in torch's recipes


class Awkward(Dataset):
    """Sample 1 cannot be pickled (a lambda); sample 2 raises an exception whose class is local."""

    def __len__(self):
        return 3

    def __getitem__(self, i):
        if i == 2:
            class Oops(Exception):
                pass
            raise Oops("a local exception class")
        return (lambda: i) if i == 1 else np.float64(i)


def as_list(samples):
    return list(samples)


def lambda_free_collate(samples):
    return np.stack(samples)
