"""The bad-input matrix (issue 11): each public op (functional ops, layer constructors and their
forwards) against each class of bad argument gets the documented exception, with a message that
names the op and the argument.

    a non-Tensor (None, str, list, ndarray) where a Tensor is required      TypeError
    a non-integral float, 2.0, a bool, a str or None where an int is        TypeError
    an int beyond int64                                                     ValueError
    1, 1.0, 'yes' or None for a flag torch's parser takes as a strict bool   TypeError
    1.0, 'yes', 2 or None for a flag torch reads by truthiness (0/1 pass)    TypeError
    0 channels / features / groups for a layer                              ValueError
    empty inputs                                                            torch's empty result, or a clear error
    1-D ops' errors name the 1-D op and never an overflowed size
    huge sizes, int64 overflow, huge thread counts: run in a subprocess under a timeout and an
    address-space limit, and must end in a Python exception (or the right result), never a signal.
"""
import json
import os
import re
import resource
import select
import signal
import subprocess
import tempfile
import sys
import time

import numpy as np
import pytest

import pycnn
import pycnn.functional as F
import pycnn.nn as nn
from pycnn import filters
from pycnn.data import DataLoader, TensorDataset
from helpers import randn


def T(*shape, dtype="float32"):
    return pycnn.tensor(randn(*shape, dtype=dtype))


X1, X2 = T(2, 3, 8), T(2, 3, 8, 8)
W1, W2 = T(4, 3, 3), T(4, 3, 3, 3)  # conv weights (C_out, C_in, k...)
WT1, WT2 = T(3, 4, 3), T(3, 4, 3, 3)  # conv_transpose weights (C_in, C_out, k...)
LOGITS, TARGET = T(2, 3), pycnn.tensor([0, 2])
Y1, I1 = F.max_pool1d(X1, 2, return_indices=True)
Y2, I2 = F.max_pool2d(X2, 2, return_indices=True)
C3 = T(3)  # a per-channel vector


# ============================================================================= tensor arguments
# (op named in the message, argument, call(value), valid value, None allowed)
TENSOR_ARGS = [
    ("relu", "input", lambda v: F.relu(v), X2, False),
    ("leaky_relu", "input", lambda v: F.leaky_relu(v), X2, False),
    ("sigmoid", "input", lambda v: F.sigmoid(v), X2, False),
    ("tanh", "input", lambda v: F.tanh(v), X2, False),
    ("softmax", "input", lambda v: F.softmax(v, 1), X2, False),
    ("log_softmax", "input", lambda v: F.log_softmax(v, 1), X2, False),
    ("dropout", "input", lambda v: F.dropout(v, 0.5), X2, False),
    ("linear", "input", lambda v: F.linear(v, T(2, 3)), LOGITS, False),
    ("linear", "weight", lambda v: F.linear(LOGITS, v), T(2, 3), False),
    ("linear", "bias", lambda v: F.linear(LOGITS, T(2, 3), v), T(2), True),
    ("nll_loss", "input", lambda v: F.nll_loss(v, TARGET), LOGITS, False),
    ("nll_loss", "target", lambda v: F.nll_loss(LOGITS, v), TARGET, False),
    ("nll_loss", "weight", lambda v: F.nll_loss(LOGITS, TARGET, v), C3, True),
    ("cross_entropy", "input", lambda v: F.cross_entropy(v, TARGET), LOGITS, False),
    ("cross_entropy", "target", lambda v: F.cross_entropy(LOGITS, v), TARGET, False),
    ("cross_entropy", "weight", lambda v: F.cross_entropy(LOGITS, TARGET, v), C3, True),
    ("mse_loss", "input", lambda v: F.mse_loss(v, LOGITS), LOGITS, False),
    ("mse_loss", "target", lambda v: F.mse_loss(LOGITS, v), LOGITS, False),
    ("pad", "input", lambda v: F.pad(v, (1, 1)), X2, False),
    ("pad", "input", lambda v: F.pad(v, (1, 1, 1, 1), mode="reflect"), X2, False),
    ("conv1d", "input", lambda v: F.conv1d(v, W1), X1, False),
    ("conv1d", "weight", lambda v: F.conv1d(X1, v), W1, False),
    ("conv1d", "bias", lambda v: F.conv1d(X1, W1, v), T(4), True),
    ("conv2d", "input", lambda v: F.conv2d(v, W2), X2, False),
    ("conv2d", "weight", lambda v: F.conv2d(X2, v), W2, False),
    ("conv2d", "bias", lambda v: F.conv2d(X2, W2, v), T(4), True),
    ("conv_transpose1d", "input", lambda v: F.conv_transpose1d(v, WT1), X1, False),
    ("conv_transpose1d", "weight", lambda v: F.conv_transpose1d(X1, v), WT1, False),
    ("conv_transpose2d", "input", lambda v: F.conv_transpose2d(v, WT2), X2, False),
    ("conv_transpose2d", "weight", lambda v: F.conv_transpose2d(X2, v), WT2, False),
    ("conv_transpose2d", "bias", lambda v: F.conv_transpose2d(X2, WT2, v), T(4), True),
    ("convolve2d", "input", lambda v: F.convolve2d(v, W2), X2, False),
    ("convolve2d", "kernel", lambda v: F.convolve2d(X2, v), W2, False),
    ("max_pool1d", "input", lambda v: F.max_pool1d(v, 2), X1, False),
    ("max_pool2d", "input", lambda v: F.max_pool2d(v, 2), X2, False),
    ("avg_pool1d", "input", lambda v: F.avg_pool1d(v, 2), X1, False),
    ("avg_pool2d", "input", lambda v: F.avg_pool2d(v, 2), X2, False),
    ("adaptive_avg_pool1d", "input", lambda v: F.adaptive_avg_pool1d(v, 3), X1, False),
    ("adaptive_avg_pool2d", "input", lambda v: F.adaptive_avg_pool2d(v, 3), X2, False),
    ("adaptive_max_pool1d", "input", lambda v: F.adaptive_max_pool1d(v, 3), X1, False),
    ("adaptive_max_pool2d", "input", lambda v: F.adaptive_max_pool2d(v, 3), X2, False),
    ("max_unpool1d", "input", lambda v: F.max_unpool1d(v, I1, 2), Y1, False),
    ("max_unpool1d", "indices", lambda v: F.max_unpool1d(Y1, v, 2), I1, False),
    ("max_unpool2d", "input", lambda v: F.max_unpool2d(v, I2, 2), Y2, False),
    ("max_unpool2d", "indices", lambda v: F.max_unpool2d(Y2, v, 2), I2, False),
    ("batch_norm", "input", lambda v: F.batch_norm(v, None, None, training=True), X2, False),
    ("batch_norm", "running_mean", lambda v: F.batch_norm(X2, v, None, training=True), C3, True),
    ("batch_norm", "running_var", lambda v: F.batch_norm(X2, None, v, training=True), T(3).abs(), True),
    ("batch_norm", "weight", lambda v: F.batch_norm(X2, None, None, v, training=True), C3, True),
    ("batch_norm", "bias", lambda v: F.batch_norm(X2, None, None, None, v, training=True), C3, True),
    ("instance_norm", "input", lambda v: F.instance_norm(v), X2, False),
    ("instance_norm", "weight", lambda v: F.instance_norm(X2, weight=v), C3, True),
    ("group_norm", "input", lambda v: F.group_norm(v, 3), X2, False),
    ("group_norm", "weight", lambda v: F.group_norm(X2, 3, v), C3, True),
    ("layer_norm", "input", lambda v: F.layer_norm(v, (8,)), X2, False),
    ("layer_norm", "bias", lambda v: F.layer_norm(X2, (8,), None, v), T(8), True),
    ("pixel_norm", "input", lambda v: F.pixel_norm(v), X2, False),
    ("interpolate", "input", lambda v: F.interpolate(v, size=4), X2, False),
    ("upsample_bed_of_nails", "input", lambda v: F.upsample_bed_of_nails(v, 2), X2, False),
    ("filter2d", "image", lambda v: filters.filter2d(v, filters.box(3)), X2, False),
    # layer forwards: the message names the op they run (or the layer, where it checks first)
    ("conv2d", "input", lambda v: nn.Conv2d(3, 4, 3)(v), X2, False),
    ("conv_transpose1d", "input", lambda v: nn.ConvTranspose1d(3, 4, 3)(v), X1, False),
    ("linear", "input", lambda v: nn.Linear(3, 2)(v), LOGITS, False),
    ("max_pool2d", "input", lambda v: nn.MaxPool2d(2)(v), X2, False),
    ("BatchNorm2d", "input", lambda v: nn.BatchNorm2d(3)(v), X2, False),
    ("InstanceNorm1d", "input", lambda v: nn.InstanceNorm1d(3)(v), X1, False),
    ("CausalConv1d", "input", lambda v: nn.CausalConv1d(3, 4, 2)(v), X1, False),
    ("DepthwiseSeparableConv2d", "input", lambda v: nn.DepthwiseSeparableConv2d(3, 4, 3)(v), X2, False),
    ("Flatten", "input", lambda v: nn.Flatten()(v), X2, False),
    ("cross_entropy", "target", lambda v: nn.CrossEntropyLoss()(LOGITS, v), TARGET, False),
]
NOT_TENSORS = {"None": None, "str": "x", "list": [[1.0, 2.0]], "ndarray": np.ones((2, 3, 8, 8), np.float32)}


