"""`pycnn train`: --help, rejection of bad values before training (argparse's format), the data
pipeline that fits a dataset to a model, checkpoints and --resume (bitwise continuation), --plot;
and optim.Adam (torch.optim.Adam's update, checked against torch)."""
import argparse
import sys

import numpy as np
import pytest

import pycnn
from pycnn import _train_cli, cli, optim
from test_datasets import cifar_batches, write_cifar_bin, write_mnist

SMALL = ["--train-limit", "48", "--test-limit", "16", "--batch-size", "16"]


def train(argv, capsys):
    """Runs `pycnn train ARGV` in this process: (exit status, stdout, stderr)."""
    try:
        rc = cli.main(["train", *argv])
    except SystemExit as e:
        rc = e.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def rejected(argv, capsys, message):
    rc, out, err = train(argv, capsys)
    assert rc == 2, (out, err)
    assert "usage: pycnn train" in err and "pycnn train: error: " in err, err
    assert message in err, err
    assert "epoch 1/" not in out  # nothing was trained
    return err


# ----------------------------------------------------------------------------- help and validation
def test_help_shows_every_default(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["train", "--help"])
    assert e.value.code == 0
    help_text = capsys.readouterr().out
    blocks = {}  # option -> its help text, from "  --option" to the next option
    for line in help_text.split("options:", 1)[1].splitlines():
        if line.startswith("  -"):
            current = line.split()[0].rstrip(",")
            blocks[current] = line
        elif line.strip():
            blocks[current] += " " + line.strip()
    parser = cli.build_parser()
    train_parser = parser._subparsers._group_actions[0].choices["train"]
    options = [a.option_strings[0] for a in train_parser._actions if a.option_strings and a.dest != "help"]
    assert len(options) >= 20 and set(options) <= set(blocks)
    for option in options:
        assert "default:" in blocks[option], blocks[option]
    text = " ".join(help_text.split())
    for value in ("(default: lenet5)", "(default: digits)", "(default: 20)", "(default: 16)", "(default: sgd)",
                  "(default: 0.9)", "(default: 0.0005)", "(default: cosine)", "(default: cpu)",
                  "default: 0.01 for sgd, 0.001 for adam"):
        assert value in text, value


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
    (["--epochs", "two"], "argument --epochs: expected an integer >= 1, got 'two'"),
    (["--lr", "-1"], "argument --lr: must be a finite number >= 0, got -1"),
    (["--lr", "0"], "argument --lr: must be > 0"),
    (["--lr", "nan"], "argument --lr: must be a finite number >= 0"),
    (["--batch-size", "0"], "argument --batch-size: must be >= 1"),
    (["--momentum", "-0.5"], "argument --momentum"),
    (["--seed", "-3"], "argument --seed: must be >= 0"),
    (["--device", "gpu"], "argument --device: expected cpu, cuda or cuda:N, got 'gpu'"),
    (["--dataset", "svhn"], "argument --dataset: invalid choice: 'svhn'"),
    (["--optimizer", "rmsprop"], "argument --optimizer: invalid choice"),
    (["--save", "/nonexistent-folder/model.npz"], "argument --save: cannot write '/nonexistent-folder/model.npz': "
                                                 "its folder '/nonexistent-folder' does not exist"),
    (["--resume", "/nonexistent-folder/ck.npz"], "argument --resume: no such file"),
    (["--checkpoint", "ck-{epochs}.npz"], "argument --checkpoint: 'ck-{epochs}.npz': the only field allowed is {epoch}"),
])
def test_bad_values_are_rejected_before_training(argv, message, capsys):
    rejected(argv, capsys, message)


def test_unwritable_paths_are_rejected(tmp_path, capsys):
    a_file = tmp_path / "plain-file"
    a_file.write_text("x")
    rejected(["--save", str(a_file / "model.npz")], capsys, "argument --save: cannot write")
    rejected(["--save", str(tmp_path)], capsys, "is a directory")
    rejected(["--plot", str(tmp_path / "no" / "curves.png")], capsys, "argument --plot: cannot write")
    rejected(["--checkpoint", str(tmp_path / "no" / "ck-{epoch}.npz")], capsys, "argument --checkpoint: cannot write")


