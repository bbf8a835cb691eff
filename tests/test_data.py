"""TensorDataset and DataLoader: batching, shuffling, drop_last, seeds, epoch coverage."""
import numpy as np
import pytest

import pycnn
from pycnn.data import DataLoader, Dataset, TensorDataset


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