def _id(case):
    return f"{case[0]}-{case[1]}"


@pytest.mark.parametrize("case", TENSOR_ARGS, ids=[_id(c) + f"-{i}" for i, c in enumerate(TENSOR_ARGS)])
def test_a_non_tensor_argument_is_a_type_error_naming_the_op_and_argument(case):
    op, arg, call, good, none_ok = case
    call(good)  # the valid call runs, so each failure below is the argument's
    for kind, bad in NOT_TENSORS.items():
        if bad is None and none_ok:
            call(None)
            continue
        with pytest.raises(TypeError, match=rf"^{op}: {arg} must be a Tensor") as info:
            call(bad)
        assert type(bad).__name__ in str(info.value), (kind, str(info.value))


# ============================================================================= int arguments
# (op, argument, call(value), valid value, None allowed, number of values a tuple takes (0: an int only))
INT_ARGS = [
    ("conv1d", "stride", lambda v: F.conv1d(X1, W1, stride=v), 2, False, 1),
    ("conv1d", "padding", lambda v: F.conv1d(X1, W1, padding=v), 1, False, 1),
    ("conv1d", "dilation", lambda v: F.conv1d(X1, W1, dilation=v), 2, False, 1),
    ("conv1d", "groups", lambda v: F.conv1d(X1, W1, groups=v), 1, False, 0),
    ("conv2d", "stride", lambda v: F.conv2d(X2, W2, stride=v), 2, False, 2),
    ("conv2d", "padding", lambda v: F.conv2d(X2, W2, padding=v), 1, False, 2),
    ("conv2d", "dilation", lambda v: F.conv2d(X2, W2, dilation=v), 2, False, 2),
    ("conv2d", "groups", lambda v: F.conv2d(X2, W2, groups=v), 1, False, 0),
    ("conv_transpose1d", "stride", lambda v: F.conv_transpose1d(X1, WT1, stride=v), 2, False, 1),
    ("conv_transpose1d", "output_padding", lambda v: F.conv_transpose1d(X1, WT1, stride=2, output_padding=v),
     1, False, 1),
    ("conv_transpose2d", "stride", lambda v: F.conv_transpose2d(X2, WT2, stride=v), 2, False, 2),
    ("conv_transpose2d", "padding", lambda v: F.conv_transpose2d(X2, WT2, padding=v), 1, False, 2),
    ("conv_transpose2d", "output_padding", lambda v: F.conv_transpose2d(X2, WT2, stride=2, output_padding=v),
     1, False, 2),
    ("conv_transpose2d", "dilation", lambda v: F.conv_transpose2d(X2, WT2, dilation=v), 2, False, 2),
    ("conv_transpose2d", "groups", lambda v: F.conv_transpose2d(X2, WT2, groups=v), 1, False, 0),
    ("convolve2d", "stride", lambda v: F.convolve2d(X2, W2, stride=v), 2, False, 2),
    ("conv2d_matrix", "stride", lambda v: F.conv2d_matrix((3, 8, 8), W2, stride=v), 2, False, 2),
    ("conv2d_matrix", "groups", lambda v: F.conv2d_matrix((3, 8, 8), W2, groups=v), 1, False, 0),
    ("max_pool1d", "kernel_size", lambda v: F.max_pool1d(X1, v), 2, False, 1),
    ("max_pool1d", "dilation", lambda v: F.max_pool1d(X1, 2, dilation=v), 2, False, 1),
    ("max_pool2d", "kernel_size", lambda v: F.max_pool2d(X2, v), 2, False, 2),
    ("max_pool2d", "stride", lambda v: F.max_pool2d(X2, 2, v), 1, True, 2),
    ("max_pool2d", "padding", lambda v: F.max_pool2d(X2, 2, padding=v), 1, False, 2),
    ("max_pool2d", "dilation", lambda v: F.max_pool2d(X2, 2, dilation=v), 2, False, 2),
    ("avg_pool1d", "kernel_size", lambda v: F.avg_pool1d(X1, v), 2, False, 1),
    ("avg_pool1d", "stride", lambda v: F.avg_pool1d(X1, 2, v), 1, True, 1),
    ("avg_pool2d", "kernel_size", lambda v: F.avg_pool2d(X2, v), 2, False, 2),
    ("avg_pool2d", "padding", lambda v: F.avg_pool2d(X2, 2, padding=v), 1, False, 2),
    ("avg_pool2d", "divisor_override", lambda v: F.avg_pool2d(X2, 2, divisor_override=v), 3, True, 0),
    ("adaptive_avg_pool1d", "output_size", lambda v: F.adaptive_avg_pool1d(X1, v), 3, False, 0),
    ("adaptive_avg_pool2d", "output_size", lambda v: F.adaptive_avg_pool2d(X2, v), 3, True, 2),
    ("adaptive_max_pool1d", "output_size", lambda v: F.adaptive_max_pool1d(X1, v), 3, False, 0),
    ("adaptive_max_pool2d", "output_size", lambda v: F.adaptive_max_pool2d(X2, v), 3, True, 2),
    ("max_unpool1d", "kernel_size", lambda v: F.max_unpool1d(Y1, I1, v), 2, False, 1),
    ("max_unpool2d", "stride", lambda v: F.max_unpool2d(Y2, I2, 2, v), 2, True, 2),
    ("max_unpool2d", "output_size", lambda v: F.max_unpool2d(Y2, I2, 2, output_size=(v, 8)), 8, False, 0),
    ("pad", "pad", lambda v: F.pad(X2, (v, 1)), 1, False, 0),
    ("pad", "pad", lambda v: F.pad(X2, (1, 1, v, 1), mode="reflect"), 1, False, 0),
    ("nll_loss", "ignore_index", lambda v: F.nll_loss(LOGITS, TARGET, ignore_index=v), 1, False, 0),
    ("cross_entropy", "ignore_index", lambda v: F.cross_entropy(LOGITS, TARGET, ignore_index=v), 1, False, 0),
    ("group_norm", "num_groups", lambda v: F.group_norm(X2, v), 3, False, 0),
    ("layer_norm", "normalized_shape", lambda v: F.layer_norm(X2, v), 8, False, 1),
    ("interpolate", "size", lambda v: F.interpolate(X2, size=v), 4, True, 2),  # None: scale_factor's turn
    ("upsample_bed_of_nails", "scale_factor", lambda v: F.upsample_bed_of_nails(X2, v), 2, False, 2),
    ("softmax", "dim", lambda v: F.softmax(X2, v), 1, True, 0),
    ("log_softmax", "dim", lambda v: F.log_softmax(X2, v), 1, True, 0),
    ("gaussian", "size", lambda v: filters.gaussian(v, 1.0), 3, False, 0),
    ("box", "size", lambda v: filters.box(v), 3, False, 0),
    ("laplacian", "neighbours", lambda v: filters.laplacian(v), 4, False, 0),
    ("filter2d", "padding", lambda v: filters.filter2d(X2, filters.box(3), padding=v), 1, False, 2),
    ("zeros", "size", lambda v: pycnn.zeros(2, v), 3, False, 0),
    ("randn", "size", lambda v: pycnn.randn(v), 3, False, 0),
    ("full", "size", lambda v: pycnn.full((v, 2), 1.0), 3, False, 0),
    ("randperm", "n", lambda v: pycnn.randperm(v), 3, False, 0),
    ("DataLoader", "batch_size", lambda v: DataLoader(TensorDataset(LOGITS), batch_size=v), 2, True, 0),  # None: unbatched
    # layer constructors
    ("Conv1d", "in_channels", lambda v: nn.Conv1d(v, 4, 3), 3, False, 0),
    ("Conv2d", "kernel_size", lambda v: nn.Conv2d(3, 4, v), 3, False, 2),
    ("Conv2d", "stride", lambda v: nn.Conv2d(3, 4, 3, stride=v), 2, False, 2),
    ("Conv2d", "padding", lambda v: nn.Conv2d(3, 4, 3, padding=v), 1, False, 2),
    ("Conv2d", "dilation", lambda v: nn.Conv2d(3, 4, 3, dilation=v), 2, False, 2),
    ("Conv2d", "groups", lambda v: nn.Conv2d(4, 4, 3, groups=v), 2, False, 0),
    ("Conv2d", "out_channels", lambda v: nn.Conv2d(3, v, 3), 4, False, 0),
    ("ConvTranspose2d", "output_padding", lambda v: nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=v),
     1, False, 2),
    ("ConvTranspose2d", "output_size", lambda v: nn.ConvTranspose2d(3, 4, 3, stride=2)(X2, output_size=(v, 17)),
     17, False, 0),
    ("CausalConv1d", "kernel_size", lambda v: nn.CausalConv1d(3, 4, v), 2, False, 1),
    ("DepthwiseSeparableConv2d", "depth_multiplier",
     lambda v: nn.DepthwiseSeparableConv2d(3, 4, 3, depth_multiplier=v), 2, False, 0),
    ("Linear", "in_features", lambda v: nn.Linear(v, 2), 3, False, 0),
    ("Linear", "out_features", lambda v: nn.Linear(3, v), 2, False, 0),
    ("BatchNorm2d", "num_features", lambda v: nn.BatchNorm2d(v), 3, False, 0),
    ("InstanceNorm1d", "num_features", lambda v: nn.InstanceNorm1d(v), 3, False, 0),
    ("GroupNorm", "num_groups", lambda v: nn.GroupNorm(v, 6), 3, False, 0),
    ("GroupNorm", "num_channels", lambda v: nn.GroupNorm(3, v), 6, False, 0),
    ("LayerNorm", "normalized_shape", lambda v: nn.LayerNorm(v), 8, False, 1),
    ("MaxPool2d", "kernel_size", lambda v: nn.MaxPool2d(v), 2, False, 2),
    ("MaxPool1d", "padding", lambda v: nn.MaxPool1d(2, padding=v), 1, False, 1),
    ("AvgPool2d", "stride", lambda v: nn.AvgPool2d(2, v), 1, True, 2),
    ("AvgPool1d", "kernel_size", lambda v: nn.AvgPool1d(v), 2, False, 1),
    ("AdaptiveAvgPool2d", "output_size", lambda v: nn.AdaptiveAvgPool2d(v), 3, True, 2),
    ("MaxUnpool2d", "kernel_size", lambda v: nn.MaxUnpool2d(v), 2, False, 2),
    ("Upsample", "size", lambda v: nn.Upsample(size=v), 4, True, 2),
    ("Flatten", "start_dim", lambda v: nn.Flatten(v), 1, False, 0),
    ("Softmax", "dim", lambda v: nn.Softmax(v), 1, True, 0),
    ("CrossEntropyLoss", "ignore_index", lambda v: nn.CrossEntropyLoss(ignore_index=v), 1, False, 0),
    ("NLLLoss", "ignore_index", lambda v: nn.NLLLoss(ignore_index=v), 1, False, 0),
]
# conv padding also takes the strings 'same' / 'valid': any other string is a ValueError there
_STR_IS_VALUE = {("conv1d", "padding"), ("conv2d", "padding"), ("Conv2d", "padding"), ("filter2d", "padding"),
                 ("conv_transpose2d", "padding")}


