"""Bad input to the core ops, modules and optimizers: the exception type, and a message that
names the op (and the offending argument, value or shapes)."""
import numpy as np
import pytest

import pycnn
import pycnn.functional as F
import pycnn.nn as nn
from pycnn.optim import SGD
from pycnn.optim.lr_scheduler import CosineAnnealingLR, StepLR


def fl(*shape):
    return pycnn.randn(*shape)


def ints(*shape):
    return pycnn.tensor(np.arange(int(np.prod(shape))).reshape(shape) + 1)


def fake_cuda(t):
    """A CPU tensor that claims to live on 'cuda': exercises Function.apply's device check."""
    t.device = "cuda"
    return t


CASES = {
    # matmul / linear: ndim and shape mismatches
    "matmul_0d": (lambda: pycnn.matmul(pycnn.tensor(2.0), fl(2)), ValueError, r"matmul.*\(\).*\(2,\)"),
    "matmul_inner": (lambda: fl(2, 3) @ fl(4, 2), ValueError, r"matmul.*\(2, 3\).*\(4, 2\)"),
    "matmul_1d": (lambda: fl(3) @ fl(4), ValueError, r"matmul.*\(3,\).*\(4,\)"),
    "matmul_batch": (lambda: fl(2, 2, 3) @ fl(3, 3, 2), ValueError, r"matmul.*batch.*\(2, 2, 3\)"),
    "matmul_int": (lambda: ints(2, 2) @ ints(2, 2), TypeError, r"matmul.*int64"),
    "matmul_dtypes": (lambda: fl(2, 2) @ fl(2, 2).double(), TypeError, r"matmul.*float32.*float64"),
    "linear_in_features": (lambda: F.linear(fl(3, 4), fl(2, 5)), ValueError, r"linear.*\(3, 4\).*\(2, 5\)"),
    "linear_weight_ndim": (lambda: F.linear(fl(3, 4), fl(4)), ValueError, r"linear.*weight"),
    "linear_bias": (lambda: F.linear(fl(3, 4), fl(2, 4), fl(3)), ValueError, r"linear.*bias.*\(3,\)"),
    "linear_int": (lambda: F.linear(ints(3, 4), fl(2, 4)), TypeError, r"linear.*int64"),
    "linear_dtypes": (lambda: F.linear(fl(3, 4).double(), fl(2, 4)), TypeError, r"linear.*float64.*float32"),
    "linear_module": (lambda: nn.Linear(5, 2)(fl(3, 4)), ValueError, r"linear.*\(3, 4\)"),
    # float-only ops given int tensors
    "mean_int": (lambda: ints(3).mean(), TypeError, r"mean.*int64"),
    "softmax_int": (lambda: F.softmax(ints(2, 3), 1), TypeError, r"softmax.*int64"),
    "log_softmax_int": (lambda: ints(2, 3).log_softmax(1), TypeError, r"log_softmax.*int64"),
    "leaky_relu_int": (lambda: F.leaky_relu(ints(3)), TypeError, r"leaky_relu.*int64"),
    "dropout_int": (lambda: F.dropout(ints(3)), TypeError, r"dropout.*int64"),
    "mse_int": (lambda: F.mse_loss(ints(3), fl(3)), TypeError, r"mse_loss.*int64"),
    "cross_entropy_int": (lambda: F.cross_entropy(ints(2, 3), pycnn.tensor([0, 1])), TypeError,
                          r"cross_entropy.*int64"),
    "nll_int": (lambda: F.nll_loss(ints(2, 3), pycnn.tensor([0, 1])), TypeError, r"nll_loss.*int64"),
    # labels
    "ce_label_high": (lambda: F.cross_entropy(fl(3, 4), pycnn.tensor([0, 4, 1])), ValueError,
                      r"cross_entropy.*\[0, 3\].*got 4"),
    "ce_label_negative": (lambda: F.cross_entropy(fl(2, 4), pycnn.tensor([-1, 1])), ValueError,
                          r"cross_entropy.*got -1"),
    "nll_label_high": (lambda: F.nll_loss(fl(2, 3), pycnn.tensor([3, 0])), ValueError, r"nll_loss.*got 3"),
    "ce_label_nd": (lambda: F.cross_entropy(fl(2, 3, 4), pycnn.tensor(np.full((2, 4), 7))), ValueError,
                    r"cross_entropy.*got 7"),
    "ce_float_labels": (lambda: F.cross_entropy(fl(2, 3), pycnn.tensor([0.0, 1.0])), TypeError,
                        r"cross_entropy.*target.*float32"),
    "ce_target_shape": (lambda: F.cross_entropy(fl(2, 3), pycnn.tensor([0, 1, 2])), ValueError,
                        r"cross_entropy.*\(3,\).*\(2, 3\)"),
    "ce_input_0d": (lambda: F.cross_entropy(pycnn.tensor(1.0), pycnn.tensor(0)), ValueError, r"cross_entropy"),
    "ce_weight_shape": (lambda: F.cross_entropy(fl(2, 3), pycnn.tensor([0, 1]), weight=fl(4)), ValueError,
                        r"nll_loss.*weight.*\(4,\)"),
    "ce_reduction": (lambda: F.cross_entropy(fl(2, 3), pycnn.tensor([0, 1]), reduction="avg"), ValueError,
                     r"reduction.*'avg'"),
    "ce_label_smoothing": (lambda: F.cross_entropy(fl(2, 3), pycnn.tensor([0, 1]), label_smoothing=1.5),
                           ValueError, r"cross_entropy.*label_smoothing"),
    "mse_shapes": (lambda: F.mse_loss(fl(2, 3), fl(3, 2)), ValueError, r"mse_loss.*\(2, 3\).*\(3, 2\)"),
    "mse_reduction": (lambda: F.mse_loss(fl(2), fl(2), reduction="avg"), ValueError, r"mse_loss.*'avg'"),
    # mismatched devices (Function.apply's check)
    "device_add": (lambda: fl(2) + fake_cuda(fl(2)), RuntimeError, r"Add.*same device.*cpu.*cuda"),
    "device_matmul": (lambda: fl(2, 2) @ fake_cuda(fl(2, 2)), RuntimeError, r"MatMul.*same device"),
    "device_linear": (lambda: F.linear(fl(3, 2), fake_cuda(fl(4, 2))), RuntimeError, r"Linear.*same device"),
    "device_nll": (lambda: F.nll_loss(fl(2, 3), fake_cuda(pycnn.tensor([0, 1]))), RuntimeError,
                   r"NLLLoss.*same device"),
    "device_cat": (lambda: pycnn.cat([fl(2), fake_cuda(fl(2))]), RuntimeError, r"Cat.*same device"),
    # shapes
    "broadcast": (lambda: fl(2, 3) + fl(4), ValueError, r"add.*\(2, 3\).*\(4,\)"),
    "broadcast_mul": (lambda: fl(2, 3) * fl(2), ValueError, r"mul.*\(2, 3\).*\(2,\)"),
    "reshape_size": (lambda: fl(2, 3).reshape(4, 2), RuntimeError, r"reshape.*\[4, 2\].*6"),
    "reshape_two_minus1": (lambda: fl(6).reshape(-1, -1), RuntimeError, r"reshape"),
    "reshape_negative": (lambda: fl(6).reshape(-2, -3), RuntimeError, r"reshape.*-2"),
    "reshape_indivisible": (lambda: fl(7).view(2, -1), RuntimeError, r"reshape.*7"),
    "permute": (lambda: fl(2, 3).permute(0, 0), ValueError, r"permute"),
    "transpose_dim": (lambda: fl(2, 3).transpose(0, 2), IndexError, r"transpose.*dim 2"),
    "sum_dim": (lambda: fl(2, 3).sum(3), IndexError, r"sum.*dim 3"),
    "max_empty": (lambda: pycnn.zeros(0).max(), RuntimeError, r"max.*\(0,\)"),
    "softmax_dim": (lambda: F.softmax(fl(2, 3), 2), IndexError, r"softmax.*dim 2"),
    "expand": (lambda: fl(2, 3).expand(4, 3), RuntimeError, r"expand.*\(2, 3\)"),
    "expand_new_dim_minus1": (lambda: fl(3).expand(-1, 3), RuntimeError, r"expand.*\(3,\)"),
    "expand_fewer_dims": (lambda: fl(2, 3).expand(3), RuntimeError, r"expand.*\(2, 3\)"),
    "cat_shapes": (lambda: pycnn.cat([fl(2, 3), fl(2, 4)]), ValueError, r"cat.*\(2, 3\).*\(2, 4\)"),
    "cat_empty": (lambda: pycnn.cat([]), ValueError, r"cat"),
    "stack_shapes": (lambda: pycnn.stack([fl(2), fl(3)]), ValueError, r"stack.*\(2,\).*\(3,\)"),
    "getitem": (lambda: fl(2, 3)[5], IndexError, r"getitem.*\(2, 3\)"),
    "flatten": (lambda: fl(2, 3, 4).flatten(2, 1), ValueError, r"flatten"),
    "pad_odd": (lambda: F.pad(fl(2, 3), (1, 2, 3)), ValueError, r"pad.*\(1, 2, 3\)"),
    "pad_negative": (lambda: F.pad(fl(2, 3), (-2, -2)), ValueError, r"pad: padding \(-2, -2\) crops more than the size 3"),
    "item": (lambda: fl(2).item(), ValueError, r"item.*\(2,\)"),
    "dropout_p": (lambda: F.dropout(fl(2), 1.5), ValueError, r"dropout.*1.5"),
    "dropout_module_p": (lambda: nn.Dropout(-0.1), ValueError, r"Dropout.*-0.1"),
    "int_requires_grad": (lambda: ints(2).requires_grad_(), RuntimeError, r"requires_grad_.*int64"),
    "bad_dtype": (lambda: pycnn.tensor([1.0], dtype="float16"), TypeError, r"dtype.*float16"),
    "bad_data": (lambda: pycnn.tensor(["a"]), TypeError, r"tensor"),
    "unknown_operand": (lambda: fl(2) + "x", TypeError, r"add.*str"),
    # optimizers and schedulers
    "sgd_lr": (lambda: SGD([fl(2).requires_grad_()], lr=-0.1), ValueError, r"SGD.*lr=-0.1"),
    "sgd_momentum": (lambda: SGD([fl(2).requires_grad_()], lr=0.1, momentum=-1), ValueError, r"SGD.*momentum"),
    "sgd_wd": (lambda: SGD([fl(2).requires_grad_()], lr=0.1, weight_decay=-1), ValueError, r"SGD.*weight_decay"),
    "sgd_nesterov": (lambda: SGD([fl(2).requires_grad_()], lr=0.1, nesterov=True), ValueError, r"SGD.*nesterov"),
    "sgd_nesterov_damp": (lambda: SGD([fl(2).requires_grad_()], lr=0.1, momentum=0.9, dampening=0.1,
                                      nesterov=True), ValueError, r"SGD.*nesterov"),
    "sgd_empty": (lambda: SGD([], lr=0.1), ValueError, r"SGD.*empty"),
    "sgd_tensor": (lambda: SGD(fl(2).requires_grad_(), lr=0.1), TypeError, r"SGD.*iterable"),
    "sgd_non_leaf": (lambda: SGD([fl(2).requires_grad_() * 2], lr=0.1), TypeError, r"SGD.*leaf"),
    "sgd_duplicate_group": (lambda: (lambda p: SGD([{"params": [p]}, {"params": [p]}], lr=0.1))(
        fl(2).requires_grad_()), ValueError, r"SGD.*more than one group"),
    "steplr": (lambda: StepLR(SGD([fl(1).requires_grad_()], lr=0.1), step_size=0), ValueError, r"StepLR.*step_size"),
    "cosine": (lambda: CosineAnnealingLR(SGD([fl(1).requires_grad_()], lr=0.1), T_max=0), ValueError,
               r"CosineAnnealingLR.*T_max"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name):
    fn, exc, pattern = CASES[name]
    with pytest.raises(exc, match=pattern):
        fn()


def test_backward_errors_name_backward():
    x = fl(2, 2).requires_grad_()
    with pytest.raises(RuntimeError, match=r"backward.*scalar.*\(2, 2\)"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match=r"backward.*gradient shape \(3,\).*\(2, 2\)"):
        (x * 2).backward(pycnn.ones(3))
