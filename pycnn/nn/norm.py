"""Normalization layers (torch.nn names, defaults, parameters, buffers and state_dict keys;
PixelNorm follows ProGAN).  All run on the fused kernels of csrc/norm.h.

| layer | normalizes over | parameters | train vs eval |
|---|---|---|---|
| BatchNorm1d/2d | (N, [L], H, W) per channel | γ, β per channel (affine=True) | training: batch statistics with the biased variance; running_mean/var updated as running = (1−m)·running + m·batch with the **unbiased** variance, m = momentum = 0.1, momentum=None gives a cumulative average. eval: running statistics. `track_running_stats=False` always uses batch statistics. `num_batches_tracked` is in the state_dict. Training with one value per channel is an error |
| LayerNorm | the trailing `normalized_shape` dims of each sample | γ, β elementwise of shape normalized_shape (`elementwise_affine`, `bias` flags) | the same in both |
| InstanceNorm1d/2d | (L) or (H, W) per sample per channel | affine=False by default | `track_running_stats` optional (default False: batch statistics in both) |
| GroupNorm(num_groups, num_channels) | each group of channels, per sample | γ, β per channel | the same in both; C must be divisible by the number of groups |
| PixelNorm | the channels at each pixel: x / sqrt(mean_c(x²) + eps) | none | the same in both |

eps defaults to 1e-5 except for PixelNorm (1e-8).

Which to pick: BatchNorm for CNNs trained with reasonably large batches (≥ 16 or so) of
i.i.d. samples; it is folded into a constant affine map at inference.  GroupNorm when the
batch is small or varies (detection, segmentation, micro-batches): it does not look across
samples, and with 32 groups is the usual drop-in.  LayerNorm for sequence / token models
and MLPs (it normalizes each sample's features).  InstanceNorm for style transfer and image
generation, where each image's own contrast should be removed.  PixelNorm in the generator of
a progressive GAN, to keep feature magnitudes from escalating without learned parameters.
"""
from __future__ import annotations

import warnings

from .. import functional as F
from ..functional._norm import _batch_norm
from .._args import as_flag, as_float, as_int, as_positive_int, check_tensor
from ..creation import ones, tensor, zeros
from ..tensor import no_grad
from . import init
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "InstanceNorm1d", "InstanceNorm2d", "GroupNorm",
           "LayerNorm", "PixelNorm"]