def _int_message(op, arg):
    if (op, arg) == ("upsample_bed_of_nails", "scale_factor"):
        return rf"^{op}: scale_factor must be a positive int"
    return rf"^{op}: {arg} must be an int"


def _same(a, b):
    """Two results of the same call agree (Tensors by shape, modules by repr, loaders by length)."""
    if isinstance(a, tuple):
        return all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, pycnn.Tensor):  # by shape: randn, randperm and dropout draw anew on each call
        return a.shape == b.shape
    if isinstance(a, nn.Module):  # modules keep pool arguments as given, as torch: np.int32(2) is 2
        return re.sub(r"np\.int\d+\((-?\d+)\)", r"\1", repr(a)) == repr(b)
    if isinstance(a, DataLoader):
        return len(a) == len(b)
    return type(a) is type(b)


@pytest.mark.parametrize("case", INT_ARGS, ids=[_id(c) + f"-{i}" for i, c in enumerate(INT_ARGS)])
def test_an_int_argument_rejects_floats_bools_strings_and_none(case):
    op, arg, call, good, none_ok, n = case
    ref = call(good)
    # numpy integers are ints (torch's parser takes them too), in a tuple as well
    assert _same(call(np.int64(good)), ref)
    if n:
        assert _same(call((np.int32(good),) * n), call((good,) * n))
    bad = [1.5, float(good), True, "2"] + ([] if none_ok else [None])
    if n:
        bad += [[1.5] * n, (good,) * (n - 1) + (2.0,)]
    for value in bad:
        exc = ValueError if isinstance(value, str) and (op, arg) in _STR_IS_VALUE else TypeError
        with pytest.raises(exc, match=f"^{op}: " if exc is ValueError else _int_message(op, arg)):
            call(value)


