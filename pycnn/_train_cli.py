"""`pycnn train`: its arguments, their validation (before any training), the data pipeline that
fits a dataset to a model's input, checkpoints (--checkpoint / --resume) and the curves (--plot).

Reproducibility.  The model is initialised right after ``pycnn.manual_seed(seed)``.  Each epoch e
then starts from its own seeds, derived from (seed, e): the shuffling order (the loader's
generator) and pycnn's generators (random transforms, dropout), so epoch e is the same whether
the run went through uninterrupted or was resumed from the checkpoint of epoch e - 1.  A
checkpoint holds the model, the optimizer, the scheduler, the epoch and the history.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10")
_NATIVE = {"digits": (1, 8), "mnist": (1, 28), "fashion-mnist": (1, 28), "cifar10": (3, 32)}
# per-channel mean / std of the training images in [0, 1] (the usual published figures)
_STATS = {"mnist": ((0.1307,), (0.3081,)), "fashion-mnist": ((0.2860,), (0.3530,)),
          "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))}
_PROBE_SIZES = (32, 64, 96, 128, 224)
_CHECKPOINT_FORMAT = "pycnn-train-checkpoint-1"


# ----------------------------------------------------------------------------- argument types
def _int_at_least(low):
    """An argparse type: an integer >= low."""
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {v}")
        return v
    return parse


_positive_int, _nonnegative_int = _int_at_least(1), _int_at_least(0)


def _nonnegative_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(v) or v < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return v


def _positive_float(text):
    v = _nonnegative_float(text)
    if v == 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return v


def _device(text):
    kind, _, index = text.partition(":")
    if kind not in ("cpu", "cuda") or (index and (not index.isdigit() or kind == "cpu")):
        raise argparse.ArgumentTypeError(f"expected cpu, cuda or cuda:N, got {text!r}")
    return text


def _writable_path(text):
    """A file path we can create: its folder exists and accepts a new file (tried, not guessed:
    os.access is always true for root); not a folder itself."""
    path = os.path.abspath(os.path.expanduser(text))
    if os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{text!r} is a directory, expected a file path")
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: its folder {folder!r} does not exist")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".pycnn-write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: {e.strerror or e}") from None
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: the file is read-only")
    return text


def _checkpoint_path(text):
    if "{" in text:
        try:
            text.format(epoch=1)
        except (KeyError, IndexError, ValueError) as e:
            raise argparse.ArgumentTypeError(f"{text!r}: the only field allowed is {{epoch}} ({e})") from None
    return _writable_path(text.format(epoch=1)) and text


def _readable_file(text):
    if not os.path.isfile(text):
        raise argparse.ArgumentTypeError(f"no such file: {text!r}")
    return text


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in --help; help texts that state their default keep their own."""

    def _get_help_string(self, action):
        if "default" in (action.help or "") or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


def _model_names():
    from . import models
    return models.list_models() if hasattr(models, "list_models") else ["lenet5"]


