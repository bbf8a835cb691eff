"""DataLoader's torch options (collate_fn, sampler, batch_sampler, num_workers, worker_init_fn,
prefetch_factor, persistent_workers, pin_memory, timeout) and default_collate, against
torch.utils.data where torch is importable; worker processes (spawned) against num_workers=0,
and the ways a worker can fail: an exception, a death, a stall, an unpicklable dataset."""
import os
import time

import numpy as np
import pytest

import pycnn
from pycnn.utils.data import (BatchSampler, DataLoader, RandomSampler, SequentialSampler, SubsetRandomSampler,
                              TensorDataset, default_collate)

from dataloader_fixtures import *  # noqa: F401,F403  (workers unpickle them by that module name)
from dataloader_fixtures import XS, YS, Point  # noqa: F401


# ----------------------------------------------------------------------------- comparison helpers
def plain(obj):
    """A batch as nested Python containers of (numpy array, dtype name) leaves, for pycnn and torch alike."""
    if isinstance(obj, pycnn.Tensor):
        return ("T", obj.numpy().tolist(), str(obj.dtype).replace("torch.", ""))
    if type(obj).__module__.startswith("torch"):
        return ("T", obj.numpy().tolist(), str(obj.dtype).replace("torch.", ""))
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return (type(obj).__name__,) + tuple(plain(v) for v in obj)
    if isinstance(obj, (list, tuple)):
        return type(obj)(plain(v) for v in obj)
    return obj


def batches(loader):
    return [plain(b) for b in loader]


# ----------------------------------------------------------------------------- default_collate
SAMPLE_LISTS = {
    "tuples": [(XS[i], int(YS[i])) for i in range(4)],
    "lists": [[float(i), i, True] for i in range(3)],
    "dicts": [{"a": XS[i, 0], "b": {"c": i}} for i in range(3)],
    "numbers": [1.5, 2.5, -3.25],
    "ints": [3, 1, 4],
    "bools": [True, False],
    "float32 arrays": [XS[i].astype(np.float32) for i in range(3)],
    "int64 arrays": [YS[i:i + 2] for i in range(3)],
    "numpy scalars": [np.float64(0.5), np.float64(1.5)],
    "int scalars": [np.int64(2), np.int64(5)],
    "strings": ["a", "bc"],
    "namedtuples": [Point(XS[i, 0], i) for i in range(3)],
    "nested": [(XS[i], [i, {"k": float(i)}]) for i in range(3)],
}


@pytest.mark.parametrize("name", list(SAMPLE_LISTS))
def test_default_collate_matches_torch(name):
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate
    samples = SAMPLE_LISTS[name]
    assert plain(default_collate(samples)) == plain(torch_collate(samples))


def test_default_collate_of_tensors_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate
    ours = default_collate([(pycnn.tensor(XS[i]), pycnn.tensor(int(YS[i]))) for i in range(5)])
    theirs = torch_collate([(torch.tensor(XS[i]), torch.tensor(int(YS[i]))) for i in range(5)])
    assert plain(ours) == plain(theirs)
    assert isinstance(ours, list) and ours[0].shape == (5, 3, 4)


def test_default_collate_without_torch():
    """The rules themselves (no torch needed): stacking, dtypes, containers, errors."""
    out = default_collate([(XS[i], int(YS[i]), float(i), Point(i, "n")) for i in range(4)])
    assert isinstance(out, list) and len(out) == 4
    np.testing.assert_array_equal(out[0].numpy(), XS[:4])
    assert out[0].dtype == np.float64 and out[1].dtype == np.int64 and out[2].dtype == np.float64
    assert out[1].tolist() == YS[:4].tolist() and isinstance(out[3], Point) and out[3].y == ["n"] * 4
    d = default_collate([{"a": pycnn.tensor([1.0, float(i)])} for i in range(3)])
    assert d["a"].shape == (3, 2) and d["a"].dtype == np.float32
    with pytest.raises(RuntimeError, match="default_collate: each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(RuntimeError, match="default_collate: stack expects each tensor to be equal size"):
        default_collate([pycnn.zeros(2), pycnn.zeros(3)])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="default_collate: expected a non-empty list"):
        default_collate([])