@pytest.mark.parametrize("case", INT_ARGS, ids=[_id(c) + f"-{i}" for i, c in enumerate(INT_ARGS)])
def test_an_int_beyond_int64_is_a_value_error_naming_the_op(case):
    """Never pybind11's "incompatible function arguments" nor a silent wrap-around."""
    op, arg, call, good, none_ok, n = case
    for value in (2 ** 63, -(2 ** 63) - 1, 2 ** 64 + 1):
        with pytest.raises(ValueError, match=rf"^{op}: {arg} = {value} is outside the int64 range"):
            call(value)


# ============================================================================= flags
# torch's C++ parser takes only a bool for these (ceil_mode=1 is a TypeError there)
STRICT_FLAGS = [
    ("max_pool1d", "ceil_mode", lambda v: F.max_pool1d(X1, 3, ceil_mode=v)),
    ("max_pool2d", "ceil_mode", lambda v: F.max_pool2d(X2, 3, ceil_mode=v)),
    ("avg_pool1d", "ceil_mode", lambda v: F.avg_pool1d(X1, 3, ceil_mode=v)),
    ("avg_pool2d", "ceil_mode", lambda v: F.avg_pool2d(X2, 3, ceil_mode=v)),
    ("avg_pool1d", "count_include_pad", lambda v: F.avg_pool1d(X1, 3, padding=1, count_include_pad=v)),
    ("avg_pool2d", "count_include_pad", lambda v: F.avg_pool2d(X2, 3, padding=1, count_include_pad=v)),
    ("interpolate", "align_corners", lambda v: F.interpolate(X2, size=5, mode="bilinear", align_corners=v)),
    ("interpolate", "align_corners", lambda v: F.interpolate(X1, size=5, mode="linear", align_corners=v)),
    ("batch_norm", "training", lambda v: F.batch_norm(X2, C3, T(3).abs(), training=v)),
    ("instance_norm", "use_input_stats", lambda v: F.instance_norm(X2, C3, T(3).abs(), use_input_stats=v)),
    ("dropout", "training", lambda v: F.dropout(X2, 0.5, training=v)),
    ("MaxPool2d", "ceil_mode", lambda v: nn.MaxPool2d(3, ceil_mode=v)),
    ("AvgPool1d", "count_include_pad", lambda v: nn.AvgPool1d(3, count_include_pad=v)),
    ("Upsample", "align_corners", lambda v: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=v)),
]


_NONE_MEANS_DEFAULT = {"align_corners"}  # None is the default (False) there


@pytest.mark.parametrize("case", STRICT_FLAGS, ids=[_id(c) + f"-{i}" for i, c in enumerate(STRICT_FLAGS)])
def test_a_strict_bool_flag_is_never_coerced(case):
    op, arg, call = case
    call(True), call(False), call(np.bool_(True))
    for value in (1, 0, 1.0, "yes") + (() if arg in _NONE_MEANS_DEFAULT else (None,)):
        with pytest.raises(TypeError, match=rf"^{op}: {arg} must be a bool, got {re.escape(repr(value))}"):
            call(value)


