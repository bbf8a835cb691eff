"""End to end: the digits data, LeNet-5, the Trainer and `pycnn train`."""
import io

import numpy as np
import pytest

import pycnn
from pycnn import nn, optim
from pycnn import functional as F
from pycnn.data import DataLoader
from pycnn.models import LeNet5
from pycnn.train import Trainer
from helpers import run_python


def test_digits_split_is_fixed_and_stratified():
    split = pycnn.datasets.digits()
    xtr, ytr = split.train.tensors
    xte, yte = split.test.tensors
    assert len(split.train) + len(split.test) == 1797
    assert xtr.shape[1:] == (1, 8, 8) and xtr.dtype == pycnn.float32 and ytr.dtype == pycnn.int64
    assert 0.0 <= xtr.numpy().min() and xtr.numpy().max() <= 1.0
    # every class is split about 4:1
    for c in range(10):
        n_tr, n_te = int((ytr.numpy() == c).sum()), int((yte.numpy() == c).sum())
        assert abs(n_tr - 4 * n_te) <= 4, (c, n_tr, n_te)
    again = pycnn.datasets.digits()
    np.testing.assert_array_equal(again.test.tensors[1].numpy(), yte.numpy())


def test_digits_upsampled_keeps_mean_intensity():
    small = pycnn.datasets.digits(8).train.tensors[0].numpy()
    big = pycnn.datasets.digits(32).train.tensors[0].numpy()
    assert big.shape[2:] == (32, 32)
    # linear interpolation with half-pixel centres preserves the image mean up to edge effects
    np.testing.assert_allclose(big.mean(axis=(2, 3)), small.mean(axis=(2, 3)), atol=0.05)


def test_lenet5_shapes_and_state_dict_keys():
    model = LeNet5()
    assert model(pycnn.randn(2, 1, 32, 32)).shape == (2, 10)
    sd = model.state_dict()
    assert list(sd) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias",
                        "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]
    assert sd["conv1.weight"].shape == (6, 1, 5, 5) and sd["fc1.weight"].shape == (120, 400)
    assert model.num_parameters() == 61706  # the classic LeNet-5 count
    with pytest.raises(ValueError, match="LeNet5"):
        model(pycnn.randn(2, 1, 28, 28))


def test_lenet5_overfits_one_batch():
    pycnn.manual_seed(0)
    model = LeNet5()
    x = pycnn.randn(16, 1, 32, 32)
    y = pycnn.tensor(np.arange(16) % 10)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.05 * first, (first, loss.item())
    assert (model(x).detach().numpy().argmax(1) == y.numpy()).all()


def test_short_digits_run_beats_90_percent():
    pycnn.manual_seed(0)
    split = pycnn.datasets.digits(image_size=32)
    model = LeNet5()
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    stream = io.StringIO()
    history = Trainer(model, opt, stream=stream).fit(
        DataLoader(split.train, batch_size=32, shuffle=True, seed=0), epochs=3,
        test_loader=DataLoader(split.test, batch_size=256))
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["test_acc"] > 0.90, history
    assert "epoch 3/3" in stream.getvalue() and "test loss" in stream.getvalue()


def test_cli_default_run_reaches_97_percent_and_saves_a_loadable_state_dict(tmp_path):
    # The README's promise: the default `pycnn train` reaches >= 97% test accuracy (seed 0;
    # seeds 0..13 gave 97.25-98.35% when the defaults were chosen).
    path = tmp_path / "lenet.npz"
    out = run_python("-m", "pycnn", "train", "--save", str(path), check=True)
    assert "final test accuracy" in out.stdout
    acc = float(out.stdout.split("final test accuracy: ")[1].split("%")[0])
    assert acc >= 97.0, out.stdout
    model = LeNet5()
    model.load_state_dict(pycnn.load(path))
    split = pycnn.datasets.digits(image_size=32)
    x, y = split.test.tensors
    with pycnn.no_grad():
        reloaded_acc = (model(x).numpy().argmax(1) == y.numpy()).mean()
    assert abs(100 * reloaded_acc - acc) < 0.006, (reloaded_acc, acc)  # printed with 2 decimals


def test_training_is_reproducible_for_a_seed():
    # Same seed, same thread count -> bit-identical weights (no run-to-run order in reductions).
    def train_once():
        pycnn.manual_seed(3)
        split = pycnn.datasets.digits(image_size=32)
        model = LeNet5()
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        Trainer(model, opt, verbose=False).fit(DataLoader(split.train, batch_size=64, shuffle=True, seed=3),
                                               epochs=1)
        return model.state_dict()
    first, second = train_once(), train_once()
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)


def test_trainer_rejects_zero_epochs():
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="epochs"):
        Trainer(model, optim.SGD(model.parameters(), lr=0.1)).fit([], epochs=0)


# ----------------------------------------------------------------------------- on the CUDA device
@pytest.mark.skipif(not pycnn.cuda.is_available(), reason="no CUDA device (real or emulated)")
def test_lenet5_steps_on_cuda_match_the_cpu():
    """The same weights and batches on the CPU and on 'cuda' (the emulated device without a GPU):
    losses and parameters agree to float32 tolerance after a few SGD steps."""
    pycnn.manual_seed(1)
    cpu = LeNet5()
    gpu = LeNet5()
    gpu.load_state_dict(cpu.state_dict())
    gpu.to("cuda")
    split = pycnn.datasets.digits(image_size=32)
    batches = list(DataLoader(split.train, batch_size=16, shuffle=True, seed=2))[:4]
    opts = [optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4) for m in (cpu, gpu)]
    for x, y in batches:
        losses = []
        for m, opt, dev in ((cpu, opts[0], "cpu"), (gpu, opts[1], "cuda")):
            opt.zero_grad()
            loss = F.cross_entropy(m(x.to(dev)), y.to(dev))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        np.testing.assert_allclose(losses[1], losses[0], rtol=2e-5)
    for (k, a), b in zip(cpu.state_dict().items(), gpu.state_dict().values()):
        np.testing.assert_allclose(b.cpu().numpy(), a.numpy(), rtol=1e-4, atol=1e-5, err_msg=k)


@pytest.mark.skipif(not pycnn.cuda.is_available(), reason="no CUDA device (real or emulated)")
def test_cli_trains_on_cuda_as_on_the_cpu(tmp_path):
    """`pycnn train --device cuda` (one epoch of the default recipe, from the same seed) reaches the
    accuracy the CPU run reaches."""
    import os

    def accuracy(device):
        out = run_python("-m", "pycnn", "train", "--device", device, "--epochs", "1", "--save",
                         str(tmp_path / f"{device}.npz"), env=dict(os.environ), timeout=600)
        assert out.returncode == 0, out.stderr
        return float(out.stdout.split("final test accuracy: ")[1].split("%")[0]), out.stdout

    cpu, _ = accuracy("cpu")
    gpu, text = accuracy("cuda")
    assert "device cuda" in text
    assert abs(gpu - cpu) <= 1.0, (cpu, text)
    assert set(np.load(tmp_path / "cuda.npz").files) >= {"conv1.weight", "fc3.bias"}