# ----------------------------------------------------------------------------- options against torch
def _loader_pair(torch, **kw):
    return DataLoader(Pairs(), **kw), torch.utils.data.DataLoader(Pairs(), **kw)


SAMPLER_ORDER = RNG.permutation(23).tolist()
BATCHES = [[5, 1], [0, 22, 7, 3], [9], [4, 4, 11]]


@pytest.mark.parametrize("kw", [
    dict(batch_size=4),
    dict(batch_size=5, drop_last=True),
    dict(batch_size=23),
    dict(batch_size=30),
    dict(batch_size=3, sampler=SAMPLER_ORDER),
    dict(batch_size=4, sampler=SAMPLER_ORDER[:10], drop_last=True),
    dict(batch_sampler=BATCHES),
    dict(batch_size=4, collate_fn=pair_collate),
    dict(batch_sampler=BATCHES, collate_fn=pair_collate),
    dict(batch_size=6, pin_memory=True),
    dict(batch_size=6, shuffle=False, timeout=0),
], ids=lambda kw: ",".join(f"{k}" for k in kw))
@pytest.mark.filterwarnings("ignore:'pin_memory' argument")
def test_batches_match_torch(kw):
    torch = pytest.importorskip("torch")
    ours, theirs = _loader_pair(torch, **kw)
    assert len(ours) == len(theirs)
    assert batches(ours) == batches(theirs)


def test_dict_and_string_samples_match_torch():
    torch = pytest.importorskip("torch")

    class TorchRecords(Records):  # the same samples with torch tensors
        def __getitem__(self, i):
            r = super().__getitem__(i)
            r["x"] = torch.tensor(r["x"].numpy())
            return r

    ours = batches(DataLoader(Records(), batch_size=4))
    theirs = batches(torch.utils.data.DataLoader(TorchRecords(), batch_size=4))
    assert ours == theirs


def test_tensor_dataset_fast_path_matches_torch():
    torch = pytest.importorskip("torch")
    x, y = RNG.standard_normal((17, 2, 3)).astype(np.float32), RNG.integers(0, 5, 17)
    order = [i for i in SAMPLER_ORDER if i < 17]
    ours = DataLoader(TensorDataset(pycnn.tensor(x), pycnn.tensor(y)), batch_size=5, sampler=order)
    theirs = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)),
                                         batch_size=5, sampler=order)
    assert batches(ours) == batches(theirs)