# torch reads these by truthiness: the ints 0 and 1 pass (as False / True), the rest is a TypeError
# (op, argument, call(value), what the flag changes (compared between True and 1, False and 0), None allowed)
TRUTHY_FLAGS = [
    ("max_pool2d", "return_indices", lambda v: F.max_pool2d(X2, 2, return_indices=v), lambda r: isinstance(r, tuple),
     False),
    ("max_pool1d", "return_indices", lambda v: F.max_pool1d(X1, 2, return_indices=v), lambda r: isinstance(r, tuple),
     False),
    ("adaptive_max_pool2d", "return_indices", lambda v: F.adaptive_max_pool2d(X2, 3, return_indices=v),
     lambda r: isinstance(r, tuple), False),
    ("adaptive_max_pool1d", "return_indices", lambda v: F.adaptive_max_pool1d(X1, 3, return_indices=v),
     lambda r: isinstance(r, tuple), False),
    ("relu", "inplace", lambda v: F.relu(T(2, 3, 8, 8), inplace=v), None, False),
    ("leaky_relu", "inplace", lambda v: F.leaky_relu(T(2, 3, 8, 8), 0.1, inplace=v), None, False),
    ("dropout", "inplace", lambda v: F.dropout(T(2, 3, 8, 8), 0.5, training=False, inplace=v), None, False),
    ("interpolate", "recompute_scale_factor",
     lambda v: F.interpolate(X2, scale_factor=1.5, recompute_scale_factor=v), None, True),
    ("Conv2d", "bias", lambda v: nn.Conv2d(3, 4, 3, bias=v), lambda m: m.bias is not None, False),
    ("ConvTranspose1d", "bias", lambda v: nn.ConvTranspose1d(3, 4, 3, bias=v), lambda m: m.bias is not None, False),
    ("CausalConv1d", "bias", lambda v: nn.CausalConv1d(3, 4, 2, bias=v), lambda m: m.bias is not None, False),
    ("Linear", "bias", lambda v: nn.Linear(3, 2, bias=v), lambda m: m.bias is not None, False),
    ("BatchNorm2d", "affine", lambda v: nn.BatchNorm2d(3, affine=v), lambda m: m.weight is not None, False),
    ("BatchNorm1d", "track_running_stats", lambda v: nn.BatchNorm1d(3, track_running_stats=v),
     lambda m: m.running_mean is not None, False),
    ("InstanceNorm2d", "affine", lambda v: nn.InstanceNorm2d(3, affine=v), lambda m: m.weight is not None, False),
    ("GroupNorm", "affine", lambda v: nn.GroupNorm(3, 6, affine=v), lambda m: m.weight is not None, False),
    ("LayerNorm", "elementwise_affine", lambda v: nn.LayerNorm(8, elementwise_affine=v),
     lambda m: m.weight is not None, False),
    ("LayerNorm", "bias", lambda v: nn.LayerNorm(8, bias=v), lambda m: m.bias is not None, False),
    ("ReLU", "inplace", lambda v: nn.ReLU(inplace=v), lambda m: m.inplace, False),
    ("Dropout", "inplace", lambda v: nn.Dropout(inplace=v), lambda m: m.inplace, False),
    ("MaxPool2d", "return_indices", lambda v: nn.MaxPool2d(2, return_indices=v)(X2), lambda r: isinstance(r, tuple),
     False),
    ("AdaptiveMaxPool1d", "return_indices", lambda v: nn.AdaptiveMaxPool1d(3, return_indices=v)(X1),
     lambda r: isinstance(r, tuple), False),
    ("GlobalAvgPool2d", "flatten", lambda v: nn.GlobalAvgPool2d(flatten=v)(X2), lambda r: r.ndim, False),
    ("DataLoader", "shuffle", lambda v: DataLoader(TensorDataset(LOGITS), shuffle=v), lambda d: d.shuffle, True),
    ("DataLoader", "drop_last", lambda v: len(DataLoader(TensorDataset(T(3, 2)), batch_size=2, drop_last=v)),
     lambda n: n, False),
    ("sobel_x", "normalize", lambda v: filters.sobel_x(normalize=v), lambda k: float(k.numpy().max()), False),
    ("prewitt_y", "normalize", lambda v: filters.prewitt_y(normalize=v), lambda k: float(k.numpy().max()), False),
]


@pytest.mark.parametrize("case", TRUTHY_FLAGS, ids=[_id(c) + f"-{i}" for i, c in enumerate(TRUTHY_FLAGS)])
def test_a_truthy_flag_takes_0_and_1_and_rejects_the_rest(case):
    op, arg, call, effect, none_ok = case
    on, off, one, zero = call(True), call(False), call(1), call(0)
    if effect is not None:
        assert effect(on) != effect(off), "the flag changes nothing: the case cannot tell 0 from 1"
        assert effect(one) == effect(on) and effect(zero) == effect(off)
        assert effect(call(np.bool_(True))) == effect(on)
    for value in (1.0, "yes", 2, -1) + (() if none_ok else (None,)):
        with pytest.raises(TypeError, match=rf"^{op}: {arg} must be a bool, got {re.escape(repr(value))}"):
            call(value)


# ============================================================================= 0 channels
ZERO_CHANNELS = [
    ("Conv1d", "in_channels", lambda: nn.Conv1d(0, 4, 3)),
    ("Conv2d", "in_channels", lambda: nn.Conv2d(0, 4, 3)),
    ("Conv2d", "out_channels", lambda: nn.Conv2d(3, 0, 3)),
    ("ConvTranspose1d", "out_channels", lambda: nn.ConvTranspose1d(3, 0, 3)),
    ("ConvTranspose2d", "in_channels", lambda: nn.ConvTranspose2d(0, 4, 3)),
    ("CausalConv1d", "in_channels", lambda: nn.CausalConv1d(0, 4, 2)),
    ("DepthwiseSeparableConv2d", "in_channels", lambda: nn.DepthwiseSeparableConv2d(0, 4, 3)),
    ("Linear", "in_features", lambda: nn.Linear(0, 3)),
    ("Linear", "out_features", lambda: nn.Linear(3, 0)),
    ("BatchNorm1d", "num_features", lambda: nn.BatchNorm1d(0)),
    ("BatchNorm2d", "num_features", lambda: nn.BatchNorm2d(0)),
    ("InstanceNorm2d", "num_features", lambda: nn.InstanceNorm2d(0)),
    ("GroupNorm", "num_groups", lambda: nn.GroupNorm(0, 4)),
    ("GroupNorm", "num_channels", lambda: nn.GroupNorm(1, 0)),
]


@pytest.mark.parametrize("case", ZERO_CHANNELS, ids=[_id(c) for c in ZERO_CHANNELS])
def test_a_layer_with_no_channels_is_a_value_error_at_construction(case):
    """Not a ZeroDivisionError from the initializer's 1/sqrt(fan_in), nor a layer that fails later."""
    op, arg, make = case
    with pytest.raises(ValueError, match=rf"^{op}: {arg} must be a positive int, got 0"):
        make()