class _NormBase(Module):
    """Parameters weight/bias (C,) and buffers running_mean, running_var, num_batches_tracked
    (torch 2.13's signature: bias=False keeps the weight and drops the bias)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        super().__init__()
        name = type(self).__name__
        num_features = as_positive_int(num_features, name, "num_features")
        eps = as_float(eps, name, "eps")
        momentum = None if momentum is None else as_float(momentum, name, "momentum")  # None: cumulative average
        affine, track_running_stats = as_flag(affine, name, "affine"), as_flag(track_running_stats, name,
                                                                               "track_running_stats")
        bias = as_flag(bias, name, "bias")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dev = device or "cpu"
        self.register_parameter("weight", Parameter(ones(num_features, dtype=dtype, device=dev)) if affine else None)
        self.register_parameter("bias", Parameter(zeros(num_features, dtype=dtype, device=dev))
                                if affine and bias else None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype, device=dev))
            self.register_buffer("running_var", ones(num_features, dtype=dtype, device=dev))
            self.register_buffer("num_batches_tracked", tensor(0, dtype="int64", device=dev))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            self.num_batches_tracked._array[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    def _check_input_dim(self, input):
        raise NotImplementedError

    def forward(self, input):
        return self._normalize(input)

    def _normalize(self, input, relu=False):
        """forward, or with relu relu(forward(input)) on the fused kernels (nn.Sequential calls it
        for a BatchNorm followed by a ReLU: container.py)."""
        check_tensor(input, type(self).__name__, "input")
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.item())
        # eval without running stats (track_running_stats=False) still uses batch statistics
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return _batch_norm(input, self.running_mean if track else None,
                           self.running_var if track else None, self.weight, self.bias,
                           use_batch, factor, self.eps, relu)


class BatchNorm1d(_BatchNorm):
    """BatchNorm over (N, C) or (N, C, L): statistics per channel over N (and L)."""

    def _check_input_dim(self, input):
        if input.ndim not in (2, 3):
            raise ValueError(f"BatchNorm1d: expected 2D or 3D input (got {input.ndim}D input of shape {input.shape})")


class BatchNorm2d(_BatchNorm):
    """BatchNorm over (N, C, H, W): statistics per channel over (N, H, W)."""

    def _check_input_dim(self, input):
        if input.ndim != 4:
            raise ValueError(f"BatchNorm2d: expected 4D input (got {input.ndim}D input of shape {input.shape})")


class _InstanceNorm(_NormBase):
    _no_batch_dim = 0

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False,
                 device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def _check_input_dim(self, input):
        raise NotImplementedError

    def forward(self, input):
        check_tensor(input, type(self).__name__, "input")
        self._check_input_dim(input)
        name = type(self).__name__
        feature_dim = input.ndim - self._no_batch_dim
        if input.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(f"{name}: expected input's size at dim={feature_dim} to match num_features "
                                 f"({self.num_features}), but got input of shape {input.shape}")
            warnings.warn(f"{name}: input's size at dim={feature_dim} does not match num_features "
                          f"({self.num_features}); num_features is ignored since affine=False")
        if input.ndim == self._no_batch_dim:  # unbatched (C, *)
            return self._instance_norm(input.unsqueeze(0)).squeeze(0)
        return self._instance_norm(input)

    def _instance_norm(self, input):
        return F.instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                               self.training or not self.track_running_stats,
                               self.momentum if self.momentum is not None else 0.0, self.eps)


class InstanceNorm1d(_InstanceNorm):
    """InstanceNorm over (N, C, L) or unbatched (C, L): statistics per (sample, channel) over L."""

    _no_batch_dim = 2

    def _check_input_dim(self, input):
        if input.ndim not in (2, 3):
            raise ValueError(f"InstanceNorm1d: expected 2D or 3D input (got {input.ndim}D input of shape {input.shape})")


class InstanceNorm2d(_InstanceNorm):
    """InstanceNorm over (N, C, H, W) or unbatched (C, H, W): statistics per (sample, channel)."""

    _no_batch_dim = 3

    def _check_input_dim(self, input):
        if input.ndim not in (3, 4):
            raise ValueError(f"InstanceNorm2d: expected 3D or 4D input (got {input.ndim}D input of shape {input.shape})")


class GroupNorm(Module):
    """Statistics per sample over each of num_groups groups of channels; affine per channel."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        bias = as_flag(bias, "GroupNorm", "bias")
        num_groups = as_positive_int(num_groups, "GroupNorm", "num_groups")
        num_channels = as_positive_int(num_channels, "GroupNorm", "num_channels")
        eps, affine = as_float(eps, "GroupNorm", "eps"), as_flag(affine, "GroupNorm", "affine")
        if num_channels % num_groups != 0:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        dev = device or "cpu"
        self.register_parameter("weight", Parameter(ones(num_channels, dtype=dtype, device=dev)) if affine else None)
        self.register_parameter("bias", Parameter(zeros(num_channels, dtype=dtype, device=dev))
                                if affine and bias else None)

    def reset_parameters(self):
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self.bias is not None}"


class LayerNorm(Module):
    """Statistics per sample over the trailing normalized_shape dims; affine elementwise."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        ns = normalized_shape if isinstance(normalized_shape, (tuple, list)) else (normalized_shape,)
        ns = tuple(as_int(n, "LayerNorm", "normalized_shape") for n in ns)
        if any(n < 0 for n in ns):
            raise ValueError(f"LayerNorm: normalized_shape must be non-negative, got {ns}")
        eps = as_float(eps, "LayerNorm", "eps")
        elementwise_affine = as_flag(elementwise_affine, "LayerNorm", "elementwise_affine")
        bias = as_flag(bias, "LayerNorm", "bias")
        self.normalized_shape, self.eps, self.elementwise_affine = ns, eps, elementwise_affine
        dev = device or "cpu"
        self.register_parameter("weight", Parameter(ones(*ns, dtype=dtype, device=dev)) if elementwise_affine else None)
        self.register_parameter("bias", Parameter(zeros(*ns, dtype=dtype, device=dev))
                                if elementwise_affine and bias else None)

    def reset_parameters(self):
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class PixelNorm(Module):
    """ProGAN's pixelwise feature normalization: x / sqrt(mean over channels of x^2 + eps)."""

    def __init__(self, eps=1e-8):
        super().__init__()
        self.eps = as_float(eps, "PixelNorm", "eps")

    def forward(self, input):
        return F.pixel_norm(input, self.eps)

    def extra_repr(self):
        return f"eps={self.eps}"
