"""pycnn.distributed, nn.parallel.DistributedDataParallel and data.DistributedSampler.

The multi-process checks run tests/mpi_scripts/ddp_checks.py under `mpiexec -n 2` (and once
`-n 4`) in subprocesses with timeouts; the script measures and prints JSON, the assertions are
here.  They need the optional extra (pip install ".[mpi]": mpi4py and the mpich wheel's mpiexec)
and are skipped with that reason without it.  The sampler tests run in this process.
"""
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import pycnn
import pycnn.distributed as dist
from pycnn import nn, optim
from pycnn.data import DataLoader, DistributedSampler, Sampler, TensorDataset
from pycnn.train import Trainer

HERE = os.path.dirname(__file__)
SCRIPT = os.path.join(HERE, "mpi_scripts", "ddp_checks.py")


def _mpiexec():
    """The mpiexec next to this interpreter (the mpich wheel's), else one on PATH."""
    local = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return local if os.access(local, os.X_OK) else shutil.which("mpiexec")


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(
    not dist.is_available() or MPIEXEC is None,
    reason="needs the mpi extra: pip install \".[mpi]\" (mpi4py and the mpich wheel's mpiexec)"
    + ("" if dist.is_available() else "; mpi4py is missing") + ("" if MPIEXEC else "; mpiexec is missing"))


def _env():
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"  # n ranks on this machine's cores
    env.pop(dist._ENV_TIMEOUT, None)
    return env


def _run(args, n=2, timeout=120, mpi=True):
    cmd = ([MPIEXEC, "-n", str(n)] if mpi else []) + [sys.executable] + args
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(), cwd=HERE)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{' '.join(cmd)} hung for {timeout} s:\n{e.stdout}\n{e.stderr}")
    return proc, time.perf_counter() - start


def _results(proc):
    out = {}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            r = json.loads(line[len("RESULT "):])
            out[r.pop("check")] = r
    assert proc.returncode == 0 and "done" in out, f"rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return out


@pytest.fixture(scope="module")
def two_ranks():
    """One mpiexec -n 2 run of every check that completes normally."""
    proc, _ = _run([SCRIPT, "equivalence_float64", "equivalence_float32", "pipeline", "no_sync", "unused", "cuda",
                    "arguments", "mismatch", "buffers", "collectives", "sampler"])
    return _results(proc)


# ----------------------------------------------------------------------------- DDP == one process
def _check_equivalence(r, world, rtol):
    assert r["world"] == world
    np.testing.assert_allclose(r["losses"], r["ref_losses"], rtol=rtol, atol=0)
    assert r["weights_rel"] < rtol, r
    assert r["ranks_rel"] <= rtol / 100, r      # every rank took the same steps
    assert r["moved_rel"] > 0.01, r              # the steps changed the weights (the test can fail)
    assert r["reduce_calls"] == (4 if world > 1 else 0)


@needs_mpi
def test_ddp_two_ranks_equal_one_process_float64(two_ranks):
    r = two_ranks["equivalence_float64"]
    _check_equivalence(r, 2, 1e-12)
    assert len(r["buckets"]) >= 2 and sum(r["buckets"]) == 4 * 2 * 9 + 4 + 16 * 64 + 16 + 5 * 16 + 5


@needs_mpi
def test_ddp_two_ranks_equal_one_process_float32(two_ranks):
    _check_equivalence(two_ranks["equivalence_float32"], 2, 2e-5)


