"""Run under mpiexec by tests/test_distributed.py: `mpiexec -n N python ddp_checks.py CHECK...`.

Each check measures and rank 0 prints one line `RESULT {"check": ..., ...}` (JSON); the test
makes the assertions.  Rank 0 also computes the one-process references (a plain model on the
concatenation of every rank's batch).
"""
import json
import sys

import numpy as np

import pycnn
import pycnn.distributed as dist
from pycnn import nn, optim
from pycnn.data import DataLoader, DistributedSampler, TensorDataset
from pycnn.nn.parallel import DistributedDataParallel

F = nn.functional


def emit(check, **fields):
    if dist.rank() == 0:
        print("RESULT " + json.dumps({"check": check, **fields}), flush=True)


def small_net(dtype, seed, classes=5):
    pycnn.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(4 * 4 * 4, 16), nn.ReLU(), nn.Linear(16, classes))
    return net.to(dtype=dtype)


def global_batches(dtype, steps, batch, classes=5):
    """The same (steps, R * batch) data on every rank (one shared seed)."""
    g = np.random.default_rng(1234)
    n = dist.world_size() * batch
    x = g.standard_normal((steps, n, 2, 8, 8)).astype(dtype)
    y = g.integers(0, classes, size=(steps, n))
    return x, y


def params_of(model):
    return [p.detach()._host().astype(np.float64).copy() for p in model.parameters()]


def host_state(model):
    """A snapshot: numpy copies of the state_dict (whose Tensors share the model's storage)."""
    return {k: np.array(v._host() if hasattr(v, "_host") else v, copy=True) for k, v in model.state_dict().items()}


def max_rel(a_list, b_list):
    return max(float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-300)) for a, b in zip(a_list, b_list))


def check_equivalence(dtype_name, steps=4, batch=3):
    """R ranks x batch B with DDP == one process on the R*B batch: per-step loss and final weights."""
    dtype = np.dtype(dtype_name)
    r, world = dist.rank(), dist.world_size()
    model = small_net(dtype_name, seed=10 + r)  # different on each rank: DDP takes rank 0's
    ddp = DistributedDataParallel(model, bucket_cap_mb=0.001)  # ~1 KiB buckets: several messages
    opt = optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    x, y = global_batches(dtype, steps, batch)
    losses = []
    for k in range(steps):
        xs = pycnn.tensor(x[k, r * batch:(r + 1) * batch], dtype=dtype_name)
        ys = pycnn.tensor(y[k, r * batch:(r + 1) * batch])
        opt.zero_grad()
        loss = F.cross_entropy(ddp(xs), ys)
        loss.backward()
        opt.step()
        global_loss = pycnn.tensor(loss.item(), dtype=dtype_name)
        dist.all_reduce(global_loss, dist.ReduceOp.AVG)
        losses.append(global_loss.item())
    mine = params_of(model)
    every = dist.all_gather_object(mine)
    if r != 0:
        return
    ref = small_net(dtype_name, seed=10)
    ropt = optim.SGD(ref.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    ref_losses = []
    for k in range(steps):
        ropt.zero_grad()
        loss = F.cross_entropy(ref(pycnn.tensor(x[k], dtype=dtype_name)), pycnn.tensor(y[k]))
        loss.backward()
        ropt.step()
        ref_losses.append(loss.item())
    ref_params = params_of(ref)
    emit(f"equivalence_{dtype_name}", world=world, losses=losses, ref_losses=ref_losses,
         weights_rel=max_rel(mine, ref_params),
         ranks_rel=max(max_rel(e, mine) for e in every),
         moved_rel=max_rel(params_of(small_net(dtype_name, seed=10)), ref_params),
         buckets=ddp.bucket_sizes, reduce_calls=ddp.reduce_calls)


def check_pipeline(n=100, batch=4, epochs=2):
    """What `pycnn train --distributed` does: DistributedSampler + DataLoader(drop_last) + DDP +
    Trainer (set_epoch, metrics summed over the ranks), against one process whose batch is R * B."""
    from pycnn.train import Trainer
    r, world = dist.rank(), dist.world_size()
    g = np.random.default_rng(5)
    data = TensorDataset(pycnn.tensor(g.standard_normal((n, 2, 8, 8))), pycnn.tensor(g.integers(0, 5, n)))
    model = small_net("float64", seed=20 + r)
    ddp = DistributedDataParallel(model)
    loader = DataLoader(data, batch_size=batch, drop_last=True, sampler=DistributedSampler(data, seed=9))
    history = Trainer(ddp, optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9), verbose=False).fit(loader, epochs)
    mine = params_of(model)
    if r != 0:
        return
    ref = small_net("float64", seed=20)
    ref_loader = DataLoader(data, batch_size=batch * world, drop_last=True,
                            sampler=DistributedSampler(data, num_replicas=1, rank=0, seed=9))
    ref_history = Trainer(ref, optim.SGD(ref.parameters(), lr=0.1, momentum=0.9), verbose=False).fit(ref_loader, epochs)
    emit("pipeline", world=world, steps=len(loader) * epochs, reduce_calls=ddp.reduce_calls,
         losses=[h["train_loss"] for h in history], ref_losses=[h["train_loss"] for h in ref_history],
         accs=[h["train_acc"] for h in history], ref_accs=[h["train_acc"] for h in ref_history],
         weights_rel=max_rel(mine, params_of(ref)), moved_rel=max_rel(params_of(small_net("float64", seed=20)),
                                                                     params_of(ref)))