def add_arguments(t: argparse.ArgumentParser):
    """The train command's options (every one with its default shown by --help)."""
    t.formatter_class = _HelpFormatter
    t.add_argument("--model", default="lenet5", metavar="NAME",
                   help="the network: " + ", ".join(_model_names()) + " (image classifiers)")
    t.add_argument("--dataset", default="digits", choices=DATASETS,
                   help="digits is bundled; the others are read from --data-dir")
    t.add_argument("--data-dir", metavar="DIR",
                   help="folder holding the dataset's files (needed unless --dataset digits; nothing is "
                        "downloaded; default: none)")
    t.add_argument("--epochs", type=_positive_int, default=20, help="total epochs (also when resuming)")
    t.add_argument("--batch-size", type=_positive_int, default=16, help="training batch size")
    t.add_argument("--optimizer", default="sgd", choices=("sgd", "adam"), help="the update rule")
    t.add_argument("--lr", type=_positive_float, default=None,
                   help="initial learning rate (default: 0.01 for sgd, 0.001 for adam)")
    t.add_argument("--momentum", type=_nonnegative_float, default=0.9, help="SGD momentum")
    t.add_argument("--weight-decay", type=_nonnegative_float, default=5e-4, help="L2 weight decay")
    t.add_argument("--scheduler", default="cosine", choices=("cosine", "none"),
                   help="learning-rate schedule over --epochs (cosine annealing to 0, or constant)")
    t.add_argument("--augment", action="store_true",
                   help="random crops with padding (and horizontal flips on cifar10) while training")
    t.add_argument("--image-size", type=_nonnegative_int, default=0, metavar="S",
                   help="square input size fed to the model (0: the dataset's own size if the model takes "
                        "it, else the first of 32, 64, 96, 128, 224 that it takes)")
    t.add_argument("--train-limit", type=_nonnegative_int, default=0, metavar="N",
                   help="train on the first N training images only (0: all)")
    t.add_argument("--test-limit", type=_nonnegative_int, default=0, metavar="N",
                   help="evaluate on the first N test images only (0: all)")
    t.add_argument("--seed", type=_nonnegative_int, default=0,
                   help="seed of the initialisation, shuffling and augmentation")
    t.add_argument("--threads", type=_nonnegative_int, default=0,
                   help="OpenMP threads (0: OMP_NUM_THREADS or all cores)")
    t.add_argument("--device", type=_device, default="cpu",
                   help="cpu, or cuda (a GPU, or the emulated device with PYCNN_CUDA_EMULATOR=1)")
    t.add_argument("--save", metavar="PATH", type=_writable_path,
                   help="write the trained model's state_dict (.npz; default: not saved)")
    t.add_argument("--checkpoint", metavar="PATH", type=_checkpoint_path,
                   help="write a checkpoint (model, optimizer, scheduler, epoch, history) after every epoch; "
                        "'{epoch}' in PATH keeps one file per epoch (default: none; when resuming, where the resumed "
                        "run wrote them)")
    t.add_argument("--resume", metavar="CKPT", type=_readable_file,
                   help="continue the run saved in this checkpoint, exactly where it stopped (default: none)")
    t.add_argument("--plot", metavar="PATH", type=_writable_path,
                   help="draw loss and accuracy curves per epoch into this PNG (needs matplotlib; default: none)")
    return t


# ----------------------------------------------------------------------------- data
def _subset(ds, n):
    from .data import TensorDataset
    from .datasets import ImageDataset
    if not n or n >= len(ds):
        return ds
    if isinstance(ds, TensorDataset):
        return TensorDataset(*(t[:n] for t in ds.tensors))
    return ImageDataset(ds.data[:n], ds.targets[:n], ds.classes, ds.name)


def _load_splits(args, image_size):
    """(train, test) datasets; the bundled digits come already resized to image_size."""
    from . import datasets
    if args.dataset == "digits":
        split = datasets.digits(image_size=image_size)
        return split.train, split.test
    splits, missing = [], []
    for train in (True, False):  # report the missing files of both splits at once
        try:
            splits.append(datasets.load(args.dataset, args.data_dir, train=train))
        except FileNotFoundError as e:
            missing.append(f"{'train' if train else 'test'} split: {e}")
    if missing:
        raise FileNotFoundError("\n".join(missing))
    return tuple(splits)