def test_a_kernel_with_no_taps_is_a_value_error_at_construction():
    for make, op in ((lambda: nn.Conv2d(3, 4, 0), "Conv2d"), (lambda: nn.Conv1d(3, 4, 0), "Conv1d"),
                     (lambda: nn.ConvTranspose2d(3, 4, (3, 0)), "ConvTranspose2d")):
        with pytest.raises(ValueError, match=rf"^{op}: kernel_size must be positive"):
            make()


def test_initialisers_on_zero_element_tensors_are_no_ops_as_in_torch():
    t = pycnn.zeros(4, 0, 3, 3)
    for init in (nn.init.kaiming_uniform_, nn.init.kaiming_normal_, nn.init.xavier_uniform_):
        with pytest.warns(UserWarning, match="zero-element"):
            assert init(t) is t


# ============================================================================= empty inputs
# torch 2.13's result shapes (tests/test_bad_input.py::test_empty_shapes_agree_with_torch checks them)
EMPTY = {
    "softmax_empty_dim": (lambda m: m.functional.softmax(m.zeros(2, 0), 1), (2, 0)),
    "log_softmax_empty_dim": (lambda m: m.functional.log_softmax(m.zeros(2, 0), 1), (2, 0)),
    "softmax_empty_batch": (lambda m: m.functional.softmax(m.randn(0, 3), 1), (0, 3)),
    "instance_norm_no_batch": (lambda m: m.functional.instance_norm(m.randn(0, 2, 3, 3)), (0, 2, 3, 3)),
    "instance_norm_no_channels": (lambda m: m.functional.instance_norm(m.randn(2, 0, 3, 3)), (2, 0, 3, 3)),
    "instance_norm_affine_no_batch": (lambda m: m.functional.instance_norm(
        m.randn(0, 2, 3, 3), weight=m.ones(2), bias=m.zeros(2)), (0, 2, 3, 3)),
    "group_norm_no_batch": (lambda m: m.functional.group_norm(m.randn(0, 2, 3, 3), 1), (0, 2, 3, 3)),
    "group_norm_no_pixels": (lambda m: m.functional.group_norm(m.randn(2, 2, 0, 3), 1), (2, 2, 0, 3)),
    "layer_norm_no_batch": (lambda m: m.functional.layer_norm(m.randn(0, 4), (4,)), (0, 4)),
    "batch_norm_eval_no_batch": (lambda m: m.functional.batch_norm(m.randn(0, 2, 3, 3), m.zeros(2), m.ones(2)),
                                 (0, 2, 3, 3)),
    "conv1d_no_batch": (lambda m: m.functional.conv1d(m.randn(0, 2, 5), m.randn(3, 2, 2)), (0, 3, 4)),
    "conv2d_no_batch": (lambda m: m.functional.conv2d(m.randn(0, 2, 5, 5), m.randn(3, 2, 3, 3)), (0, 3, 3, 3)),
    "conv_transpose2d_no_batch": (lambda m: m.functional.conv_transpose2d(m.randn(0, 2, 5, 5), m.randn(2, 3, 3, 3)),
                                  (0, 3, 7, 7)),
    "max_pool1d_no_batch": (lambda m: m.functional.max_pool1d(m.randn(0, 2, 6), 2), (0, 2, 3)),
    "max_pool2d_no_batch": (lambda m: m.functional.max_pool2d(m.randn(0, 2, 5, 5), 2), (0, 2, 2, 2)),
    "avg_pool2d_no_batch": (lambda m: m.functional.avg_pool2d(m.randn(0, 2, 5, 5), 2), (0, 2, 2, 2)),
    "adaptive_avg_pool2d_no_batch": (lambda m: m.functional.adaptive_avg_pool2d(m.randn(0, 2, 5, 5), 2),
                                     (0, 2, 2, 2)),
    "adaptive_avg_pool1d_zero_output": (lambda m: m.functional.adaptive_avg_pool1d(m.randn(1, 2, 5), 0), (1, 2, 0)),
    "interpolate_no_batch": (lambda m: m.functional.interpolate(m.randn(0, 2, 5, 5), size=3), (0, 2, 3, 3)),
    "linear_no_batch": (lambda m: m.functional.linear(m.randn(0, 3), m.randn(2, 3)), (0, 2)),
    "pad_no_batch": (lambda m: m.functional.pad(m.randn(0, 2, 5, 5), (1, 1, 1, 1), mode="reflect"), (0, 2, 7, 7)),
    "constant_pad_no_batch": (lambda m: m.functional.pad(m.randn(0, 2, 5), (1, 2)), (0, 2, 8)),
}
# torch returns an empty result; pycnn may instead raise a ValueError naming the op and the shape
EMPTY_OR_CLEAR_ERROR = {
    "instance_norm_no_pixels": (lambda m: m.functional.instance_norm(m.randn(2, 2, 0, 3)), (2, 2, 0, 3),
                                "instance_norm", r"\(2, 2, 0, 3\)"),
    "batch_norm_train_no_batch": (lambda m: m.functional.batch_norm(m.randn(0, 2, 3, 3), None, None, training=True),
                                  (0, 2, 3, 3), "batch_norm", r"\(0, 2, 3, 3\)"),
    "batch_norm_train_no_pixels": (lambda m: m.functional.batch_norm(m.randn(2, 2, 0), None, None, training=True),
                                   (2, 2, 0), "batch_norm", r"\(2, 2, 0\)"),
}


class _Lib:
    """The few names the EMPTY cases use, from pycnn or from torch."""

    def __init__(self, lib, functional):
        self.functional, self.zeros, self.ones, self.randn = functional, lib.zeros, lib.ones, lib.randn


@pytest.mark.parametrize("name", sorted(EMPTY))
def test_empty_inputs_give_torchs_empty_result(name):
    fn, shape = EMPTY[name]
    assert fn(_Lib(pycnn, F)).shape == shape


@pytest.mark.parametrize("name", sorted(EMPTY_OR_CLEAR_ERROR))
def test_empty_inputs_give_an_empty_result_or_a_clear_error(name):
    fn, shape, op, shape_pattern = EMPTY_OR_CLEAR_ERROR[name]
    try:
        out = fn(_Lib(pycnn, F))
    except ValueError as e:
        assert re.match(rf"{op}: .*{shape_pattern}", str(e)), str(e)
    else:
        assert out.shape == shape


# torch 2.13 itself fails there: IndexError from its repeat of the affine weight over N = 0 samples
_TORCH_FAILS = {"instance_norm_affine_no_batch"}


@pytest.mark.parametrize("name", sorted(set(EMPTY) - _TORCH_FAILS) + sorted(EMPTY_OR_CLEAR_ERROR))
def test_empty_shapes_agree_with_torch(name):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    fn, shape = (EMPTY.get(name) or EMPTY_OR_CLEAR_ERROR[name])[:2]
    assert tuple(fn(_Lib(torch, TF)).shape) == shape