def check_no_sync(batch=2):
    """Two micro-batches under no_sync (local grads), a third synced: the averaged sum of all
    three equals one process's accumulated grads on the concatenated micro-batches."""
    r, world = dist.rank(), dist.world_size()
    model = small_net("float64", seed=3)
    ddp = DistributedDataParallel(model)
    x, y = global_batches(np.float64, 3, batch)
    local_after_no_sync = None
    for k in range(3):
        xs, ys = pycnn.tensor(x[k, r * batch:(r + 1) * batch]), pycnn.tensor(y[k, r * batch:(r + 1) * batch])
        if k < 2:
            with ddp.no_sync():
                F.cross_entropy(ddp(xs), ys).backward()
        else:
            F.cross_entropy(ddp(xs), ys).backward()
        if k == 1:
            local_after_no_sync = [p.grad._host().copy() for p in model.parameters()]
    synced = [p.grad._host().copy() for p in model.parameters()]
    every_local = dist.all_gather_object(local_after_no_sync)
    every_synced = dist.all_gather_object(synced)
    if r != 0:
        return
    # rank 0's own grads after the two local micro-batches, without any communication
    solo = small_net("float64", seed=3)
    for k in range(2):
        F.cross_entropy(solo(pycnn.tensor(x[k, :batch])), pycnn.tensor(y[k, :batch])).backward()
    ref = small_net("float64", seed=3)
    for k in range(3):
        F.cross_entropy(ref(pycnn.tensor(x[k])), pycnn.tensor(y[k])).backward()
    emit("no_sync", world=world, reduce_calls=ddp.reduce_calls,
         local_rel=max_rel(local_after_no_sync, [p.grad._host() for p in solo.parameters()]),
         local_ranks_rel=max(max_rel(e, every_local[0]) for e in every_local[1:]),
         synced_rel=max_rel(synced, [p.grad._host() for p in ref.parameters()]),
         synced_ranks_rel=max(max_rel(e, synced) for e in every_synced))


class TwoHeads(nn.Module):
    """head_b is used on rank 1 only, head_c never: grads that some or no ranks produce."""

    def __init__(self):
        super().__init__()
        self.body = nn.Linear(3, 4)
        self.head_a, self.head_b, self.head_c = nn.Linear(4, 2), nn.Linear(4, 2), nn.Linear(4, 2)

    def forward(self, x, use_b):
        h = self.body(x).relu()
        return self.head_a(h) + (self.head_b(h) if use_b else 0)


def check_unused():
    r = dist.rank()
    model = TwoHeads().to(dtype="float64")
    ddp = DistributedDataParallel(model, find_unused_parameters=True)
    x = pycnn.tensor(np.random.default_rng(r).standard_normal((5, 3)))
    ddp(x, r == 1).sum().backward()
    grads = {n: (None if p.grad is None else p.grad._host().copy()) for n, p in model.named_parameters()}
    every = dist.all_gather_object(grads)
    if r != 0:
        return
    local_b = TwoHeads().to(dtype="float64")
    local_b.load_state_dict(model.state_dict())
    local_b(pycnn.tensor(np.random.default_rng(1).standard_normal((5, 3))), True).sum().backward()
    world = dist.world_size()
    emit("unused", world=world,
         none=[[n for n, g in e.items() if g is None] for e in every],
         b_rel=max(max_rel([e["head_b.weight"], e["head_b.bias"]],
                           [local_b.head_b.weight.grad._host() / world, local_b.head_b.bias.grad._host() / world])
                   for e in every))