def test_cross_checks_happen_before_training(tmp_path, capsys):
    rejected(["--dataset", "mnist"], capsys, "argument --data-dir: --dataset mnist is read from files")
    err = rejected(["--dataset", "cifar10", "--data-dir", str(tmp_path)], capsys, "argument --data-dir: ")
    assert "data_batch_1.bin" in err and "test_batch" in err and "cs.toronto.edu" in err
    rejected(["--model", "resnet1000"], capsys, "unknown model 'resnet1000'")
    rejected(["--model", "tcn"], capsys, "argument --model: tcn cannot be trained on digits images")
    rejected(["--model", "lenet5", "--image-size", "28"], capsys, "LeNet5: expected input (N, C, 32, 32)")
    sd = tmp_path / "state_dict.npz"
    pycnn.save(pycnn.models.LeNet5().state_dict(), sd)
    rejected(["--resume", str(sd)], capsys, "is not a pycnn train checkpoint")


def test_plot_without_matplotlib_says_so_before_training(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    rejected(["--plot", str(tmp_path / "c.png")], capsys, "--plot: drawing the curves needs matplotlib, "
                                                          "which is not installed (pip install matplotlib)")


def test_plot_writes_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "curves.png"
    rc, out, err = train([*SMALL, "--epochs", "2", "--plot", str(path)], capsys)
    assert rc == 0, err
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 2000


# ----------------------------------------------------------------------------- the data pipeline
def _args(**kw):
    base = dict(dataset="digits", augment=False)
    return argparse.Namespace(**{**base, **kw})


def test_pipeline_fits_each_dataset_to_the_model():
    x8 = np.random.default_rng(0).integers(0, 256, (4, 1, 28, 28), dtype=np.uint8)
    # MNIST 28 -> LeNet-5's 32: zero padding (after normalisation), as LeNet-5 was trained
    t = _train_cli._pipeline(_args(dataset="mnist"), 1, 28, 1, 32, train=False)
    y = t(x8)
    assert y.shape == (4, 1, 32, 32) and y.dtype == np.float32
    np.testing.assert_allclose(y[:, :, 2:30, 2:30], (x8 / 255.0 - 0.1307) / 0.3081, rtol=1e-5, atol=1e-6)
    assert (y[:, :, :2] == 0).all() and (y[:, :, :, 30:] == 0).all()
    # MNIST into a 3-channel 64x64 model: bilinear resize, then the grey plane repeated
    y = _train_cli._pipeline(_args(dataset="mnist"), 1, 28, 3, 64, train=False)(x8)
    assert y.shape == (4, 3, 64, 64) and np.array_equal(y[:, 0], y[:, 2])
    # CIFAR into a grey model, with augmentation (crops and flips) while training
    xc = np.random.default_rng(1).integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    t = _train_cli._pipeline(_args(dataset="cifar10", augment=True), 3, 32, 1, 32, train=True)
    assert [type(s).__name__ for s in t.transforms] == ["ToFloat", "Normalize", "Grayscale", "RandomCrop",
                                                        "RandomHorizontalFlip"]
    assert t(xc).shape == (4, 1, 32, 32)
    assert _train_cli._pipeline(_args(), 1, 8, 1, 32, train=False) is None  # digits come resized


def test_mnist_and_cifar_fixtures_train_through_the_cli(tmp_path, capsys):
    write_mnist(tmp_path / "mnist", n_train=40, n_test=10, gz=True)
    rc, out, err = train(["--dataset", "mnist", "--data-dir", str(tmp_path / "mnist"), "--epochs", "1",
                          "--batch-size", "8"], capsys)
    assert rc == 0, err
    assert "lenet5 on mnist (40 train / 10 test, 1x32x32)" in out and "final test accuracy" in out
    write_cifar_bin(tmp_path / "cifar" / "cifar-10-batches-bin", cifar_batches((8, 8, 8, 8, 8), 8))
    rc, out, err = train(["--dataset", "cifar10", "--data-dir", str(tmp_path / "cifar"), "--epochs", "1",
                          "--batch-size", "8", "--augment", "--optimizer", "adam", "--model", "hmax"], capsys)
    assert rc == 0, err
    assert "hmax on cifar10 (40 train / 8 test, 1x32x32)" in out and "adam lr 0.001" in out


@pytest.mark.parametrize("model", ["lenet5", "resnet20", "mobilenet_v2", "inception_small", "hmax"])
def test_models_train_one_quick_epoch_on_the_digits(model, capsys):
    rc, out, err = train(["--model", model, "--epochs", "1", "--train-limit", "16", "--test-limit", "8",
                          "--batch-size", "8"], capsys)
    assert rc == 0, err
    assert f"{model} on digits (16 train / 8 test, 1x32x32)" in out and "epoch 1/1 train loss" in out


# ----------------------------------------------------------------------------- checkpoints, resume
def _state(path):
    return {k: v for k, v in pycnn.load(path).items()}


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("extra", [["--optimizer", "sgd"], ["--optimizer", "adam", "--augment"]],
                         ids=["sgd", "adam-augment"])
def test_resume_continues_exactly(tmp_path, capsys, extra):
    """2 epochs straight == 1 epoch, a new process-like start from its checkpoint, 1 more epoch."""
    argv = [*SMALL, "--epochs", "2", *extra]
    ck = str(tmp_path / "ck-{epoch}.npz")
    rc, out, err = train([*argv, "--checkpoint", ck, "--save", str(tmp_path / "straight.npz")], capsys)
    assert rc == 0, err
    first = pycnn.load(tmp_path / "ck-1.npz")
    assert first["epoch"] == 1 and set(first) >= {"model", "optimizer", "scheduler", "history"}
    assert first["scheduler"]["last_epoch"] == 1 and len(first["history"]) == 1
    pycnn.manual_seed(12345)  # whatever state the process is in, the resumed run does not depend on it
    pycnn.randn(7)
    rc, out, err = train([*argv, "--resume", str(tmp_path / "ck-1.npz"), "--save", str(tmp_path / "resumed.npz")],
                         capsys)
    assert rc == 0, err
    assert "resumed from" in out and "epoch 1/2" not in out and "epoch 2/2" in out
    straight, resumed = _state(tmp_path / "straight.npz"), _state(tmp_path / "resumed.npz")
    _assert_same(straight, resumed)
    assert any(not np.array_equal(first["model"][k], straight[k]) for k in straight)  # epoch 2 changed them
    # the resumed run checkpointed where the first part did, the same bytes of state as the straight run's
    again = pycnn.load(tmp_path / "ck-2.npz")
    _assert_same(again["model"], straight)
    assert [h["epoch"] for h in again["history"]] == [1, 2]


@pytest.mark.skipif(not pycnn.cuda.is_available(), reason="no CUDA device (real or emulated)")
def test_resume_continues_exactly_on_cuda(tmp_path, capsys):
    """The same on the device (the emulated one without a GPU): Adam's state lives there."""
    argv = ["--train-limit", "16", "--test-limit", "8", "--batch-size", "8", "--epochs", "2", "--device", "cuda",
            "--optimizer", "adam"]
    rc, out, err = train([*argv, "--checkpoint", str(tmp_path / "ck-{epoch}.npz"), "--save",
                          str(tmp_path / "a.npz")], capsys)
    assert rc == 0, err
    assert "device cuda" in out
    rc, out, err = train([*argv, "--resume", str(tmp_path / "ck-1.npz"), "--save", str(tmp_path / "b.npz")], capsys)
    assert rc == 0, err
    _assert_same(_state(tmp_path / "a.npz"), _state(tmp_path / "b.npz"))


def test_resume_refuses_a_different_run(tmp_path, capsys):
    ck = tmp_path / "ck.npz"
    rc, _, err = train([*SMALL, "--epochs", "2", "--checkpoint", str(ck)], capsys)
    assert rc == 0, err
    rejected([*SMALL, "--epochs", "2", "--resume", str(ck)], capsys, "has already completed 2 epochs")
    err = rejected([*SMALL, "--epochs", "3", "--seed", "1", "--batch-size", "8", "--resume", str(ck)], capsys,
                   "comes from a different run")
    assert "seed: checkpoint 0, now 1" in err and "batch_size: checkpoint 16, now 8" in err


def test_default_recipe_is_unchanged(capsys):
    """The default run's settings (its >= 97 % is checked by tests/test_train.py)."""
    args = cli.build_parser().parse_args(["train"])
    assert (args.model, args.dataset, args.epochs, args.batch_size, args.optimizer, args.lr, args.momentum,
            args.weight_decay, args.scheduler, args.augment) == ("lenet5", "digits", 20, 16, "sgd", None, 0.9,
                                                                  5e-4, "cosine", False)


# ----------------------------------------------------------------------------- Adam
def _adam_pair(kwargs, steps=6, seed=0):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    w0 = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    ours = [pycnn.tensor(w, dtype="float64", requires_grad=True) for w in w0]
    theirs = [torch.tensor(w, requires_grad=True) for w in w0]
    o, t = optim.Adam(ours, **kwargs), torch.optim.Adam(theirs, **kwargs)
    for _ in range(steps):
        for p, q in zip(ours, theirs):
            g = rng.standard_normal(p.shape)
            p.grad, q.grad = pycnn.tensor(g, dtype="float64"), torch.tensor(g)
        o.step()
        t.step()
    return ours, theirs, o, t


@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.05, "weight_decay": 0.1}, {"amsgrad": True, "betas": (0.5, 0.8)},
                                    {"maximize": True, "eps": 1e-3, "weight_decay": 0.01, "amsgrad": True}])
