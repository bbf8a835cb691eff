"""examples/: each ported tutorial runs with --quick and prints falling losses; and each one's model
code, with `pycnn` renamed to `torch` (the port undone), runs under PyTorch and computes the same
outputs and gradients from the same weights: only the import differs."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pycnn

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FIGURES = re.compile(r"first loss: ([-\d.naif]+) final loss: ([-\d.naif]+)(?: accuracy: ([\d.]+)%)?")


def run(script, *args, timeout=240):
    proc = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def figures(out):
    found = [(float(a), float(b), float(c) if c else None) for a, b, c in FIGURES.findall(out)]
    assert found, out
    for first, last, acc in found:
        assert np.isfinite(first) and np.isfinite(last)
        assert acc is None or 0 <= acc <= 100
    return found


def test_train_classifier_quick():
    out = run("train_classifier.py", "--quick")
    [(first, last, acc)] = figures(out)
    assert "Finished Training" in out and "Accuracy of the network on the 364 test images" in out
    assert last < 0.8 * first  # the tutorial's loss falls from about ln(10)
    assert acc > 30  # ten classes: chance is 10 %


def test_train_classifier_with_worker_processes_prints_the_same():
    """--num-workers 2: spawned DataLoader workers, and the run is identical to the single-process one."""
    single = run("train_classifier.py", "--quick")
    assert run("train_classifier.py", "--quick", "--num-workers", "2") == single


def test_train_classifier_reads_cifar10_from_data_dir(tmp_path):
    """--data-dir: CIFAR-10's binary files (written here: 3x32x32 uint8 records whose brightness
    is their class), read through pycnn.datasets.cifar10 with ToFloat + Normalize."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    for name, n in [(f"data_batch_{i}.bin", 120) for i in range(1, 6)] + [("test_batch.bin", 60)]:
        labels = rng.integers(0, 10, n).astype(np.uint8)
        pixels = np.clip(labels[:, None] * 25 + rng.integers(0, 20, (n, 3 * 32 * 32)), 0, 255).astype(np.uint8)
        (folder / name).write_bytes(np.concatenate([labels[:, None], pixels], 1).tobytes())
    out = run("train_classifier.py", "--quick", "--data-dir", str(tmp_path))
    [(first, last, acc)] = figures(out)
    assert "Accuracy of the network on the 60 test images" in out
    assert last < first


def test_resnet_basicblock_quick():
    out = run("resnet_basicblock.py", "--quick")
    [(first, last, acc)] = figures(out)
    assert len(re.findall(r"^step +\d+ loss", out, re.M)) == 8
    assert last < first  # one batch, eight steps: it must be learning it


def test_blocks_quick():
    out = run("blocks.py", "--quick")
    found = figures(out)
    names = re.findall(r"^(\w+): first loss", out, re.M)
    assert names == ["mobilenet", "inception", "encoder_decoder"] and len(found) == 3
    for first, last, _ in found:
        assert last < first


# ----------------------------------------------------------------------------- the same code under torch
def _module(script, backend):
    """The script's namespace, not run as __main__; backend 'torch' renames pycnn to torch first."""
    src = (EXAMPLES / script).read_text()
    if backend == "torch":
        src = re.sub(r"\bpycnn\b", "torch", src)
    ns = {"__name__": f"example_{backend}", "__file__": str(EXAMPLES / script)}
    exec(compile(src, f"{script} ({backend})", "exec"), ns)
    return ns


def _imports(script):
    return [line for line in (EXAMPLES / script).read_text().splitlines()
            if re.match(r"\s*(import|from)\s+pycnn", line)]


MODELS = [
    ("train_classifier.py", lambda ns: ns["Net"](), (4, 3, 32, 32)),
    ("resnet_basicblock.py", lambda ns: ns["ResNet"](ns["BasicBlock"], [1, 2, 1, 1], num_classes=10), (2, 3, 32, 32)),
    ("blocks.py", lambda ns: ns["build"]("mobilenet"), (3, 3, 16, 16)),
    ("blocks.py", lambda ns: ns["build"]("inception"), (3, 3, 12, 12)),
    ("blocks.py", lambda ns: ns["build"]("encoder_decoder"), (2, 3, 12, 12)),
]


@pytest.mark.parametrize("script, make, shape", MODELS,
                         ids=["Net", "ResNet-BasicBlock", "mobilenet", "inception", "encoder_decoder"])
def test_model_code_runs_unchanged_under_torch(script, make, shape):
    torch = pytest.importorskip("torch")
    assert _imports(script), "the script imports pycnn"
    ours_ns, theirs_ns = _module(script, "pycnn"), _module(script, "torch")
    torch.manual_seed(0)
    theirs = make(theirs_ns).double()
    ours = make(ours_ns).double()
    assert repr(ours) == repr(theirs)  # the same modules, the same reprs
    ours.load_state_dict(theirs.state_dict())  # torch tensors straight in
    ours.train(), theirs.train()  # BatchNorm on batch statistics; Dropout off for the comparison:
    for m in list(ours.modules()) + list(theirs.modules()):
        if type(m).__name__ == "Dropout":
            m.eval()
    x = np.random.default_rng(3).standard_normal(shape)
    yt = theirs(torch.tensor(x))
    yo = ours(pycnn.tensor(x, dtype="float64"))
    np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-9, atol=1e-9)
    w = np.random.default_rng(4).standard_normal(tuple(yt.shape))
    (yt * torch.tensor(w)).sum().backward()
    (yo * pycnn.tensor(w, dtype="float64")).sum().backward()
    grads_t = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads_t[name].grad.numpy(), rtol=1e-7, atol=1e-9, err_msg=name)
    for name, b in theirs.named_buffers():  # running statistics updated alike
        np.testing.assert_allclose(ours.state_dict()[name].numpy(), b.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
