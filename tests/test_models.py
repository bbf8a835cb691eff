"""The model zoo (pycnn.models), its layers (ReLU6/Hardtanh, GaussianRBF2d) and pycnn.summary.

Against torch (tests/torch_zoo.py holds the same architectures in plain torch.nn, with
torchvision's module names): parameter counts equal torch's numel() and the formulas written
out here; a randomized torch state_dict loads with strict=True and gives the same eval logits
and the same parameter gradients.  Small inputs keep the file fast (ImageNet nets on 64x64).
"""
import math
import time

import numpy as np
import pytest

import pycnn
from pycnn import models, nn
from pycnn.models.hmax import gabor_bank
from pycnn.summary import conv_param_count

from helpers import gradcheck

RNG = np.random.default_rng(20240612)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These tests check the models' wiring, not the kernels (whose threading the op tests
    cover): one thread each for pycnn and torch, as OpenMP teams on an oversubscribed machine
    spend most of their time waiting for each other (10x slower here)."""
    before = pycnn.get_num_threads()
    pycnn.set_num_threads(1)
    try:
        import torch
        torch_before = torch.get_num_threads()
        torch.set_num_threads(1)
    except ImportError:
        torch = None
    yield
    pycnn.set_num_threads(before)
    if torch is not None:
        torch.set_num_threads(torch_before)


# ----------------------------------------------------------------------------- formulas
def conv(cin, cout, k, groups=1, bias=True):
    return conv_param_count(cin, cout, k, groups, bias)


def bn(c):
    return 2 * c


def fc(i, o):
    return i * o + o


def basic_block(cin, cout, projection):
    return conv(cin, cout, 3, bias=False) + bn(cout) + conv(cout, cout, 3, bias=False) + bn(cout) + (
        conv(cin, cout, 1, bias=False) + bn(cout) if projection else 0)


def resnet_count(layers, num_classes, plain=False):
    total, cin = conv(3, 64, 7, bias=False) + bn(64), 64
    for stage, (n, c) in enumerate(zip(layers, (64, 128, 256, 512))):
        for i in range(n):
            total += basic_block(cin, c, not plain and i == 0 and (stage > 0 or cin != c))
            cin = c
    return total + fc(512, num_classes)


def cifar_resnet_count(n, num_classes=10, shortcut="A", plain=False):
    total, cin = conv(3, 16, 3, bias=False) + bn(16), 16
    for stage, c in enumerate((16, 32, 64)):
        for i in range(n):
            total += basic_block(cin, c, shortcut == "B" and not plain and i == 0 and stage > 0)
            cin = c
    return total + fc(64, num_classes)


def vgg11_features_count(batch_norm=False):
    total, cin = 0, 3
    for c in (64, 128, 256, 256, 512, 512, 512, 512):
        total += conv(cin, c, 3) + (bn(c) if batch_norm else 0)
        cin = c
    return total


def vgg11_count(num_classes, batch_norm=False):
    return vgg11_features_count(batch_norm) + fc(512 * 49, 4096) + fc(4096, 4096) + fc(4096, num_classes)


def alexnet_count(num_classes):
    return (conv(3, 64, 11) + conv(64, 192, 5) + conv(192, 384, 3) + conv(384, 256, 3) + conv(256, 256, 3)
            + fc(256 * 36, 4096) + fc(4096, 4096) + fc(4096, num_classes))


def mobilenet_v1_count(num_classes, alpha=1.0):
    c = int(32 * alpha)
    total = conv(3, c, 3, bias=False) + bn(c)
    for out, _ in models.MobileNetV1.CFG:
        out = int(out * alpha)
        total += conv(c, c, 3, groups=c, bias=False) + bn(c) + conv(c, out, 1, bias=False) + bn(out)
        c = out
    return total + fc(c, num_classes)


def basic_conv(cin, cout, k):
    return conv(cin, cout, k, bias=False) + bn(cout)


def inception_count(cin, c1, c3r, c3, c5r, c5, pp):
    return (basic_conv(cin, c1, 1) + basic_conv(cin, c3r, 1) + basic_conv(c3r, c3, 3) + basic_conv(cin, c5r, 1)
            + basic_conv(c5r, c5, 5) + basic_conv(cin, pp, 1))


def tcn_count(cin, channels, k, num_outputs=None):
    total = 0
    for c in channels:
        total += conv(cin, c, (k,)) + conv(c, c, (k,)) + (conv(cin, c, (1,)) if cin != c else 0)
        cin = c
    return total + (fc(cin, num_outputs) if num_outputs else 0)


def encoder_decoder_count(cin, cout, base, depth, mode):
    def double(a, b):
        return basic_conv(a, b, 3) + basic_conv(b, b, 3)

    w = [base * 2 ** i for i in range(depth + 1)]
    total = sum(double(cin if i == 0 else w[i - 1], w[i]) for i in range(depth)) + double(w[depth - 1], w[depth])
    for i in range(depth):
        total += (w[i + 1] * w[i] * 4 + w[i]) if mode == "transposed" else conv(w[i + 1], w[i], 1)
        total += double(2 * w[i], w[i])
    return total + conv(w[0], cout, 1)


def test_published_parameter_counts():
    """The formulas above give the papers' / torchvision's published figures (1000 classes);
    test_matches_torch checks each model against the same formula and torch (10 classes)."""
    assert resnet_count([2, 2, 2, 2], 1000) == 11_689_512
    assert resnet_count([3, 4, 6, 3], 1000) == 21_797_672
    assert alexnet_count(1000) == 61_100_840
    assert vgg11_count(1000) == 132_863_336 and vgg11_count(1000, True) == 132_868_840
    assert models.mobilenet_v2().num_parameters() == 3_504_872
    # the plain ResNet-18 drops exactly the three projections
    proj = sum(conv(a, b, 1, bias=False) + bn(b) for a, b in ((64, 128), (128, 256), (256, 512)))
    assert resnet_count([2, 2, 2, 2], 1000, plain=True) == 11_689_512 - proj
    # He et al. 2016, Table 6: 0.27M, 0.46M, 0.66M, 0.85M (option A shortcuts, 10 classes)
    for builder, n, millions in ((models.resnet20, 3, 0.27), (models.resnet32, 5, 0.46),
                                 (models.resnet44, 7, 0.66), (models.resnet56, 9, 0.85)):
        model = builder()
        assert model.num_parameters() == cifar_resnet_count(n)
        assert round(model.num_parameters() / 1e6, 2) == millions
        # plain: the same parameters (option A has none in its shortcuts), and no residual add
        assert builder(plain=True).num_parameters() == cifar_resnet_count(n, plain=True) == model.num_parameters()
        assert builder(shortcut="B").num_parameters() == cifar_resnet_count(n, shortcut="B")
    # Howard et al. 2017, Table 1 / 6: 4.2M at alpha 1, 2.6M at 0.75, 1.3M at 0.5
    for alpha, millions in ((1.0, 4.2), (0.75, 2.6), (0.5, 1.3)):
        assert round(mobilenet_v1_count(1000, alpha) / 1e6, 1) == millions
    assert models.mobilenet_v1(width_mult=0.5).num_parameters() == mobilenet_v1_count(1000, 0.5)


# ----------------------------------------------------------------------------- against torch
# name: (pycnn builder, torch builder, input shape or None, formula or None, compare gradients)
# A None input shape compares names, shapes and counts only (torch builds on the meta device).
def _torch_cases():
    import torch_zoo as tz
    from pycnn.models.vgg import VGG_CFGS, make_vgg_layers
    C = {
        "resnet18": (lambda: models.resnet18(num_classes=10), lambda: tz.resnet18(num_classes=10),
                     (1, 3, 32, 32), resnet_count([2, 2, 2, 2], 10), True),
        "resnet18_plain": (lambda: models.resnet18(num_classes=10, plain=True),
                           lambda: tz.resnet18(num_classes=10, plain=True), None, resnet_count([2, 2, 2, 2], 10, True),
                           False),
        "resnet34": (lambda: models.resnet34(num_classes=10), lambda: tz.resnet34(num_classes=10), None,
                     resnet_count([3, 4, 6, 3], 10), False),
        "resnet20": (models.resnet20, lambda: tz.CifarResNet(3), (2, 3, 32, 32), cifar_resnet_count(3), True),
        "resnet20_plain": (lambda: models.resnet20(plain=True), lambda: tz.CifarResNet(3, plain=True),
                           (1, 3, 32, 32), cifar_resnet_count(3, plain=True), False),
        "resnet20_B": (lambda: models.resnet20(shortcut="B"), lambda: tz.CifarResNet(3, shortcut="B"),
                       (1, 3, 32, 32), cifar_resnet_count(3, shortcut="B"), False),
        "resnet32": (models.resnet32, lambda: tz.CifarResNet(5), (1, 3, 32, 32), cifar_resnet_count(5), False),
        "resnet44": (models.resnet44, lambda: tz.CifarResNet(7), None, cifar_resnet_count(7), False),
        "resnet56_plain": (lambda: models.resnet56(plain=True), lambda: tz.CifarResNet(9, plain=True),
                           (1, 3, 32, 32), cifar_resnet_count(9, plain=True), False),
        # vgg11(num_classes=10) without its second init of the 120M classifier weights (torchvision's
        # init_weights=True redraws them): the same modules, names and forward
        "vgg11": (lambda: models.VGG(make_vgg_layers(VGG_CFGS["A"]), num_classes=10, init_weights=False),
                  lambda: tz.vgg11(num_classes=10), (1, 3, 32, 32), vgg11_count(10), False),
        # vgg11_bn = these features + vgg11's classifier (above): the 128M-parameter net is not built twice
        "vgg11_bn_features": (lambda: make_vgg_layers(VGG_CFGS["A"], batch_norm=True),
                              lambda: tz.make_vgg_layers(tz.CFG_A, True), (2, 3, 32, 32),
                              vgg11_features_count(batch_norm=True), True),
        "alexnet": (lambda: models.alexnet(num_classes=10), lambda: tz.AlexNet(num_classes=10), (1, 3, 64, 64),
                    alexnet_count(10), True),
        "mobilenet_v2": (lambda: models.mobilenet_v2(num_classes=10), lambda: tz.MobileNetV2(num_classes=10),
                         (1, 3, 32, 32), None, False),
        "mobilenet_v2_0.5": (lambda: models.mobilenet_v2(num_classes=10, width_mult=0.5),
                             lambda: tz.MobileNetV2(num_classes=10, width_mult=0.5), (1, 3, 32, 32), None, True),
        "mobilenet_v1": (lambda: models.mobilenet_v1(num_classes=10), lambda: tz.MobileNetV1(num_classes=10),
                         (1, 3, 32, 32), mobilenet_v1_count(10), False),
        "mobilenet_v1_0.25": (lambda: models.mobilenet_v1(num_classes=10, width_mult=0.25),
                              lambda: tz.MobileNetV1(num_classes=10, width_mult=0.25), (2, 3, 32, 32),
                              mobilenet_v1_count(10, 0.25), True),
        "inception_small": (models.inception_small, tz.InceptionNet, (1, 3, 32, 32), None, True),
        # conv1 6 (1*5*5 + 1), conv2 16 (6*5*5 + 1), fc 400->120->84->10 with biases
        "lenet5": (models.LeNet5, tz.LeNet5, (2, 1, 32, 32),
                   6 * (25 + 1) + 16 * (6 * 25 + 1) + 401 * 120 + 121 * 84 + 85 * 10, True),
        "tcn": (lambda: models.tcn(3, (8, 8, 16), 3, num_outputs=4), lambda: tz.TCN(3, (8, 8, 16), 3, num_outputs=4),
                (2, 3, 50), tcn_count(3, (8, 8, 16), 3, 4), True),
    }
    for mode in ("nearest", "bed_of_nails", "max_unpool", "transposed"):
        C[f"encoder_decoder_{mode}"] = (lambda mode=mode: models.encoder_decoder(1, 3, 4, 2, mode),
                                        lambda mode=mode: tz.EncoderDecoder(1, 3, 4, 2, mode), (2, 1, 16, 16),
                                        encoder_decoder_count(1, 3, 4, 2, mode), True)
    return C


CASE_NAMES = ["resnet18", "resnet18_plain", "resnet34", "resnet20", "resnet20_plain", "resnet20_B", "resnet32",
              "resnet44", "resnet56_plain", "vgg11", "vgg11_bn_features", "alexnet", "mobilenet_v2",
              "mobilenet_v2_0.5", "mobilenet_v1", "mobilenet_v1_0.25", "inception_small", "lenet5", "tcn"] + [
    f"encoder_decoder_{m}" for m in ("nearest", "bed_of_nails", "max_unpool", "transposed")]


FROM_PYCNN = {"vgg11", "alexnet"}


@pytest.mark.parametrize("name", CASE_NAMES)
def test_matches_torch(name):
    torch = pytest.importorskip("torch")
    import torch_zoo as tz
    make, make_torch, shape, formula, grads = _torch_cases()[name]
    pm = make()
    if shape is None:  # names, shapes and counts
        with torch.device("meta"):
            tm = make_torch()
        assert [(k, tuple(v.shape)) for k, v in tm.state_dict().items()] == \
            [(k, v.shape) for k, v in pm.state_dict().items()]
        assert pm.num_parameters() == sum(p.numel() for p in tm.parameters()) == formula
        return
    torch.manual_seed(0)
    if name in FROM_PYCNN:
        # 60M-130M parameters: drawing them twice more for torch is most of the test's time, so torch's
        # net gets pycnn's weights (loading strictly in torch's direction too) with fresh random 1-d
        # tensors (biases, BN statistics), and these come back into the pycnn net below
        with torch.device("meta"):
            tm = make_torch()
        tm = tm.to_empty(device="cpu")
        sd = {k: v.numpy().copy() for k, v in pm.state_dict().items()}
        for k, v in sd.items():
            if v.ndim == 1 and v.dtype.kind == "f":
                v[...] = RNG.uniform(0.5, 1.5, v.shape) if k.endswith(("running_var", "weight")) else \
                    RNG.standard_normal(v.shape) * 0.1
        tm.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}, strict=True)
    else:
        tm = tz.randomize_(make_torch(), seed=len(name))
    n_torch = sum(p.numel() for p in tm.parameters())
    assert pm.num_parameters() == n_torch
    if formula is not None:
        assert formula == n_torch
    # names and shapes are torch's: a state_dict (parameters and BN buffers) loads strictly
    sd = {k: v.detach().numpy() for k, v in tm.state_dict().items()}
    assert list(pm.state_dict()) == list(sd)
    pm.load_state_dict(sd, strict=True)
    tm.eval(), pm.eval()
    x = RNG.standard_normal(shape).astype(np.float32)
    ref = tm(torch.from_numpy(x))
    out = pm(pycnn.tensor(x, requires_grad=grads))
    if name == "alexnet":
        with pytest.raises(ValueError, match="AlexNet: .*H, W >= 63"):
            pm(pycnn.randn(1, 3, 32, 32))
    assert out.shape == tuple(ref.shape)
    ref_np = ref.detach().numpy()
    scale = float(np.abs(ref_np).max())
    assert scale > 1e-3  # the comparison is not between two vanishing outputs
    np.testing.assert_allclose(out.detach().numpy(), ref_np, rtol=1e-4, atol=2e-5 * scale)
    if grads:
        r = RNG.standard_normal(ref.shape).astype(np.float32)
        (ref * torch.from_numpy(r)).sum().backward()
        (out * pycnn.tensor(r)).sum().backward()
        tgrads = dict(tm.named_parameters())
        for k, p in pm.named_parameters():
            g, tg = p.grad, tgrads[k].grad
            assert g is not None and tg is not None, k
            tol = 1e-4 * float(tg.abs().max()) + 1e-7
            np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-3, atol=tol, err_msg=k)


@pytest.mark.parametrize("name,kwargs", [("resnet20", {}), ("mobilenet_v2", {"width_mult": 0.35}),
                                         ("inception_small", {}), ("encoder_decoder", {}), ("lenet5", {}),
                                         ("hmax", {}), ("mobilenet_v1", {"width_mult": 0.25})])
def test_train_mode_forward_backward(name, kwargs):
    """Train mode (batch statistics, dropout): one step's loss is finite and every trainable
    parameter gets a finite gradient that is nonzero somewhere."""
    pycnn.manual_seed(1)
    size = {"lenet5": 32, "hmax": 24}.get(name, 32)
    in_ch = 1 if name in ("lenet5", "hmax", "encoder_decoder") else 3
    if name != "encoder_decoder":
        kwargs = dict(kwargs, num_classes=5)
    model = models.get(name, in_channels=in_ch, **kwargs)
    model.train()
    x = pycnn.tensor(RNG.standard_normal((2, in_ch, size, size)).astype(np.float32))
    out = model(x)
    if name == "encoder_decoder":
        assert out.shape == (2, 2, size, size)
        loss = nn.functional.cross_entropy(out.permute(0, 2, 3, 1).reshape(-1, 2),
                                           pycnn.tensor(RNG.integers(0, 2, 2 * size * size)))
    else:
        assert out.shape == (2, 5)
        loss = nn.functional.cross_entropy(out, pycnn.tensor(np.array([1, 3])))
    loss.backward()
    assert np.isfinite(loss.item())
    trainable = [(k, p) for k, p in model.named_parameters() if p.requires_grad]
    assert trainable
    for k, p in trainable:
        assert p.grad is not None, k
        g = p.grad.numpy()
        assert np.isfinite(g).all() and np.abs(g).max() > 0, k


# ----------------------------------------------------------------------------- registry, errors
def test_registry():
    names = models.list_models()
    for n in ("resnet18", "resnet34", "resnet20", "resnet32", "resnet44", "resnet56", "vgg11", "vgg11_bn",
              "alexnet", "mobilenet_v1", "mobilenet_v2", "inception_small", "hmax", "encoder_decoder", "tcn",
              "lenet5"):
        assert n in names
    assert names == sorted(names)
    m = models.get("ResNet-20", num_classes=7)
    assert isinstance(m, models.CifarResNet) and m.fc.out_features == 7
    assert isinstance(models.get("lenet5"), models.LeNet5)
    with pytest.raises(ValueError, match="unknown model 'resnet9'.*resnet18"):
        models.get("resnet9")


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="EncoderDecoder: .*divisible by 2\\^depth = 4"):
        models.encoder_decoder()(pycnn.randn(1, 1, 18, 16))
    with pytest.raises(ValueError, match="upsample must be one of"):
        models.encoder_decoder(upsample="bicubic")
    with pytest.raises(ValueError, match="shortcut must be 'A' or 'B'"):
        models.resnet20(shortcut="C")
    with pytest.raises(ValueError, match="HMAX: works on grey images"):
        models.hmax(in_channels=3)
    with pytest.raises(ValueError, match="TCN: expected input \\(N, 2, L\\)"):
        models.tcn(2)(pycnn.randn(1, 3, 10))
    with pytest.raises(ValueError, match="Inception: expected input \\(N, 8, H, W\\)"):
        models.Inception(8, 1, 1, 1, 1, 1, 1)(pycnn.randn(1, 4, 8, 8))


def test_inception_block():
    block = models.Inception(12, 4, 3, 5, 2, 6, 7)
    assert block.num_parameters() == inception_count(12, 4, 3, 5, 2, 6, 7)
    assert block.branch3[1].conv.weight.shape == (6, 2, 5, 5)  # a true 5x5, as the paper
    y = block(pycnn.randn(2, 12, 9, 7))
    assert y.shape == (2, 4 + 5 + 6 + 7, 9, 7)


def test_encoder_decoder_upsampling_modes_differ():
    """The four modes give four different nets on the same weights (where they share them)."""
    x = pycnn.tensor(RNG.standard_normal((1, 1, 8, 8)).astype(np.float32))
    outs = {}
    base = models.encoder_decoder(1, 2, 4, 1, "nearest").state_dict()
    for mode in ("nearest", "bed_of_nails", "max_unpool"):
        m = models.encoder_decoder(1, 2, 4, 1, mode)
        m.load_state_dict(base)
        outs[mode] = m.eval()(x).detach().numpy()
    assert not np.allclose(outs["nearest"], outs["bed_of_nails"])
    assert not np.allclose(outs["max_unpool"], outs["bed_of_nails"])


# ----------------------------------------------------------------------------- TCN receptive field
@pytest.mark.parametrize("kernel_size,levels", [(2, 4), (3, 3)])
def test_tcn_receptive_field_matches_gradient(kernel_size, levels):
    """The input positions with a nonzero gradient for the last output are exactly the last
    receptive_field ones (weights and input made positive so no ReLU or sum cancels)."""
    model = models.tcn(2, [3] * levels, kernel_size)
    expected = 1 + 2 * (kernel_size - 1) * (2 ** levels - 1)
    assert model.receptive_field == expected
    with pycnn.no_grad():
        for p in model.parameters():
            p.copy_(p.abs() + 0.01)
    L = expected + 9
    x = pycnn.tensor(RNG.random((1, 2, L)).astype(np.float32) + 0.1, requires_grad=True)
    model(x)[:, :, -1].sum().backward()
    hit = np.flatnonzero(np.abs(x.grad.numpy()).sum((0, 1)) > 0)
    assert len(hit) == model.receptive_field
    assert hit[0] == L - expected and hit[-1] == L - 1
    # causality: an output never sees a later input
    x2 = pycnn.tensor(RNG.random((1, 2, L)).astype(np.float32), requires_grad=True)
    model(x2)[:, :, 5].sum().backward()
    assert np.abs(x2.grad.numpy()[:, :, 6:]).max() == 0


# ----------------------------------------------------------------------------- layers
def test_hardtanh_relu6():
    x = np.array([-8.0, -1.5, -0.5, 0.0, 0.5, 3.0, 5.9, 6.5, 100.0, -np.inf, np.inf])
    y = nn.ReLU6()(pycnn.tensor(x)).numpy()
    np.testing.assert_array_equal(y, np.clip(x, 0, 6))
    np.testing.assert_array_equal(nn.Hardtanh(-1, 2)(pycnn.tensor(x)).numpy(), np.clip(x, -1, 2))
    a = RNG.uniform(-3, 9, 40)
    a = a[(np.abs(a) > 0.05) & (np.abs(a - 6) > 0.05)]  # away from the kinks
    gradcheck(nn.relu6, a)
    gradcheck(lambda t: nn.hardtanh(t, -0.5, 2.0), a[(np.abs(a + 0.5) > 0.05) & (np.abs(a - 2) > 0.05)])
    t = pycnn.tensor(np.array([-1.0, 0.0, 3.0, 6.0, 7.0]), requires_grad=True)
    nn.relu6(t).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [0, 0, 1, 0, 0])  # torch: zero at the bounds
    with pytest.raises(ValueError, match="min_val .* must be less than max_val"):
        nn.Hardtanh(2, 1)


def test_gaussian_rbf2d_matches_direct_distance_and_gradcheck():
    x = RNG.standard_normal((2, 3, 6, 5))
    w = RNG.standard_normal((4, 3, 3, 2))
    sigma = RNG.uniform(1.5, 3.0, 4)
    y = nn.gaussian_rbf2d(pycnn.tensor(x), pycnn.tensor(w), pycnn.tensor(sigma), stride=(2, 1), padding=1)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    Ho, Wo = (6 + 2 - 3) // 2 + 1, (5 + 2 - 2) + 1
    ref = np.zeros((2, 4, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            patch = xp[:, :, 2 * i:2 * i + 3, j:j + 2]
            d2 = ((patch[:, None] - w[None]) ** 2).sum((2, 3, 4))
            ref[:, :, i, j] = np.exp(-d2 / (2 * sigma ** 2))
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-10, atol=1e-12)
    gradcheck(lambda a, b, s: nn.gaussian_rbf2d(a, b, s, 1, 0), x[:1, :, :4, :4], w[:2], sigma[:2])
    layer = nn.GaussianRBF2d(3, 5, 2, sigma=0.7, learn_sigma=True)
    assert [k for k, _ in layer.named_parameters()] == ["weight", "sigma"]
    assert layer(pycnn.randn(1, 3, 4, 4)).shape == (1, 5, 3, 3)
    with pytest.raises(ValueError, match="gaussian_rbf2d: expected input"):
        nn.gaussian_rbf2d(pycnn.randn(1, 2, 4, 4), pycnn.randn(3, 3, 2, 2), 1.0)


# ----------------------------------------------------------------------------- HMAX
def test_hmax_digits_accuracy():
    """Prototypes sampled (no labels) from C1 of 300 training digits, then only the linear
    classifier trains on C2 features: >= 90 % on the 360 test digits."""
    start = time.perf_counter()
    pycnn.manual_seed(0)
    split = pycnn.datasets.digits(image_size=32)
    xtr, ytr = split.train.tensors
    xte, yte = split.test.tensors
    model = models.hmax(num_prototypes=128, prototype_sizes=(2, 3))
    s1_before = model.s1_weight.numpy().copy()
    model.sample_prototypes(xtr[:300], seed=0)
    protos = [layer.weight.numpy().copy() for layer in model.s2]
    assert all(not layer.weight.requires_grad for layer in model.s2)
    with pycnn.no_grad():
        ftr = pycnn.cat([model.features(xtr[i:i + 256]) for i in range(0, len(xtr), 256)], 0)
        fte = pycnn.cat([model.features(xte[i:i + 256]) for i in range(0, len(xte), 256)], 0)
    assert ftr.shape == (len(xtr), 256)
    opt = pycnn.optim.Adam(model.classifier.parameters(), lr=0.01, weight_decay=1e-4)
    for _ in range(200):
        loss = nn.functional.cross_entropy(model.classifier(ftr), ytr)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with pycnn.no_grad():
        acc = float((model(xte).argmax(1).numpy() == yte.numpy()).mean())
    elapsed = time.perf_counter() - start
    print(f"HMAX digits test accuracy {100 * acc:.1f}% in {elapsed:.1f}s")
    assert acc >= 0.90
    np.testing.assert_array_equal(model.s1_weight.numpy(), s1_before)  # S1 fixed
    for layer, p in zip(model.s2, protos):
        np.testing.assert_array_equal(layer.weight.numpy(), p)  # prototypes fixed
    assert elapsed < 60


def test_hmax_stages():
    bank = gabor_bank((7, 9), 4)
    assert bank.shape == (8, 1, 9, 9)
    flat = bank.reshape(8, -1)
    np.testing.assert_allclose(flat.sum(1), 0, atol=1e-5)           # zero mean
    np.testing.assert_allclose(np.linalg.norm(flat, axis=1), 1, rtol=1e-5)  # unit norm
    model = models.HMAX(num_prototypes=6, prototype_sizes=(2,), s1_sizes=(7, 9), c1_pools=(4,))
    x = pycnn.tensor(RNG.random((2, 1, 16, 16)).astype(np.float32))
    s1 = model.s1(x).numpy()
    assert s1.shape == (2, 2, 4, 16, 16) and s1.min() >= 0
    (c1,) = model.c1(x)
    # C1 = max over the two scales, then over 4x4 windows with stride 2
    m = s1.max(1)
    ref = np.stack([[m[:, :, 2 * i:2 * i + 4, 2 * j:2 * j + 4].max((2, 3)) for j in range(7)] for i in range(7)])
    np.testing.assert_allclose(c1.numpy(), ref.transpose(2, 3, 0, 1), rtol=1e-6)
    # a forward in training mode samples the prototypes from that batch once (no labels)
    assert int(model.prototypes_sampled.item()) == 0
    model.train()(x)
    assert int(model.prototypes_sampled.item()) == 1
    w = model.s2[0].weight.numpy().copy()
    model(pycnn.tensor(RNG.random((2, 1, 16, 16)).astype(np.float32)))
    np.testing.assert_array_equal(model.s2[0].weight.numpy(), w)
    # every prototype is some C1 patch, so its C2 response on its own image is exactly 1
    c2 = model.c2(x).numpy()
    assert np.isclose(c2.max(0), 1.0, atol=1e-4).all()


# ----------------------------------------------------------------------------- summary
def test_summary_conv_counts_formula_and_torch():
    """Every Conv2d row: params = C_out (C_in K^2 / groups + 1) = torch numel; mult-adds =
    numel(torch output) C_in K^2 / groups; totals = num_parameters."""
    torch = pytest.importorskip("torch")
    import torch_zoo as tz
    for pm, tm, shape in ((models.mobilenet_v2(num_classes=10, width_mult=0.5),
                           tz.MobileNetV2(num_classes=10, width_mult=0.5), (3, 32, 32)),
                          (models.resnet20(shortcut="B"), tz.CifarResNet(3, shortcut="B"), (3, 32, 32))):
        s = pycnn.summary(pm, shape, verbose=False)
        tmods = dict(tm.named_modules())
        outs = {}
        hooks = [m.register_forward_hook(lambda mod, i, o, name=n: outs.__setitem__(name, o.shape))
                 for n, m in tmods.items() if isinstance(m, torch.nn.Conv2d)]
        tm.eval()(torch.randn(1, *shape))
        for h in hooks:
            h.remove()
        rows = [r for r in s.layers if r.type == "Conv2d"]
        assert len(rows) == len(outs) > 5
        for r in rows:
            m, t = dict(pm.named_modules())[r.name], tmods[r.name]
            formula = conv(m.in_channels, m.out_channels, m.kernel_size, m.groups, m.bias is not None)
            assert r.params == formula == sum(p.numel() for p in t.parameters()), r.name
            assert r.output_shape == tuple(outs[r.name])
            assert r.mult_adds == math.prod(outs[r.name]) * t.in_channels // t.groups * math.prod(t.kernel_size)
        assert s.total_params == pm.num_parameters() == sum(p.numel() for p in tm.parameters())
        assert s.total_mult_adds == sum(r.mult_adds for r in s.layers)
        linear = sum(r.mult_adds for r in s.layers if r.type == "Linear")
        assert linear == sum(r.params - r.output_shape[-1] for r in s.layers if r.type == "Linear")


def test_summary_receptive_field_matches_gradient():
    """A sequential conv/pool stack: the summary's receptive field is r = 1 + sum (k-1) d j and
    equals the span of input pixels with a nonzero gradient for output pixel (0, 0)."""
    net = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Conv2d(3, 3, 3, stride=2), nn.BatchNorm2d(3),
                        nn.MaxPool2d(2), nn.Conv2d(3, 2, (3, 2), dilation=2), nn.AvgPool2d(2))
    s = pycnn.summary(net, (1, 40, 40), verbose=False)
    # (r, j): (3,1) -> (5,2) -> pool (7,4) -> conv dil 2 (7+2*2*4=23, 4) / (7+1*2*4=15) -> avg (27, 8) / (19, 8)
    assert s.receptive_field == (27, 19) and s.receptive_field_layer == "6"
    assert [r.receptive_field for r in s.layers][:3] == [(3, 3), (3, 3), (5, 5)]
    with pycnn.no_grad():
        for p in net.parameters():
            p.copy_(p.abs() + 0.05)
    net.eval()
    x = pycnn.tensor(RNG.random((1, 1, 40, 40)).astype(np.float32) + 0.1, requires_grad=True)
    net(x)[0, :, 0, 0].sum().backward()
    rows, cols = np.nonzero(np.abs(x.grad.numpy()[0, 0]) > 0)
    assert (rows.max() + 1, cols.max() + 1) == s.receptive_field and rows.min() == cols.min() == 0


def test_summary_table_and_frozen_params(capsys):
    model = models.HMAX(num_prototypes=5, prototype_sizes=(2, 3), s1_sizes=(7, 9), c1_pools=(4,))
    s = pycnn.summary(model, (1, 16, 16))
    printed = capsys.readouterr().out
    assert "Total params" in printed and "GaussianRBF2d" in printed and str(s) in printed
    frozen = 5 * 4 * (2 * 2 + 3 * 3)  # the prototypes
    assert s.frozen_params == frozen and s.trainable_params == 10 * 10 + 10
    assert s.total_params == model.num_parameters()
    rbf = [r for r in s.layers if r.type == "GaussianRBF2d"]
    assert [r.frozen_params for r in rbf] == [5 * 4 * 4, 5 * 4 * 9] and all(r.trainable_params == 0 for r in rbf)
    # a module called twice (ResNet's shared ReLU) counts its parameters once; modes are restored
    net = models.resnet20().train()
    s = pycnn.summary(net, (3, 32, 32), batch_size=2, verbose=False)
    assert net.training and all(m.training for m in net.modules())
    assert s.total_params == sum(r.params for r in s.layers) == net.num_parameters()
    assert s.layers[0].output_shape == (2, 16, 32, 32)
    with pytest.raises(ValueError, match="summary: input_size"):
        pycnn.summary(net, (3, 0, 32))
    with pytest.raises(TypeError, match="summary: model must be an nn.Module"):
        pycnn.summary(lambda x: x, (3, 4, 4))


def test_summary_cli(capsys):
    from pycnn.cli import main
    assert main(["summary", "--model", "resnet20", "--input-size", "3", "32", "32"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 269,722" in out and "layer3.2.conv2" in out
    assert main(["summary", "--model", "LeNet-5", "--input-size", "1", "32", "32", "--num-classes", "4"]) == 0
    assert "[1, 4]" in capsys.readouterr().out
    assert main(["summary", "--model", "nope", "--input-size", "3", "8", "8"]) == 2
    assert "unknown" in capsys.readouterr().err
