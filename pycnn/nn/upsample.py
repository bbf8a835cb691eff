"""Upsampling modules (torch.nn names, defaults and extra_repr) on pycnn.functional.interpolate,
plus BedOfNailsUpsample.  See pycnn/functional/_upsample.py for the four ways back up."""
from __future__ import annotations

from .. import functional as F
from .. import _C
from .._args import as_bool, as_flag, as_float, as_int
from ..functional._upsample import bed_of_nails_scale
from .module import Module

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "BedOfNailsUpsample"]


class Upsample(Module):
    """torch.nn.Upsample: F.interpolate with the stored size / scale_factor / mode."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.name = name = type(self).__name__
        for s in (size if isinstance(size, (tuple, list)) else () if size is None else (size,)):
            as_int(s, name, "size")
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(as_float(factor, name, "scale_factor") for factor in scale_factor)
        else:
            self.scale_factor = as_float(scale_factor, name, "scale_factor") if scale_factor else None
        self.mode = mode
        self.align_corners = None if align_corners is None else as_bool(align_corners, name, "align_corners")
        self.recompute_scale_factor = (None if recompute_scale_factor is None
                                       else as_flag(recompute_scale_factor, name, "recompute_scale_factor"))

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """torch.nn.UpsamplingNearest2d: Upsample(mode='nearest')."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """torch.nn.UpsamplingBilinear2d: Upsample(mode='bilinear', align_corners=True)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class BedOfNailsUpsample(Module):
    """F.upsample_bed_of_nails as a layer: each value at the top-left of its block, zeros elsewhere."""

    def __init__(self, scale_factor):
        super().__init__()
        # the op's own rules, on an empty input: a bad scale fails here rather than at the first forward
        _C.bed_of_nails_params("BedOfNailsUpsample", (0, 0, 1, 1), bed_of_nails_scale(scale_factor, "BedOfNailsUpsample"))
        self.scale_factor = scale_factor

    def forward(self, input):
        return F.upsample_bed_of_nails(input, self.scale_factor)

    def extra_repr(self):
        return f"scale_factor={self.scale_factor!r}"