def _pipeline(args, data_channels, native, channels, size, train):
    """Per-batch transforms from the stored images to what the model takes: floats, the
    dataset's normalisation, grey <-> RGB, the size (padding when it grows by at most a quarter,
    as MNIST 28 -> 32 for LeNet-5; bilinear resizing otherwise), then augmentation."""
    from . import transforms as T
    steps = []
    if args.dataset != "digits":
        steps += [T.ToFloat(), T.Normalize(*_STATS[args.dataset])]
        if size != native:
            d = size - native
            steps.append(T.Pad((d // 2, d // 2, d - d // 2, d - d // 2)) if 0 < d <= native // 4
                         else T.Resize(size))
    if channels != data_channels:
        steps.append(T.Grayscale(channels))
    if train and args.augment:
        steps.append(T.RandomCrop(size, padding=max(1, size // 8)))
        if args.dataset == "cifar10":
            steps.append(T.RandomHorizontalFlip())
    return T.Compose(steps) if steps else None


# ----------------------------------------------------------------------------- model
def _build(name, **kwargs):
    from . import models
    if hasattr(models, "get"):
        return models.get(name, **kwargs)
    if name.lower().replace("-", "_") != "lenet5":  # before the model zoo: LeNet-5 only
        raise ValueError(f"unknown model {name!r}; available: lenet5")
    return models.LeNet5(**kwargs)


def _probe(model, channels, sizes, num_classes):
    """The first (channels, size) for which model maps (2, C, S, S) to (2, num_classes) logits."""
    import pycnn
    tried = []
    model.eval()
    try:
        with pycnn.no_grad():
            for c in channels:
                for s in sizes:
                    try:
                        out = model(pycnn.zeros(2, c, s, s))
                    except Exception as e:  # noqa: BLE001  (a model says "not this size" in its own words)
                        tried.append(f"{c}x{s}x{s}: {type(e).__name__}: {str(e).splitlines()[0][:160]}")
                        continue
                    if tuple(out.shape) == (2, num_classes):
                        return c, s
                    tried.append(f"{c}x{s}x{s}: output {tuple(out.shape)}, not (N, {num_classes}) logits")
    finally:
        model.train()
    raise ValueError("it takes none of the inputs tried:\n  " + "\n  ".join(tried))


def _make_model(args, num_classes):
    """(model, channels, size): built with in_channels = the dataset's channels when it accepts
    them (else the other of 1 / 3, else its default), and the input size found by _probe."""
    data_c, native = _NATIVE[args.dataset]
    other = 3 if data_c == 1 else 1
    errors = []
    for kwargs, channels in ((dict(in_channels=data_c), [data_c]), (dict(in_channels=other), [other]),
                             ({}, [data_c, other])):
        try:
            model = _build(args.model, num_classes=num_classes, **kwargs)
        except (TypeError, ValueError) as e:
            errors.append(f"{args.model}({', '.join(f'{k}={v}' for k, v in kwargs.items())}): {e}")
            if "unknown model" in str(e):
                break
            continue
        if args.image_size:
            sizes = [args.image_size]
        else:  # the digits' 8x8 is too small for any of the zoo's nets: start at 32
            sizes = ([native] if native >= 16 else []) + [s for s in _PROBE_SIZES if s != native]
        try:
            c, s = _probe(model, channels, sizes, num_classes)
            return model, c, s
        except ValueError as e:
            errors.append(f"{args.model}: {e}")
    raise ValueError("\n".join(errors))


# ----------------------------------------------------------------------------- checkpoints
def _config(args, channels, size):
    """What must match for a resumed run to continue exactly."""
    return {"model": args.model, "dataset": args.dataset, "optimizer": args.optimizer,
            "scheduler": args.scheduler, "batch_size": args.batch_size, "seed": args.seed,
            "augment": bool(args.augment), "in_channels": channels, "image_size": size,
            "train_limit": args.train_limit, "test_limit": args.test_limit}


def _read_checkpoint(parser, path):
    import pycnn
    try:
        ckpt = pycnn.load(path)
    except Exception as e:  # noqa: BLE001
        parser.error(f"argument --resume: cannot read {path!r}: {e}")
    if not isinstance(ckpt, dict) or ckpt.get("format") != _CHECKPOINT_FORMAT:
        parser.error(f"argument --resume: {path!r} is not a pycnn train checkpoint (a --save state_dict? "
                     "--resume needs a file written by --checkpoint)")
    return ckpt


def _epoch_seeds(seed, epoch, rank=0):
    """(shuffle seed, pycnn.manual_seed) of an epoch (and rank), independent of everything before it."""
    a, b = np.random.SeedSequence([seed & (2**63 - 1), epoch, rank]).generate_state(2, np.uint32)
    return int(a), int(b)


def _plot(history, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    ax2.plot(epochs, [100 * h["train_acc"] for h in history], "o-", label="train")
    if all("test_loss" in h for h in history):
        ax1.plot(epochs, [h["test_loss"] for h in history], "s-", label="test")
        ax2.plot(epochs, [100 * h["test_acc"] for h in history], "s-", label="test")
    ax1.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


# ----------------------------------------------------------------------------- the command
def run(args, parser) -> int:
    """Validates what argparse could not check alone, then trains.  Every rejection happens
    before the first step, through parser.error (argparse's format, exit status 2)."""
    import pycnn
    from . import nn, optim
    from .data import DataLoader
    from .train import Trainer

    if args.dataset != "digits" and not args.data_dir:
        parser.error(f"argument --data-dir: --dataset {args.dataset} is read from files; give the folder "
                     "holding them")
    if args.device.split(":")[0] == "cuda" and not pycnn.cuda.is_available():
        parser.error(f"argument --device: {args.device}: {pycnn.cuda.unavailable_reason()}")
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            parser.error("argument --plot: drawing the curves needs matplotlib, which is not installed "
                         "(pip install matplotlib), or leave out --plot")
    ckpt = _read_checkpoint(parser, args.resume) if args.resume else None
    if ckpt is not None and int(ckpt["epoch"]) >= args.epochs:
        parser.error(f"argument --epochs: the checkpoint {args.resume!r} has already completed "
                     f"{int(ckpt['epoch'])} epochs; --epochs {args.epochs} leaves nothing to train")
    lr = args.lr if args.lr is not None else (0.01 if args.optimizer == "sgd" else 0.001)

    rank, world = 0, 1
    if getattr(args, "distributed", False):  # under mpiexec -n N: rank r trains on its shard of each global batch
        from . import distributed as dist
        dist.init(timeout=float(os.environ.get("PYCNN_DIST_TIMEOUT", 600)))
        rank, world = dist.rank(), dist.world_size()
        if not args.threads and "OMP_NUM_THREADS" not in os.environ:  # share the cores between the ranks
            args.threads = max(1, (os.cpu_count() or 1) // world)
    out = sys.stdout if rank == 0 else open(os.devnull, "w")  # rank 0 alone prints and saves
    if args.threads:
        pycnn.set_num_threads(args.threads)
    pycnn.manual_seed(args.seed)
    num_classes = 10
    try:
        model, channels, size = _make_model(args, num_classes)
    except ValueError as e:
        parser.error(f"argument --model: {args.model} cannot be trained on {args.dataset} images:\n{e}")
    data_c, native = _NATIVE[args.dataset]
    try:
        train_set, test_set = _load_splits(args, size)
    except (FileNotFoundError, ValueError, OSError) as e:
        parser.error(f"argument --data-dir: {e}")
    train_set, test_set = _subset(train_set, args.train_limit), _subset(test_set, args.test_limit)
    config = dict(_config(args, channels, size), world_size=world)
    if ckpt is not None:
        saved = ckpt.get("config", {})
        diff = [f"{k}: checkpoint {saved.get(k)!r}, now {v!r}" for k, v in config.items() if saved.get(k) != v]
        if diff:
            parser.error(f"argument --resume: {args.resume!r} comes from a different run, so it cannot "
                         "continue exactly:\n  " + "\n  ".join(diff))

    train_transform = _pipeline(args, data_c, native, channels, size, train=True)
    if world > 1 or getattr(args, "distributed", False):
        # drop_last: batch k of N ranks = batch k of one rank with --batch-size N * B; the sampler's
        # permutation is seed + epoch (Trainer.fit calls set_epoch), the same on every rank
        from .data import DistributedSampler
        train = DataLoader(train_set, batch_size=args.batch_size, drop_last=True, seed=args.seed,
                           sampler=DistributedSampler(train_set, seed=args.seed), transform=train_transform)
    else:
        train = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed,
                           transform=train_transform)
    test = DataLoader(test_set, batch_size=256, seed=args.seed,
                      transform=_pipeline(args, data_c, native, channels, size, train=False))
    model = model.to(args.device)
    net = model
    if getattr(args, "distributed", False):
        from .nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(model)
    if args.optimizer == "sgd":
        opt = optim.SGD(model.parameters(), lr=lr, momentum=args.momentum, weight_decay=args.weight_decay)
    else:
        opt = optim.Adam(model.parameters(), lr=lr, weight_decay=args.weight_decay)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs) if args.scheduler == "cosine" else None
    start_epoch, history = 1, []
    if ckpt is not None:
        try:
            model.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["optimizer"])
            if sched is not None:
                sched.load_state_dict(ckpt["scheduler"])
        except (KeyError, ValueError, TypeError, RuntimeError) as e:
            parser.error(f"argument --resume: {args.resume!r} does not fit this model/optimizer: {e}")
        start_epoch, history = int(ckpt["epoch"]) + 1, list(ckpt.get("history", []))
    # a resumed run keeps checkpointing as its first part did (same file, or same {epoch} pattern)
    if args.checkpoint:
        checkpoint = os.path.abspath(args.checkpoint)
    else:
        checkpoint = (ckpt.get("checkpoint_path") or os.path.abspath(args.resume)) if ckpt is not None else None

    info = pycnn.build_info()
    where = (f"{info['num_threads']} threads, simd {info['simd']}" if args.device == "cpu"
             else f"device {args.device} ({info['cuda_device']})")
    print(f"pycnn {info['version']}: {args.model} on {args.dataset} ({len(train_set)} train / "
          f"{len(test_set)} test, {channels}x{size}x{size}), {model.num_parameters()} parameters, "
          f"{args.optimizer} lr {lr:g}, {where}", file=out, flush=True)
    if getattr(args, "distributed", False):
        print(f"distributed: {world} ranks x batch {args.batch_size} = global batch {world * args.batch_size}",
              file=out, flush=True)
    if ckpt is not None:
        print(f"resumed from {args.resume} after epoch {start_epoch - 1}", file=out, flush=True)

    def seed_epoch(epoch):
        shuffle_seed, global_seed = _epoch_seeds(args.seed, epoch, rank)
        train.generator = np.random.default_rng(shuffle_seed)
        pycnn.manual_seed(global_seed)

    def end_of_epoch(record):
        if checkpoint and rank == 0:
            pycnn.save({"format": _CHECKPOINT_FORMAT, "epoch": record["epoch"], "config": config,
                        "checkpoint_path": checkpoint,
                        "model": model.state_dict(), "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict() if sched is not None else {},
                        "history": trainer.history}, checkpoint.format(epoch=record["epoch"]))
        seed_epoch(record["epoch"] + 1)

    trainer = Trainer(net, opt, nn.functional.cross_entropy, sched, stream=out, device=args.device)
    trainer.history = [dict(h) for h in history]
    seed_epoch(start_epoch)
    start = time.perf_counter()
    trainer.fit(train, args.epochs, test, start_epoch=start_epoch, on_epoch_end=end_of_epoch)
    elapsed = time.perf_counter() - start
    final = trainer.history[-1]["test_acc"]
    print(f"final test accuracy: {100 * final:.2f}% in {elapsed:.1f}s "
          f"({args.epochs - start_epoch + 1} epochs{' after resuming' if ckpt is not None else ''})", file=out)
    if rank != 0:
        return 0
    if args.save:  # the unwrapped model's keys (no 'module.' prefix)
        pycnn.save(model.state_dict(), args.save)
        print(f"saved state_dict to {args.save}")
    if checkpoint:
        print(f"checkpoint: {checkpoint.format(epoch=args.epochs)}")
    if args.plot:
        _plot(trainer.history, args.plot)
        print(f"plotted the curves to {args.plot}")
    return 0