def test_samplers_match_torch():
    torch = pytest.importorskip("torch")
    tud = torch.utils.data
    assert list(SequentialSampler(range(7))) == list(tud.SequentialSampler(range(7)))
    for bs, dl in ((3, False), (3, True), (7, False), (8, True)):
        ours, theirs = BatchSampler(SAMPLER_ORDER, bs, dl), tud.BatchSampler(SAMPLER_ORDER, bs, dl)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    # the random samplers draw from different generators: compare what they must agree on
    for kw in (dict(), dict(num_samples=50), dict(replacement=True, num_samples=9)):
        a, b = list(RandomSampler(range(20), **kw)), list(tud.RandomSampler(range(20), **kw))
        assert len(a) == len(b) == len(RandomSampler(range(20), **kw))
        assert all(0 <= i < 20 for i in a)
        if not kw.get("replacement"):  # whole permutations first, then part of one (torch's rule)
            for order in (a, b):
                for k in range(0, len(order) - 19, 20):
                    assert sorted(order[k:k + 20]) == list(range(20))
                assert len(set(order[len(order) // 20 * 20:])) == len(order) % 20
    assert sorted(SubsetRandomSampler([3, 9, 4])) == [3, 4, 9]


def test_shuffle_follows_the_seed_and_covers_the_epoch():
    a = batches(DataLoader(Pairs(), batch_size=4, shuffle=True, seed=11))
    b = batches(DataLoader(Pairs(), batch_size=4, shuffle=True, seed=11))
    c = batches(DataLoader(Pairs(), batch_size=4, shuffle=True, seed=12))
    assert a == b and a != c
    ys = [y for batch in a for y in batch[1][1]]
    assert sorted(ys) == sorted(YS.tolist()) and ys != YS.tolist()
    gen = DataLoader(Pairs(), batch_size=4, shuffle=True, generator=np.random.default_rng(11))
    assert batches(gen) == a  # generator= a numpy Generator: the same stream as seed=
    other = DataLoader(Pairs(), batch_size=4, shuffle=True, seed=99)
    other.generator = np.random.default_rng(11)  # replaced between epochs (pycnn train does): it is used
    assert batches(other) == a


@pytest.mark.parametrize("kw, message", [
    (dict(shuffle=True, sampler=[0, 1]), "sampler option is mutually exclusive with shuffle"),
    (dict(batch_size=2, batch_sampler=[[0]]), "batch_sampler option is mutually exclusive"),
    (dict(drop_last=True, batch_sampler=[[0]]), "batch_sampler option is mutually exclusive"),
    (dict(sampler=[0], batch_sampler=[[0]]), "batch_sampler option is mutually exclusive"),
    (dict(num_workers=-1), "num_workers option should be non-negative"),
    (dict(prefetch_factor=2), "prefetch_factor option could only be specified in multiprocessing"),
    (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
    (dict(timeout=-1), "timeout option should be non-negative"),
])
def test_bad_options_are_value_errors_as_in_torch(kw, message):
    with pytest.raises(ValueError, match=f"^DataLoader: {message}"):
        DataLoader(Pairs(), **kw)
    try:
        import torch
    except ImportError:
        return
    with pytest.raises(ValueError):
        torch.utils.data.DataLoader(Pairs(), **kw)


def test_bad_option_types():
    for kw in (dict(collate_fn="stack"), dict(worker_init_fn=3), dict(sampler=5), dict(num_workers=1.5),
               dict(generator=42), dict(multiprocessing_context=3)):
        with pytest.raises(TypeError, match="DataLoader"):
            DataLoader(Pairs(), **kw)
    with pytest.raises(ValueError, match="DataLoader: multiprocessing_context"):
        DataLoader(Pairs(), multiprocessing_context="teleport")
    with pytest.raises(ValueError, match="DataLoader: give seed or generator"):
        DataLoader(Pairs(), seed=1, generator=np.random.default_rng(1))


# ----------------------------------------------------------------------------- worker processes
def test_workers_give_num_workers_0s_batches_and_persist():
    """Shuffled, two epochs, persistent workers, prefetch_factor 1: the same batches in the same order."""
    kw = dict(batch_size=3, shuffle=True, seed=5)
    single = DataLoader(Pairs(), **kw)
    multi = DataLoader(Pairs(), num_workers=2, persistent_workers=True, prefetch_factor=1, **kw)
    for epoch in range(2):
        assert batches(multi) == batches(single), f"epoch {epoch}"
    pool = multi._pool
    assert pool is not None and len(pool.workers) == 2 and all(w.is_alive() for w in pool.workers)
    pids = [w.pid for w in pool.workers]
    half = iter(multi)
    next(half)  # an abandoned epoch: its in-flight batches must not leak into the next one
    del half
    next(iter(single))  # the abandoned epoch drew its permutation: so does single's
    assert batches(multi) == batches(single)
    assert [w.pid for w in multi._pool.workers] == pids  # the same processes served every epoch
    del multi
    time.sleep(0.2)
    assert not any(_alive(p) for p in pids)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie not yet reaped by multiprocessing counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return True


def test_workers_tensor_dataset_collate_fn_and_worker_info():
    """TensorDataset's fast path, a user collate_fn and worker_init_fn in workers; which worker
    fetched which batch (round robin) and the per-worker seeds."""
    x = pycnn.randn(20, 4)
    single = DataLoader(TensorDataset(x, pycnn.arange(20)), batch_size=6, sampler=[i for i in SAMPLER_ORDER if i < 20])
    multi = DataLoader(TensorDataset(x, pycnn.arange(20)), batch_size=6, sampler=[i for i in SAMPLER_ORDER if i < 20],
                       num_workers=2)
    assert batches(multi) == batches(single)
    xb, _ = next(iter(multi))  # a batch that crossed the process boundary feeds the C++ ops
    conv = pycnn.nn.Conv1d(1, 2, 3)
    rows = [i for i in SAMPLER_ORDER if i < 20][:6]
    np.testing.assert_allclose(conv(xb[:, None]).detach().numpy(), conv(x[rows][:, None]).detach().numpy(), rtol=1e-6)

    loader = DataLoader(WhoAmI(), batch_size=2, num_workers=2, worker_init_fn=init_marker,
                        collate_fn=lambda_free_collate)
    rows = np.concatenate([b for b in loader])
    assert rows[:, 0].tolist() == list(range(8))  # in order
    assert rows[:, 1].tolist() == [0, 0, 1, 1, 0, 0, 1, 1]  # batch k went to worker k % 2
    assert len(set(rows[:, 2].tolist())) == 2 and os.getpid() not in rows[:, 2]
    first_draw = {w: np.random.RandomState(1000 + w).randint(2**31) for w in (0, 1)}
    assert rows[0, 3] == first_draw[0] and rows[2, 3] == first_draw[1]  # worker_init_fn ran before fetching


def test_workers_with_get_batch_dataset_and_transform():
    """An ImageDataset (uint8, get_batch) with a random transform: the transform runs in the main
    process on the batches in order, so its draws, and the batches, equal num_workers=0's."""
    from pycnn import datasets, transforms as T
    images = (RNG.random((40, 1, 6, 5)) * 255).astype(np.uint8)
    ds = datasets.ImageDataset(images, RNG.integers(0, 3, 40), ["a", "b", "c"])
    a, b = (batches(DataLoader(ds, batch_size=16, shuffle=True, seed=3, num_workers=n,
                               transform=T.RandomHorizontalFlip(generator=9))) for n in (0, 2))
    assert a == b and len(a) == 3
    assert a[0][0][2] == "float32" and a[0][1][2] == "int64"  # uint8 pixels as float32 in [0, 1]
    flipped = np.asarray(a[0][0][1])
    assert 0 <= flipped.min() and flipped.max() <= 1


def test_worker_exception_reraised_with_its_traceback():
    loader = DataLoader(Failing(), batch_size=2, num_workers=2)
    it = iter(loader)
    got = [next(it), next(it), next(it)]  # batches 0-2 are fine
    assert [b.tolist() for b in got] == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    with pytest.raises(ValueError) as info:
        next(it)
    text = str(info.value)
    assert "Caught ValueError in DataLoader worker process 1" in text
    assert "sample 6 is corrupt" in text and "in __getitem__" in text  # the worker's own traceback
    with pytest.raises(StopIteration):
        next(it)


def test_killed_worker_is_a_runtime_error_not_a_hang():
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+ \(exit code -9\)\) exited unexpectedly"):
        list(DataLoader(Dying(), batch_size=2, num_workers=1))
    assert time.monotonic() - t0 < 25


def test_stalled_worker_times_out():
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="DataLoader timed out after 1.5 seconds"):
        list(DataLoader(Stalling(), batch_size=2, num_workers=1, timeout=1.5))
    assert time.monotonic() - t0 < 20


def test_unpicklable_dataset_or_function_is_a_clear_error():
    class Local(Pairs):  # defined in a function: spawn cannot pickle it
        pass

    with pytest.raises(TypeError, match=r"DataLoader: num_workers=2 starts worker processes with the 'spawn' "
                                        r"method.*the dataset \(Local\) cannot be pickled"):
        list(DataLoader(Local(), num_workers=2))
    with pytest.raises(TypeError, match=r"the collate_fn \(function\) cannot be pickled"):
        list(DataLoader(Pairs(), num_workers=2, collate_fn=lambda s: s))
    assert len(list(DataLoader(Local(), batch_size=5))) == 5  # fine without workers


def test_unsendable_results_are_errors_not_hangs():
    t0 = time.monotonic()
    with pytest.raises(Exception, match="(?s)worker's result could not be pickled to send it back.*lambda"):
        list(DataLoader(Awkward(), batch_size=1, sampler=[0, 1], collate_fn=as_list, num_workers=1))
    with pytest.raises(RuntimeError, match="(?s)Caught Oops in DataLoader worker process 0.*a local exception class"):
        list(DataLoader(Awkward(), batch_size=1, sampler=[2], collate_fn=as_list, num_workers=1))
    assert time.monotonic() - t0 < 30
