"""`pycnn experiment`: every experiment of pycnn.experiments runs with --quick, writes its JSON and
figures, and its JSON shows the claim it tests, asserted only where that claim holds robustly over
seeds (residual gradients stay correlated where plain ones decorrelate; conv equivariance and
y = Mx to 1e-5; derivative filters exact on constants and ramps; ...)."""
import json
import os

import numpy as np
import pytest

import pycnn
from pycnn import cli, experiments
from pycnn.experiments import loss_landscape

NAMES = list(experiments.EXPERIMENTS)


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """All ten experiments run once with --quick through the CLI (one thread: the machine is shared)."""
    out = tmp_path_factory.mktemp("experiments")
    threads = pycnn.get_num_threads()
    pycnn.set_num_threads(1)
    try:
        for name in NAMES:
            assert cli.main(["experiment", name, "--quick", "--out", str(out)]) == 0
    finally:
        pycnn.set_num_threads(threads)
    recs = {}
    for name in NAMES:
        with open(out / f"{name}.json") as f:
            recs[name] = json.load(f)
    return out, recs


def test_list_names_all_ten(capsys):
    assert cli.main(["experiment", "--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [l.split()[0] for l in lines] == NAMES and len(NAMES) == 10


def test_unknown_name_is_an_error(capsys, tmp_path):
    assert cli.main(["experiment", "no-such-thing", "--out", str(tmp_path)]) == 2
    assert "unknown experiment 'no-such-thing'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="experiment: unknown name"):
        experiments.run("no-such-thing", out=str(tmp_path))


@pytest.mark.parametrize("name", NAMES)
def test_writes_json_and_nonblank_figures(records, name):
    mpimg = pytest.importorskip("matplotlib.image")
    out, recs = records
    r = recs[name]
    assert r["experiment"] == name and r["quick"] is True and r["results"]["headline"]
    assert r["summary"], "each experiment prints a summary"
    assert r["figures"] and all(f.startswith(name) and f.endswith(".png") for f in r["figures"])
    for f in r["figures"]:
        img = mpimg.imread(os.path.join(out, f))
        assert img.ndim == 3 and min(img.shape[:2]) > 50 and float(img.std()) > 0


def test_conv_matrix(records):
    res = records[1]["conv-matrix"]["results"]
    assert res["max_error"] < 1e-5
    for c in res["cases"]:
        assert c["max_err_y_eq_Mx"] < 1e-5 and c["max_err_transpose_eq_MT"] < 1e-5
        assert c["nonzeros_are_kernel_values"] and c["distinct_values"] <= c["kernel_values"]
        assert 0 < c["density"] < 0.5  # sparse


def test_shift_equivariance(records):
    res = records[1]["shift-equivariance"]["results"]
    for e in res["equivariance"]:
        assert e["interior_max_err"] < 1e-5
        assert e["border_max_err"] > 1e-3  # the zero padding breaks it at the borders
    inv = res["invariance_relative_change"]
    assert inv["no pooling"][0] == 0 and inv["maxpool4"][1] < inv["no pooling"][1]


def test_filters_exact_on_constants_and_ramps(records):
    res = records[1]["filters"]["results"]
    assert res["edge_to_nonedge_sobel_ratio"] > 1.5
    for k, v in res["exactness"].items():
        assert abs(v["kernel_sum"]) < 1e-6 and v["max_abs_on_constant"] < 1e-5, k
    assert abs(res["exactness"]["central diff x"]["on_ramp_slope_0_5"] - 0.5) < 1e-5
    assert abs(res["exactness"]["laplacian"]["on_ramp_slope_0_5"]) < 1e-5


def test_upsampling(records):
    res = records[1]["upsampling"]["results"]
    assert res["max_unpool_exact_at_indices"] == 0
    m = res["methods"]
    assert all(v["shape"][2:] == [32, 32] for v in m.values())
    assert m["bed of nails"]["nonzero_fraction"] <= 0.25 and m["max-unpool"]["nonzero_fraction"] <= 0.25
    assert m["nearest"]["mse_to_input"] < m["bed of nails"]["mse_to_input"]


def test_gradient_flow_residual_stays_correlated(records):
    res = records[1]["gradient-flow"]["results"]
    c = res["mean_correlation_near"]
    D = res["depth_for_correlation"]
    assert c[f"resnet-{D}"] > c[f"plain-{D}"] + 0.1
    r = res["first_over_last"]
    # the notes' setting: sigmoid, no normalization: plain vanishes, residual keeps its scale
    assert r[f"plain-{D} (sigmoid, no norm)"] < 1e-3
    assert 0.1 < r[f"residual-{D} (sigmoid, no norm)"] < 10


def test_transfer(records):
    res = records[1]["transfer"]["results"]
    acc = res["accuracy"]
    # frozen features from digits 0-4 carry over to 5-9: far above chance (0.2) from 5 images per class;
    # whether they beat training from scratch is reported, not asserted (on the 8x8 digits they do not)
    assert acc["frozen"]["5"] > 0.5
    assert isinstance(res["claim_frozen_beats_scratch_at_k5"], bool)
    assert res["pretrain_accuracy_0_4"] > 0.6


def test_visualize_class_images_are_recognized(records):
    res = records[1]["visualize"]["results"]
    assert np.mean(res["class_target_probability"]) > np.mean(res["noise_target_probability"]) + 0.2
    assert np.array(res["conv1_filters"]).shape == (6, 5, 5)


def test_normalization_table(records):
    res = records[1]["normalization"]["results"]
    dep = res["batch_dependence"]
    # the notes' table: only BatchNorm's output for a sample depends on the other samples of its batch
    assert all(v > 1e-3 for v in dep["batch"].values())
    assert all(v < 1e-5 for n in ("none", "layer", "instance", "group") for v in dep[n].values())
    acc = res["accuracy"]
    assert set(acc) == {"none", "batch", "layer", "instance", "group"}
    assert all(set(v) == {"2", "8", "32"} and all(0 <= a <= 1 for a in v.values()) for v in acc.values())


def test_hmax_learns(records):
    acc = records[1]["hmax"]["results"]["accuracy"]
    assert acc["hmax"]["20"] > 0.3 and acc["lenet5"]["20"] > 0.3  # chance is 0.1


def test_loss_landscape_shapes(records):
    res = records[1]["loss-landscape"]["results"]
    for r in res["nets"].values():
        assert np.isfinite(np.array(r["grid"])).all() and np.isfinite(r["top_hessian_eigenvalue"])
        assert np.array(r["grid"]).shape == (len(res["alphas_2d"]),) * 2


def test_filter_normalized_direction():
    rng = np.random.default_rng(3)
    w = [rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4), rng.standard_normal((5, 7))]
    d = loss_landscape.filter_normalized_direction(w, rng)
    for a, b in zip(w, d):
        if a.ndim == 1:
            assert not b.any()
        else:
            axes = tuple(range(1, a.ndim))
            np.testing.assert_allclose(np.sqrt((b ** 2).sum(axes)), np.sqrt((a ** 2).sum(axes)), rtol=1e-10)


def test_hessian_power_iteration_on_a_quadratic():
    """On L = mean CE of a linear model, compare the power-iteration eigenvalue with the dense Hessian
    from finite differences of gradients (float64 reference)."""
    ctx = experiments.Context("t")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 6)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    pycnn.manual_seed(0)
    model = pycnn.nn.Linear(6, 3, bias=False)
    lam = loss_landscape.dominant_hessian_eigenvalue(ctx, model, X, y, 100, np.random.default_rng(1))
    W = model.weight.detach().numpy().astype(np.float64)
    # the exact Hessian of mean softmax-CE in W: E[(diag(p) - pp^T) kron x x^T]
    z = X.astype(np.float64) @ W.T
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    H = sum(np.kron(np.diag(pi) - np.outer(pi, pi), np.outer(xi, xi)) for pi, xi in zip(p, X.astype(np.float64))) / len(X)
    top = np.linalg.eigvalsh(H)[-1]
    assert abs(lam - top) < 0.02 * top


