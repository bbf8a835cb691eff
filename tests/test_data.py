"""TensorDataset and DataLoader: batching, shuffling, drop_last, seeds, epoch coverage."""
import numpy as np
import pytest

import pycnn
from pycnn.data import DataLoader, Dataset, TensorDataset
from pycnn.utils.data import IterableDataset


def make_ds(n=23):
    x = pycnn.tensor(np.arange(n * 2, dtype=np.float32).reshape(n, 2))
    y = pycnn.arange(n)
    return TensorDataset(x, y)


def test_tensor_dataset():
    ds = make_ds()
    assert len(ds) == 23
    x, y = ds[4]
    assert x.tolist() == [8.0, 9.0] and y.item() == 4
    with pytest.raises(ValueError, match="TensorDataset"):
        TensorDataset(pycnn.ones(3, 2), pycnn.ones(4))
    with pytest.raises(ValueError, match="TensorDataset"):
        TensorDataset()


@pytest.mark.parametrize("batch_size, drop_last, sizes", [
    (5, False, [5, 5, 5, 5, 3]), (5, True, [5, 5, 5, 5]), (23, False, [23]), (50, False, [23]),
    (50, True, []), (1, False, [1] * 23)])
def test_batch_sizes_and_len(batch_size, drop_last, sizes):
    loader = DataLoader(make_ds(), batch_size=batch_size, drop_last=drop_last)
    batches = list(loader)
    assert [len(b[1]) for b in batches] == sizes and len(loader) == len(sizes)
    if batches:
        x, y = batches[0]
        assert x.shape == (sizes[0], 2) and x.dtype == np.float32 and y.dtype == np.int64


def test_no_shuffle_keeps_order():
    ys = np.concatenate([y.numpy() for _, y in DataLoader(make_ds(), batch_size=4)])
    assert ys.tolist() == list(range(23))


@pytest.mark.parametrize("drop_last", [False, True])
def test_shuffle_covers_every_sample_once_per_epoch(drop_last):
    loader = DataLoader(make_ds(), batch_size=4, shuffle=True, drop_last=drop_last, seed=3)
    orders = []
    for _ in range(3):
        xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in loader])
        ys = np.concatenate(ys)
        np.testing.assert_array_equal(np.concatenate(xs)[:, 0], 2 * ys)   # rows stay paired
        if drop_last:
            assert len(ys) == 20 and len(set(ys.tolist())) == 20
        else:
            assert sorted(ys.tolist()) == list(range(23))
        orders.append(ys.tolist())
    assert orders[0] != orders[1] != orders[2]       # each epoch reshuffles
    assert orders[0] != sorted(orders[0])


def test_seed_reproducibility():
    def epochs(**kw):
        loader = DataLoader(make_ds(), batch_size=5, shuffle=True, **kw)
        return [np.concatenate([y.numpy() for _, y in loader]).tolist() for _ in range(2)]

    assert epochs(seed=11) == epochs(seed=11)
    assert epochs(seed=11) != epochs(seed=12)
    pycnn.manual_seed(5)
    a = epochs()
    pycnn.manual_seed(5)
    assert epochs() == a                              # no seed: drawn from pycnn.manual_seed


class Squares(Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, i):
        return pycnn.tensor([float(i), float(i * i)]), i


def test_generic_dataset_collates():
    batches = list(DataLoader(Squares(), batch_size=3))
    assert len(batches) == 3
    x, y = batches[0]
    assert x.shape == (3, 2) and x.dtype == np.float32 and x.numpy()[:, 1].tolist() == [0, 1, 4]
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 2]
    assert batches[-1][1].tolist() == [6]


class Records(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": np.full(2, float(i)), "label": i}


def test_dict_samples_collate_per_key():
    x = next(iter(DataLoader(Records(), batch_size=4)))
    assert set(x) == {"x", "label"} and x["x"].shape == (4, 2) and x["label"].tolist() == [0, 1, 2, 3]


def test_dataloader_bad_args():
    with pytest.raises(ValueError, match="DataLoader"):
        DataLoader(make_ds(), batch_size=0)


# ----------------------------------------------------------------------------- IterableDataset, batch_size=None
class Countdown(IterableDataset):
    """A stream of (x, y) samples: x a numpy row, y an int."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        for i in range(self.n):
            yield np.full(3, i, np.float32), self.n - i

    def __len__(self):
        return self.n


@pytest.mark.parametrize("drop_last", [False, True])
def test_iterable_dataset_batches_consecutive_samples(drop_last):
    loader = DataLoader(Countdown(7), batch_size=3, drop_last=drop_last)
    batches = list(loader)
    assert len(batches) == len(loader) == (2 if drop_last else 3)
    xs = np.concatenate([x.numpy() for x, _ in batches])
    ys = np.concatenate([y.numpy() for _, y in batches])
    n = 6 if drop_last else 7
    np.testing.assert_array_equal(xs, np.repeat(np.arange(n, dtype=np.float32)[:, None], 3, axis=1))
    np.testing.assert_array_equal(ys, 7 - np.arange(n))
    chained = [y.numpy().tolist() for _, y in DataLoader(Countdown(2) + Countdown(3), batch_size=2)]
    assert chained == [[2, 1], [3, 2], [1]]


def test_iterable_dataset_refuses_what_needs_indices():
    for kw, name in ((dict(shuffle=True), "shuffle"), (dict(sampler=[0, 1]), "sampler"),
                     (dict(batch_sampler=[[0]]), "batch_sampler")):
        with pytest.raises(ValueError, match=f"DataLoader with IterableDataset: expected unspecified {name} option"):
            DataLoader(Countdown(3), **kw)
    with pytest.raises(NotImplementedError, match="num_workers=2 with an IterableDataset"):
        DataLoader(Countdown(3), num_workers=2)


def test_batch_size_none_gives_single_converted_samples():
    ds = TensorDataset(pycnn.tensor(np.arange(12.0).reshape(4, 3)), pycnn.tensor(np.arange(4)))
    samples = list(DataLoader(ds, batch_size=None))
    assert len(samples) == len(DataLoader(ds, batch_size=None)) == 4
    assert all(x.shape == (3,) and y.shape == () for x, y in samples)
    np.testing.assert_array_equal(samples[2][0].numpy(), [6.0, 7.0, 8.0])
    stream = list(DataLoader(Countdown(3), batch_size=None))
    assert isinstance(stream[0][0], pycnn.Tensor) and stream[0][0].shape == (3,) and stream[1][1] == 2
    with pytest.raises(ValueError, match="batch_size=None option disables auto-batching"):
        DataLoader(ds, batch_size=None, drop_last=True)
    order = [int(y.item()) for _, y in DataLoader(ds, batch_size=None, shuffle=True, seed=1)]
    assert sorted(order) == [0, 1, 2, 3]


def test_iterable_and_unbatched_match_torch():
    torch = pytest.importorskip("torch")

    class TorchCountdown(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(Countdown(7))

    for bs in (3, None):
        ours = list(DataLoader(Countdown(7), batch_size=bs))
        theirs = list(torch.utils.data.DataLoader(TorchCountdown(), batch_size=bs))
        assert len(ours) == len(theirs)
        for (x, y), (tx, ty) in zip(ours, theirs):
            np.testing.assert_array_equal(x.numpy(), tx.numpy())
            if bs is None:  # torch's default_convert leaves a Python int alone, as pycnn's does
                assert type(y) is type(ty) is int and y == ty
            else:
                np.testing.assert_array_equal(y.numpy(), ty.numpy())