# ============================================================================= 1-D ops name themselves
ONE_D = [
    ("conv1d", lambda: F.conv1d(T(1, 2, 5), T(3, 2, 7))),
    ("conv1d", lambda: F.conv1d(T(1, 2, 5), T(3, 3, 2))),
    ("conv1d", lambda: F.conv1d(T(1, 2, 5), T(3, 2, 2), stride=0)),
    ("conv1d", lambda: F.conv1d(T(1, 2, 5), T(3, 2, 2), padding=2 ** 62)),
    ("conv_transpose1d", lambda: F.conv_transpose1d(T(1, 2, 5), T(2, 3, 2), output_padding=2)),
    ("conv_transpose1d", lambda: F.conv_transpose1d(T(1, 2, 5), T(2, 3, 2), padding=10)),
    ("conv_transpose1d", lambda: F.conv_transpose1d(T(1, 2, 0), T(2, 3, 2))),
    ("conv_transpose1d", lambda: F.conv_transpose1d(T(1, 2, 5), T(2, 3, 2), stride=2 ** 62)),
    ("max_pool1d", lambda: F.max_pool1d(T(1, 2, 5), 7)),
    ("max_pool1d", lambda: F.max_pool1d(T(1, 2, 5), 2, padding=2)),
    ("max_pool1d", lambda: F.max_pool1d(T(1, 2, 5), 2, dilation=2 ** 62)),
    ("max_pool1d", lambda: F.max_pool1d(T(1, 2, 5), 2 ** 62)),
    ("avg_pool1d", lambda: F.avg_pool1d(T(1, 2, 5), 7)),
    ("avg_pool1d", lambda: F.avg_pool1d(T(1, 2, 5), 2, stride=0)),
    ("adaptive_max_pool1d", lambda: F.adaptive_max_pool1d(T(1, 2, 5), -1)),
    ("adaptive_avg_pool1d", lambda: F.adaptive_avg_pool1d(T(1, 2, 5), -3)),
    ("max_unpool1d", lambda: F.max_unpool1d(Y1, I1, 2, output_size=(40,))),
    ("max_unpool1d", lambda: F.max_unpool1d(Y1, I1 + 100, 2)),
    ("pad", lambda: F.pad(T(1, 2, 5), (5, 5), mode="reflect")),
]


@pytest.mark.parametrize("case", ONE_D, ids=[f"{c[0]}-{i}" for i, c in enumerate(ONE_D)])
def test_one_d_errors_name_the_one_d_op_and_no_overflowed_size(case):
    op, call = case
    with pytest.raises(ValueError, match=rf"^{op}: ") as info:
        call()
    msg = str(info.value)
    assert "2d" not in msg.replace(op, ""), msg  # never the 2-D op the kernels run
    assert not re.search(r"\(1, \d+, 1, \d+\)", msg), msg  # nor the lifted (N, C, 1, L) shape
    assert not re.search(r"-\d{7,}", msg), msg  # nor a size that wrapped around int64


# ============================================================================= crashes and hangs, in a subprocess
# (name, expression, regex the outcome must match): the outcome is "OK <shape>" or "<Exception>: <message>";
# a signal, a hang past the timeout or an exit without an outcome fails the case.
_NO_WRAP = r"(?!.*-\d{7,})"  # no overflowed (negative) size anywhere in the message
CRASH_CASES = [
    ("conv_transpose2d_stride_overflow",
     "F.conv_transpose2d(pycnn.ones(1, 1, 5, 5), pycnn.ones(1, 1, 3, 3), stride=(2**62, 1))",
     r"^ValueError: conv_transpose2d: " + _NO_WRAP + ".*overflow"),
    ("conv_transpose1d_stride_overflow", "F.conv_transpose1d(pycnn.ones(1, 1, 5), pycnn.ones(1, 1, 3), stride=2**62)",
     r"^ValueError: conv_transpose1d: " + _NO_WRAP + ".*overflow"),
    ("conv_transpose2d_empty_spatial", "F.conv_transpose2d(pycnn.ones(1, 2, 0, 3), pycnn.ones(2, 2, 3, 3))",
     r"^ValueError: conv_transpose2d: .*\(1, 2, 0, 3\)"),
    ("conv2d_padding_overflow", "F.conv2d(pycnn.ones(1, 1, 5, 5), pycnn.ones(1, 1, 3, 3), padding=2**62)",
     r"^ValueError: conv2d: " + _NO_WRAP),
    ("conv2d_dilation_overflow", "F.conv2d(pycnn.ones(1, 1, 5, 5), pycnn.ones(1, 1, 3, 3), dilation=2**62)",
     r"^ValueError: conv2d: " + _NO_WRAP),
    ("conv2d_stride_2**31", "F.conv2d(pycnn.randn(1, 1, 7, 7), pycnn.randn(1, 1, 3, 3), stride=2**31)",
     r"^OK \(1, 1, 1, 1\)$"),
    ("conv2d_stride_1x2**25", "F.conv2d(pycnn.randn(1, 1, 64, 64), pycnn.randn(1, 1, 3, 3), stride=(1, 2**25))",
     r"^OK \(1, 1, 62, 1\)$"),
    ("conv2d_huge_stride_backward",
     "(lambda x: (F.conv2d(x, pycnn.randn(2, 1, 3, 3), stride=(2**40, 3)).sum().backward(), x.grad)[1])"
     "(pycnn.randn(1, 1, 9, 9, requires_grad=True))", r"^OK \(1, 1, 9, 9\)$"),
    ("max_pool2d_kernel_2**62", "F.max_pool2d(pycnn.ones(1, 1, 5, 5), 2**62)", r"^ValueError: max_pool2d: " + _NO_WRAP),
    ("max_pool2d_dilation_2**62", "F.max_pool2d(pycnn.ones(1, 1, 5, 5), 2, dilation=2**62)",
     r"^ValueError: max_pool2d: " + _NO_WRAP),
    ("max_pool2d_ceil_stride_int64_max", "F.max_pool2d(pycnn.ones(1, 1, 5, 5), 2, stride=2**63 - 1, ceil_mode=True)",
     r"^(OK \(1, 1, 1, 1\)$|ValueError: max_pool2d: " + _NO_WRAP + ")"),
    ("avg_pool2d_stride_2**62", "F.avg_pool2d(pycnn.ones(1, 1, 5, 5), 3, stride=2**62, padding=1)",
     r"^OK \(1, 1, 1, 1\)$"),
    ("adaptive_avg_pool2d_huge", "F.adaptive_avg_pool2d(pycnn.ones(1, 1, 5, 5), 2**31)",
     r"^(ValueError|MemoryError): adaptive_avg_pool2d: "),
    ("max_unpool2d_huge", "F.max_unpool2d(*F.max_pool2d(pycnn.randn(1, 1, 4, 4), 2, return_indices=True), 2**31)",
     r"^(ValueError|MemoryError): max_unpool2d: "),
    ("interpolate_huge", "F.interpolate(pycnn.ones(1, 1, 4, 4), size=2**31)", r"^(ValueError|MemoryError): interpolate: "),
    ("interpolate_past_memory", "F.interpolate(pycnn.ones(1, 1, 4, 4), size=(1, 2**33))",
     r"^(ValueError|MemoryError|RuntimeError): "),
    ("interpolate_scale_1e30", "F.interpolate(pycnn.ones(1, 1, 4, 4), scale_factor=1e30)",
     r"^ValueError: interpolate: "),
    ("bed_of_nails_huge", "F.upsample_bed_of_nails(pycnn.ones(1, 1, 4, 4), 2**31)",
     r"^(ValueError|MemoryError): upsample_bed_of_nails: "),
    ("constant_pad_huge", "F.pad(pycnn.ones(1, 1, 4, 4), (2**40, 0))", r"^(ValueError|MemoryError): pad: "),
    ("replicate_pad_huge", "F.pad(pycnn.ones(1, 1, 4, 4), (2**31, 2**31, 2**31, 2**31), mode='replicate')",
     r"^(ValueError|MemoryError): pad: "),
    ("reflect_pad_huge", "F.pad(pycnn.ones(1, 1, 4, 4), (2**40, 0), mode='reflect')", r"^ValueError: pad: "),
    ("conv2d_matrix_huge", "F.conv2d_matrix((1, 2**20, 2**20), pycnn.ones(1, 1, 3, 3))",
     r"^(ValueError|MemoryError): conv2d_matrix: "),
    ("zeros_past_memory", "pycnn.zeros(2**33)", r"^MemoryError: zeros: "),
    ("randn_past_int64", "pycnn.randn(2**40, 2**40)", r"^ValueError: randn: "),
    ("box_huge", "filters.box(2**31)", r"^(ValueError|MemoryError): box: "),
    # the thread-count cases change the process's state: they run last (a crash restarts the child)
    ("set_num_threads_float", "pycnn.set_num_threads(1.9)", r"^TypeError: set_num_threads(\(\))?: "),
    ("set_num_threads_past_int64", "pycnn.set_num_threads(2**63)", r"^(ValueError|TypeError): set_num_threads(\(\))?: "),
    ("set_num_threads_1000",
     "(pycnn.set_num_threads(1000), F.conv2d(pycnn.randn(2, 3, 9, 9), pycnn.randn(4, 3, 3, 3), padding=1))[1]",
     r"^(OK \(2, 4, 9, 9\)$|(ValueError|RuntimeError): set_num_threads(\(\))?: )"),
    ("set_num_threads_int32_max",
     "(pycnn.set_num_threads(2**31 - 1), F.conv2d(pycnn.randn(2, 3, 9, 9), pycnn.randn(4, 3, 3, 3), padding=1))[1]",
     r"^(OK \(2, 4, 9, 9\)$|(ValueError|RuntimeError): set_num_threads(\(\))?: )"),
]