def test_without_matplotlib_writes_json_only(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PYCNN_NO_PLOT", "1")
    rec = experiments.run("conv-matrix", quick=True, out=str(tmp_path))
    assert rec["figures"] == [] and (tmp_path / "conv-matrix.json").exists()
    assert not list(tmp_path.glob("*.png"))
    assert 'pip install "pycnn[plot]"' in capsys.readouterr().out


def test_runs_on_the_cuda_device(tmp_path):
    if not pycnn.cuda.is_available():
        pytest.skip(f"no CUDA device: {pycnn.cuda.unavailable_reason()}")
    rec = experiments.run("conv-matrix", quick=True, out=str(tmp_path), device="cuda")
    assert rec["device"] == "cuda" and rec["results"]["max_error"] < 1e-5


def test_cifar_forward_matches_the_model():
    """gradient-flow's block-by-block forward is the zoo model's own forward."""
    from pycnn.experiments._nets import cifar_forward

    pycnn.manual_seed(0)
    for plain in (True, False):
        m = pycnn.models.CifarResNet(1, num_classes=10, in_channels=1, plain=plain)
        m.eval()
        x = pycnn.randn(3, 1, 8, 8)
        keep = []
        np.testing.assert_allclose(cifar_forward(m, x, keep).detach().numpy(), m(x).detach().numpy(),
                                   rtol=1e-5, atol=1e-6)
        assert len(keep) == 3  # one input per block: 3 stages of n = 1