def check_cuda():
    """The model on the CUDA device (a GPU or the emulated one): grads staged through the host
    and back, equal to the host model's on the concatenated batch."""
    if not pycnn.cuda.is_available():
        emit("cuda", available=False, reason=pycnn.cuda.unavailable_reason())
        return
    r, batch = dist.rank(), 2
    model = small_net("float32", seed=4).to("cuda")
    ddp = DistributedDataParallel(model)
    x, y = global_batches(np.float32, 1, batch)
    xs = pycnn.tensor(x[0, r * batch:(r + 1) * batch], device="cuda")
    F.cross_entropy(ddp(xs), pycnn.tensor(y[0, r * batch:(r + 1) * batch], device="cuda")).backward()
    grads = [p.grad.cpu().numpy().copy() for p in model.parameters()]
    devices = sorted({str(p.grad.device) for p in model.parameters()})
    if r != 0:
        return
    ref = small_net("float32", seed=4)
    F.cross_entropy(ref(pycnn.tensor(x[0])), pycnn.tensor(y[0])).backward()
    emit("cuda", available=True, devices=devices,
         rel=max_rel([g.astype(np.float64) for g in grads],
                     [p.grad._host().astype(np.float64) for p in ref.parameters()]))


def check_mismatch():
    """Rank 1 (and 3) build another model: every rank must raise the same clear error."""
    r = dist.rank()
    outs = 6 if r % 2 == 0 else 7
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, outs))
    try:
        DistributedDataParallel(model)
        message = None
    except RuntimeError as e:
        message = str(e)
    extra = nn.Sequential(nn.Linear(4, 8)) if r == 0 else nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 8))
    try:
        DistributedDataParallel(extra)
        count_message = None
    except RuntimeError as e:
        count_message = str(e)
    every = dist.all_gather_object([message, count_message])
    emit("mismatch", messages=every)


def check_arguments():
    """DistributedDataParallel's argument errors (the same on every rank: no collective is left
    half-done)."""
    errors = []
    calls = [lambda: DistributedDataParallel(nn.Linear(2, 2), device_ids=[0]),
             lambda: DistributedDataParallel(nn.Linear(2, 2), output_device="cuda:0"),
             lambda: DistributedDataParallel(nn.Linear(2, 2), dim=1),
             lambda: DistributedDataParallel(nn.Linear(2, 2), bucket_cap_mb=0),
             lambda: DistributedDataParallel("not a module"),
             lambda: DistributedDataParallel(nn.Linear(2, 2))(pycnn.tensor([[1, 2]])),
             lambda: DistributedDataParallel(nn.Linear(2, 2), device_ids=["cpu"], output_device="cpu")]
    for call in calls:
        try:
            call()
            errors.append(None)
        except (TypeError, ValueError, RuntimeError) as e:
            errors.append(f"{type(e).__name__}: {e}")
    emit("arguments", errors=errors)


def check_buffers():
    """BatchNorm running stats: rank 0's at wrap time and at each forward; parameters too."""
    r = dist.rank()
    pycnn.manual_seed(100 + r)
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 4))
    model = model.to(dtype="float64")
    bn = model[1]
    g = np.random.default_rng(r)
    bn.running_mean._copy_from_host(g.standard_normal(3))
    bn.running_var._copy_from_host(g.random(3) + 0.5)
    bn.num_batches_tracked._copy_from_host(np.array(5 + r))
    before = host_state(model)
    ddp = DistributedDataParallel(model)
    at_wrap = host_state(model)
    x = pycnn.tensor(g.standard_normal((4, 2, 8, 8)))
    ddp(x).sum().backward()  # train mode: each rank's stats move with its own batch
    after_step = host_state(model)
    ddp.eval()
    with pycnn.no_grad():
        ddp(x)  # eval: no update, but the forward takes rank 0's buffers
    after_eval = host_state(model)
    every = dist.all_gather_object([before, at_wrap, after_step, after_eval])
    if r != 0:
        return

    def spread(i, key):  # max |rank r - rank 0| over the ranks
        return max(float(np.max(np.abs(np.asarray(e[i][key], np.float64) - np.asarray(every[0][i][key], np.float64))))
                   for e in every[1:])
    keys = list(before)
    emit("buffers", keys=keys,
         before={k: spread(0, k) for k in keys}, at_wrap={k: spread(1, k) for k in keys},
         after_step={k: spread(2, k) for k in keys}, after_eval={k: spread(3, k) for k in keys},
         rank0_kept=max(float(np.max(np.abs(np.asarray(at_wrap[k], np.float64) - before[k]))) for k in keys))