def _check_pipeline(r, world):
    assert r["world"] == world and r["reduce_calls"] == r["steps"] == 2 * ((100 // world) // 4)
    np.testing.assert_allclose(r["losses"], r["ref_losses"], rtol=1e-12)
    assert r["accs"] == r["ref_accs"]
    assert r["weights_rel"] < 1e-12 and r["moved_rel"] > 0.01, r


@needs_mpi
def test_sampler_loader_ddp_trainer_equal_one_process(two_ranks):
    _check_pipeline(two_ranks["pipeline"], 2)


@needs_mpi
def test_ddp_four_ranks_equal_one_process_float64():
    proc, _ = _run([SCRIPT, "equivalence_float64", "pipeline"], n=4)
    results = _results(proc)
    _check_equivalence(results["equivalence_float64"], 4, 1e-12)
    _check_pipeline(results["pipeline"], 4)


@needs_mpi
def test_ddp_single_process_without_mpiexec():
    proc, _ = _run([SCRIPT, "equivalence_float64"], mpi=False)
    _check_equivalence(_results(proc)["equivalence_float64"], 1, 1e-12)


@needs_mpi
def test_no_sync_accumulates_locally_then_reduces_the_sum(two_ranks):
    r = two_ranks["no_sync"]
    assert r["reduce_calls"] == 1
    assert r["local_rel"] < 1e-14          # inside no_sync each rank keeps its own grads ...
    assert r["local_ranks_rel"] > 1e-3     # ... which differ between ranks
    assert r["synced_rel"] < 1e-12         # then the mean of the accumulated sums = one process's
    assert r["synced_ranks_rel"] < 1e-15


@needs_mpi
def test_parameters_without_grads_on_some_ranks(two_ranks):
    r = two_ranks["unused"]
    # head_c is used nowhere: None everywhere, as in one process; head_b only on rank 1: its grad
    # counts as zero on rank 0, so both ranks get rank 1's grad / world_size
    assert r["none"] == [["head_c.weight", "head_c.bias"]] * 2
    assert r["b_rel"] < 1e-14


@needs_mpi
def test_ddp_on_the_cuda_device(two_ranks):
    r = two_ranks["cuda"]
    if not r["available"]:
        pytest.skip(f"no CUDA device: {r['reason']}")
    assert r["devices"] == ["cuda:0"]
    assert r["rel"] < 1e-5


# ----------------------------------------------------------------------------- wrap-time checks
@needs_mpi
def test_mismatched_models_raise_on_every_rank(two_ranks):
    messages = two_ranks["mismatch"]["messages"]
    assert len(messages) == 2
    for shape_message, count_message in messages:
        assert shape_message is not None and count_message is not None
        assert "differs between ranks" in shape_message
        assert "rank 1 has parameter '2.weight' of shape (7, 8)" in shape_message
        assert "rank 0 has parameter '2.weight' of shape (6, 8)" in shape_message
        assert "rank 1 has 4 parameters and buffers where rank 0 has 2" in count_message


@needs_mpi
def test_ddp_argument_errors(two_ranks):
    errors = two_ranks["arguments"]["errors"]
    assert errors[0].startswith("ValueError: DistributedDataParallel: device_ids must be None or name the one "
                                "device the module is on (cpu), got [0]")
    assert errors[1].startswith("ValueError: DistributedDataParallel: output_device must be None")
    assert errors[2] == "ValueError: DistributedDataParallel: only dim=0 (the batch dimension) is supported, got 1"
    assert errors[3] == "ValueError: DistributedDataParallel: bucket_cap_mb must be > 0, got 0"
    assert errors[4] == "TypeError: DistributedDataParallel: module must be an nn.Module, got str"
    assert errors[5].startswith("RuntimeError: DistributedDataParallel: forward needs a floating-point Tensor")
    assert errors[6] is None  # naming the CPU device it is on is fine


@needs_mpi
def test_parameters_and_buffers_come_from_rank_0(two_ranks):
    r = two_ranks["buffers"]
    for key in ("0.weight", "4.weight", "1.running_mean", "1.running_var", "1.num_batches_tracked"):
        assert r["before"][key] > 0, key   # the ranks started different
    assert all(v == 0 for v in r["at_wrap"].values()), r["at_wrap"]
    assert r["rank0_kept"] == 0
    # a train-mode forward moves each rank's running stats with its own batch ...
    assert r["after_step"]["1.running_mean"] > 0 and r["after_step"]["1.running_var"] > 0
    assert r["after_step"]["0.weight"] == 0
    # ... and the next forward starts from rank 0's
    assert all(v == 0 for v in r["after_eval"].values()), r["after_eval"]


# ----------------------------------------------------------------------------- collectives
@needs_mpi
def test_collectives_on_two_ranks(two_ranks):
    r = two_ranks["collectives"]
    base = np.arange(6).reshape(2, 3)
    expect = {"sum": base * 1 + 0 + base * 2 + 1, "max": np.maximum(base * 1, base * 2 - 10)}
    for rank_out in r["ranks"]:
        for dtype in ("float32", "float64", "int64"):
            np.testing.assert_array_equal(rank_out[f"sum_{dtype}"], expect["sum"])
            np.testing.assert_array_equal(rank_out[f"max_{dtype}"], expect["max"])
        np.testing.assert_allclose(rank_out["avg"], [1.5, 3.0, 4.5], rtol=1e-15)
        np.testing.assert_array_equal(rank_out["sum_view"], np.ones((2, 2)))
        np.testing.assert_array_equal(rank_out["broadcast"], [8.0] * 3)      # from rank 1: 7 * 1 + 1
        assert rank_out["all_gather"] == [[0, 0], [1, 1]]
        if "cuda_sum" in rank_out:                                          # staged through the host
            assert rank_out["cuda_sum"] == [3.0, 6.0] and rank_out["cuda_device"].startswith("cuda")
        errs = rank_out["errors"]
        assert errs[0].startswith("TypeError: all_reduce: expected a Tensor")
        assert errs[1] == "ValueError: broadcast: src must be a rank in [0, 2), got 2"
        assert errs[2].startswith("ValueError: all_gather: tensor_list must be a list of world_size=2")
        assert errs[3].startswith("ValueError: all_reduce: unknown op 'mean'")


@needs_mpi
def test_sampler_shards_under_mpi_cover_the_dataset(two_ranks):
    r = two_ranks["sampler"]
    n, (rank0, rank1) = r["n"], r["ranks"]
    for e in range(2):
        a, b = rank0[e], rank1[e]
        assert a["loaded"] == a["indices"] and b["loaded"] == b["indices"]  # DataLoader follows the sampler
        assert a["len"] == b["len"] == 6 and a["batches"] == 3
        both = sorted(a["indices"] + b["indices"])
        assert set(both) == set(range(n)) and len(both) == 12          # every index, one padded repeat
    assert rank0[0]["indices"] != rank0[1]["indices"]                     # set_epoch reshuffles


# ----------------------------------------------------------------------------- faults
@needs_mpi
def test_a_rank_that_raises_stops_the_job():
    proc, seconds = _run([SCRIPT, "raise"], timeout=60)
    assert proc.returncode != 0
    assert "rank 1 raised; aborting every rank" in proc.stderr and "rank 1 fails on purpose" in proc.stderr
    assert "UNREACHABLE" not in proc.stdout
    assert seconds < 30, seconds


@needs_mpi
def test_a_rank_that_leaves_is_caught_by_the_timeout():
    proc, seconds = _run([SCRIPT, "--timeout=2", "quiet_exit"], timeout=60)
    assert proc.returncode != 0
    assert "all_reduce of 3 float32 elements did not complete within 2 s" in proc.stderr, proc.stderr
    assert "UNREACHABLE" not in proc.stdout
    assert seconds < 30, seconds


@needs_mpi
def test_a_rank_that_dies_stops_the_job():
    proc, seconds = _run([SCRIPT, "killed"], timeout=60)
    assert proc.returncode != 0
    assert "UNREACHABLE" not in proc.stdout
    assert seconds < 30, seconds


def test_collectives_before_init_raise():
    if dist.is_initialized():
        pytest.skip("this process joined an MPI job")
    with pytest.raises(RuntimeError, match=r"not initialized; call pycnn.distributed.init\(\)"):
        dist.rank()
    with pytest.raises(RuntimeError, match="not initialized"):
        dist.all_reduce(pycnn.ones(2))
    with pytest.raises(ValueError, match="backend 'nccl' is not supported"):
        dist.init_process_group("nccl")


# ----------------------------------------------------------------------------- pycnn train --distributed
@needs_mpi
def test_cli_train_distributed_two_ranks_equal_one_process(tmp_path):
    common = ["-m", "pycnn", "train", "--distributed", "--epochs", "2", "--train-limit", "320", "--test-limit", "100"]
    two, _ = _run(common + ["--batch-size", "8", "--save", str(tmp_path / "two.npz")], timeout=180)
    one, _ = _run(common + ["--batch-size", "16", "--save", str(tmp_path / "one.npz")], timeout=180, mpi=False)
    assert two.returncode == 0 and one.returncode == 0, two.stderr + one.stderr
    assert two.stdout.count("final test accuracy") == 1                   # rank 0 alone prints
    assert "2 ranks x batch 8 = global batch 16" in two.stdout
    for e in ("epoch 1/2", "epoch 2/2"):  # the global train loss and accuracy, and the test figures
        lines = [next(ln for ln in p.stdout.splitlines() if ln.startswith(e)).split("|") for p in (two, one)]
        assert lines[0][0] == lines[1][0] and lines[0][2] == lines[1][2], lines
    a, b = pycnn.load(str(tmp_path / "two.npz")), pycnn.load(str(tmp_path / "one.npz"))
    assert sorted(a) == sorted(b) and not any(k.startswith("module.") for k in a)
    for k in a:  # float32 over 40 steps: the same trajectory up to rounding (measured: 1.5e-8)
        np.testing.assert_allclose(np.asarray(a[k]), np.asarray(b[k]), rtol=0, atol=1e-6, err_msg=k)


# ----------------------------------------------------------------------------- DistributedSampler
CASES = [(n, r, d) for n in (0, 1, 3, 7, 10, 16, 23) for r in (1, 2, 3, 4, 8) for d in (False, True)]


def test_distributed_sampler_matches_torch_indices():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DistributedSampler as TorchSampler
    for n, replicas, drop_last in CASES:
        for rank in range(replicas):
            theirs = TorchSampler(range(n), num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
            ours = DistributedSampler(range(n), num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
            assert list(ours) == list(theirs), (n, replicas, rank, drop_last)
            assert len(ours) == len(theirs)
            # shuffled: torch pads and strides positions of its permutation in the same way; ours is
            # numpy's default_rng(seed + epoch) permutation (torch's generator cannot be reproduced)
            ours_s = DistributedSampler(range(n), num_replicas=replicas, rank=rank, seed=5, drop_last=drop_last)
            ours_s.set_epoch(3)
            perm = np.random.default_rng(8).permutation(n)
            assert list(ours_s) == [int(perm[i]) for i in theirs], (n, replicas, rank, drop_last)
    assert torch is not None


@pytest.mark.parametrize("n,replicas,drop_last", CASES)
def test_distributed_sampler_partitions(n, replicas, drop_last):
    shards = [list(DistributedSampler(range(n), replicas, rank, seed=11, drop_last=drop_last))
              for rank in range(replicas)]
    sizes = {len(s) for s in shards}
    assert len(sizes) == 1                                   # equal shards: the ranks step in lockstep
    everything = [i for s in shards for i in s]
    if drop_last:
        assert len(everything) == len(set(everything)) == (n // replicas) * replicas
    else:
        assert set(everything) == set(range(n)) and len(everything) == -(-n // replicas) * replicas
    assert all(0 <= i < n for i in everything)


def test_distributed_sampler_epochs_and_errors():
    s = DistributedSampler(range(50), num_replicas=2, rank=1, seed=3)
    first = list(s)
    assert list(s) == first                                  # the same epoch, the same order
    s.set_epoch(1)
    assert list(s) != first and sorted(set(list(s))) != []
    assert isinstance(s, Sampler)
    with pytest.raises(ValueError, match=r"invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be >= 1"):
        DistributedSampler(range(4), num_replicas=0, rank=0)
    data = TensorDataset(pycnn.arange(6))
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(data, batch_size=2, shuffle=True, sampler=s)


def test_dataloader_follows_its_sampler_and_trainer_sets_epochs():
    class Recorder(Sampler):
        def __init__(self, order):
            self.order, self.epochs = order, []

        def set_epoch(self, e):
            self.epochs.append(e)

        def __iter__(self):
            return iter(self.order)

        def __len__(self):
            return len(self.order)

    g = np.random.default_rng(0)
    x, y = pycnn.tensor(g.standard_normal((5, 3)).astype(np.float32)), pycnn.tensor(g.integers(0, 2, 5))
    sampler = Recorder([4, 0, 3])
    loader = DataLoader(TensorDataset(x, y), batch_size=2, sampler=sampler)
    assert len(loader) == 2
    batches = list(loader)
    np.testing.assert_array_equal(batches[0][0].numpy(), x.numpy()[[4, 0]])
    np.testing.assert_array_equal(batches[1][1].numpy(), y.numpy()[[3]])
    model = nn.Linear(3, 2)
    Trainer(model, optim.SGD(model.parameters(), lr=0.1), verbose=False).fit(loader, epochs=3)
    assert sampler.epochs == [0, 1, 2]