def test_adam_matches_torch(kwargs):
    ours, theirs, o, t = _adam_pair(kwargs)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-13, atol=1e-15)
    ts = t.state_dict()["state"]
    for i, s in o.state_dict()["state"].items():
        assert set(s) == set(ts[i])
        assert float(s["step"]) == float(ts[i]["step"])
        np.testing.assert_allclose(s["exp_avg_sq"], ts[i]["exp_avg_sq"].numpy(), rtol=1e-13)


def test_adam_state_dict_round_trip_continues_exactly():
    torch = pytest.importorskip("torch")  # noqa: F841
    ours, _, o, _ = _adam_pair({"weight_decay": 0.01}, steps=3)
    clone = [pycnn.tensor(p.detach().numpy(), dtype="float64", requires_grad=True) for p in ours]
    o2 = optim.Adam(clone, weight_decay=0.01)
    o2.load_state_dict(o.state_dict())
    g = [np.random.default_rng(9).standard_normal(p.shape) for p in ours]
    for params, opt in ((ours, o), (clone, o2)):
        for p, gi in zip(params, g):
            p.grad = pycnn.tensor(gi, dtype="float64")
        opt.step()
    for p, q in zip(ours, clone):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_adam_rejects_bad_hyperparameters():
    p = [pycnn.randn(2, requires_grad=True)]
    for kwargs, message in (({"lr": -1}, "invalid learning rate"), ({"betas": (1.0, 0.9)}, "invalid betas"),
                            ({"eps": -1e-8}, "invalid epsilon"), ({"weight_decay": -1}, "invalid weight_decay")):
        with pytest.raises(ValueError, match=message):
            optim.Adam(p, **kwargs)


def test_adam_trains_a_small_problem():
    """Least squares: Adam drives the loss down by orders of magnitude."""
    rng = np.random.default_rng(3)
    A, b = rng.standard_normal((20, 5)), rng.standard_normal(20)
    w = pycnn.tensor(np.zeros(5) + 0.1, dtype="float64", requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    At, bt = pycnn.tensor(A, dtype="float64"), pycnn.tensor(b, dtype="float64")
    best = np.linalg.lstsq(A, b, rcond=None)[0]
    for _ in range(300):
        opt.zero_grad()
        loss = ((At @ w - bt) ** 2).mean()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(w.detach().numpy(), best, atol=1e-3)