def check_collectives():
    r, world = dist.rank(), dist.world_size()
    out = {}
    for dtype in ("float32", "float64", "int64"):
        t = pycnn.tensor(np.arange(6).reshape(2, 3) * (r + 1) + r, dtype=dtype)
        dist.all_reduce(t)
        out[f"sum_{dtype}"] = t.tolist()
        t = pycnn.tensor(np.arange(6).reshape(2, 3) * (r + 1) - 10 * r, dtype=dtype)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        out[f"max_{dtype}"] = t.tolist()
    t = pycnn.tensor([1.0, 2.0, 3.0], dtype="float64") * (r + 1)
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    out["avg"] = t.tolist()
    t = pycnn.tensor([float(r)] * 4).reshape(2, 2).transpose(0, 1)  # a non-contiguous view
    dist.all_reduce(t)
    out["sum_view"] = t.tolist()
    b = pycnn.tensor(np.full(3, 7.0 * r + 1))
    dist.broadcast(b, src=world - 1)
    out["broadcast"] = b.tolist()
    parts = [pycnn.zeros(2, dtype="int64") for _ in range(world)]
    dist.all_gather(parts, pycnn.tensor([r, r * r]))
    out["all_gather"] = [p.tolist() for p in parts]
    if pycnn.cuda.is_available():
        c = pycnn.tensor([1.0, 2.0], device="cuda") * (r + 1)
        dist.all_reduce(c)
        out["cuda_sum"] = c.cpu().tolist()
        out["cuda_device"] = str(c.device)
    dist.barrier()
    errors = []
    for call in (lambda: dist.all_reduce(np.ones(2)), lambda: dist.broadcast(pycnn.ones(2), src=world),
                 lambda: dist.all_gather([pycnn.ones(2)], pycnn.ones(2)) if world > 1 else None,
                 lambda: dist.all_reduce(pycnn.ones(2), op="mean")):
        try:
            call()
            errors.append(None)
        except (TypeError, ValueError) as e:
            errors.append(f"{type(e).__name__}: {e}")
    out["errors"] = errors
    every = dist.all_gather_object(out)
    emit("collectives", world=world, ranks=every)


def check_sampler(n=11, batch=2):
    """DistributedSampler's defaults come from the world; DataLoader(sampler=) shards by it."""
    r, world = dist.rank(), dist.world_size()
    data = TensorDataset(pycnn.arange(n), pycnn.arange(n) * 10)
    epochs = []
    for epoch in range(2):
        sampler = DistributedSampler(data, seed=7)
        sampler.set_epoch(epoch)
        loader = DataLoader(data, batch_size=batch, sampler=sampler)
        seen = [int(v) for xb, _ in loader for v in xb.tolist()]
        epochs.append({"indices": list(sampler), "loaded": seen, "len": len(sampler), "batches": len(loader)})
    every = dist.all_gather_object(epochs)
    emit("sampler", world=world, n=n, ranks=every)


def check_raise():
    """Rank 1 raises while rank 0 waits in a collective: the job must stop (MPI_Abort)."""
    if dist.rank() == 1:
        raise ValueError("rank 1 fails on purpose")
    dist.all_reduce(pycnn.ones(3))
    print("UNREACHABLE: rank 0 finished its all_reduce", flush=True)


def check_quiet_exit():
    """Rank 1 leaves without an error (its MPI_Finalize then waits for rank 0, and mpiexec waits
    for both); rank 0's collective runs into the watchdog's timeout."""
    if dist.rank() == 1:
        sys.exit(0)
    dist.all_reduce(pycnn.ones(3))
    print("UNREACHABLE: rank 0 finished its all_reduce", flush=True)


def check_killed():
    """Rank 1 dies by SIGKILL (an out-of-memory kill, a crash): mpiexec stops the others."""
    if dist.rank() == 1:
        import os
        import signal
        os.kill(os.getpid(), signal.SIGKILL)
    dist.all_reduce(pycnn.ones(3))
    print("UNREACHABLE: rank 0 finished its all_reduce", flush=True)


CHECKS = {"equivalence_float64": lambda: check_equivalence("float64"),
          "equivalence_float32": lambda: check_equivalence("float32"),
          "pipeline": check_pipeline, "no_sync": check_no_sync, "unused": check_unused, "cuda": check_cuda,
          "arguments": check_arguments, "mismatch": check_mismatch, "buffers": check_buffers,
          "collectives": check_collectives, "sampler": check_sampler, "raise": check_raise,
          "quiet_exit": check_quiet_exit, "killed": check_killed}

if __name__ == "__main__":
    timeout = None
    if sys.argv[1].startswith("--timeout="):
        timeout = float(sys.argv.pop(1).split("=", 1)[1])
    dist.init(timeout=timeout)
    for name in sys.argv[1:]:
        CHECKS[name]()
    dist.barrier()
    emit("done")