_CHILD = r"""
import json, sys
import numpy as np
import pycnn, pycnn.functional as F
from pycnn import filters
for name, code in json.loads(sys.argv[1]):
    print(json.dumps({"start": name}), flush=True)
    try:
        r = eval(code, {"pycnn": pycnn, "F": F, "np": np, "filters": filters})
        out = "OK " + str(tuple(r.shape)) if hasattr(r, "shape") else "OK " + repr(r)
    except BaseException as e:
        out = type(e).__name__ + ": " + str(e)
    print(json.dumps({"done": name, "outcome": out}), flush=True)
"""
_MEMORY_LIMIT = 3 << 30  # address space of the child: a runaway allocation fails instead of swapping
_CASE_TIMEOUT = 20.0  # seconds per case (PyTorch takes no time on any of them)
_IMPORT_TIMEOUT = 60.0  # the child's import of pycnn, on a loaded machine


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (_MEMORY_LIMIT, _MEMORY_LIMIT))


def _run_isolated(cases):
    """Runs the cases in order in a child process, one result line each; a case that kills the child
    (a signal) or hangs it gets that as its outcome, and a fresh child takes the remaining cases."""
    outcomes, pending = {}, list(cases)
    env = dict(os.environ, OMP_NUM_THREADS="2")
    while pending:
        proc = subprocess.Popen([sys.executable, "-c", _CHILD, json.dumps([(n, c) for n, c, _ in pending])],
                                cwd=tempfile.gettempdir(),  # not the checkout: its pycnn/ has no _C
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, preexec_fn=_limit_memory)
        buf, current, deadline = b"", None, time.monotonic() + _IMPORT_TIMEOUT
        fd = proc.stdout.fileno()
        while True:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:  # hung
                proc.kill()
                proc.wait()
                outcomes[current or pending[0][0]] = f"timeout after {_CASE_TIMEOUT if current else _IMPORT_TIMEOUT} s"
                break
            chunk = os.read(fd, 65536)
            if not chunk:  # the child is gone
                rc = proc.wait()
                if current is not None or rc != 0:
                    how = f"killed by {signal.Signals(-rc).name}" if rc < 0 else f"exited with {rc}"
                    err = proc.stderr.read().decode(errors="replace")[-2000:]
                    outcomes[current or pending[0][0]] = f"{how}: {err}"
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                msg = json.loads(line)
                if "start" in msg:
                    current, deadline = msg["start"], time.monotonic() + _CASE_TIMEOUT
                else:
                    outcomes[msg["done"]], current = msg["outcome"], None
        proc.stdout.close(), proc.stderr.close()
        pending = [c for c in pending if c[0] not in outcomes]
    return outcomes


@pytest.fixture(scope="module")
def crash_outcomes():
    return _run_isolated(CRASH_CASES)


@pytest.mark.parametrize("case", CRASH_CASES, ids=[c[0] for c in CRASH_CASES])
def test_huge_sizes_overflow_and_thread_counts_end_in_a_python_exception(case, crash_outcomes):
    name, code, expected = case
    outcome = crash_outcomes[name]
    assert re.search(expected, outcome, re.S), f"{code}\n -> {outcome}"
