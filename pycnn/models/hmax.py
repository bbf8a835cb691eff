"""HMAX: Riesenhuber & Poggio, "Hierarchical models of object recognition in cortex", Nature
Neuroscience 1999; in the form of Serre, Wolf, Bileschi, Riesenhuber, Poggio, "Robust Object
Recognition with Cortex-Like Mechanisms", IEEE TPAMI 29(3), 2007.

* S1: a fixed bank of Gabor filters, `orientations` angles x len(s1_sizes) scales,
  G(x, y) = exp(-(X^2 + gamma^2 Y^2) / (2 sigma^2)) cos(2 pi X / lambda) with
  X = x cos(theta) + y sin(theta), Y = -x sin(theta) + y cos(theta), gamma = 0.3 and
  (sigma, lambda) from Serre et al.'s Table 1 for each filter size; each filter has zero mean
  and unit norm; S1 = |conv2d(image, G)|, 'same' size.
* C1: per band (a pair of neighbouring scales), the max over the two scales and over a
  local c1_pool x c1_pool neighbourhood of positions (stride half the window).
* S2: Gaussian RBF units y = exp(-||x - w||^2 / (2 sigma^2)) between each C1 patch and each
  prototype w (nn.GaussianRBF2d: three convolutions, ||x||^2 - 2 x.w + ||w||^2), one layer per
  prototype size, shared by all bands.
* C2: the global max of each S2 map over positions and bands: one feature per prototype.
* A linear classifier on the standardized C2 features.

The prototypes are learned without labels: patches of C1 responses of training images at
random bands and positions (sample_prototypes, also run on the first training batch if it was
never called); each sigma is set from the patches' own spread.  S1 is a buffer and the
prototypes are frozen (requires_grad=False): only the classifier trains.
"""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from .. import nn
from ..creation import tensor
from ..ops import amax, cat, stack
from ..tensor import no_grad

__all__ = ["HMAX", "hmax", "gabor_bank"]

# Serre et al. 2007, Table 1: filter size -> (sigma, lambda)
_GABOR_TABLE = {5: (2.0, 2.5), 7: (2.8, 3.5), 9: (3.6, 4.6), 11: (4.5, 5.6), 13: (5.4, 6.8), 15: (6.3, 7.9),
                17: (7.3, 9.1), 19: (8.2, 10.3), 21: (9.2, 11.5), 23: (10.2, 12.7)}


def gabor_bank(sizes, orientations, gamma=0.3):
    """(len(sizes) * orientations, 1, K, K) float32 filters, K = max(sizes), scale-major;
    each zero-mean with unit L2 norm over its own size x size support."""
    K = max(sizes)
    bank = np.zeros((len(sizes), orientations, K, K))
    for si, size in enumerate(sizes):
        if size not in _GABOR_TABLE:
            raise ValueError(f"gabor_bank: filter size {size} not in {sorted(_GABOR_TABLE)}")
        sigma, lam = _GABOR_TABLE[size]
        r = np.arange(size) - size // 2
        y, x = np.meshgrid(r, r, indexing="ij")
        disk = x ** 2 + y ** 2 <= (size / 2) ** 2  # Serre et al. crop the filter to a disk
        for oi in range(orientations):
            th = math.pi * oi / orientations
            X, Y = x * math.cos(th) + y * math.sin(th), -x * math.sin(th) + y * math.cos(th)
            g = np.exp(-(X ** 2 + gamma ** 2 * Y ** 2) / (2 * sigma ** 2)) * np.cos(2 * math.pi * X / lam)
            g = np.where(disk, g, 0.0)
            g[disk] -= g[disk].mean()
            g /= np.linalg.norm(g)
            off = (K - size) // 2
            bank[si, oi, off:off + size, off:off + size] = g
    return bank.reshape(-1, 1, K, K).astype(np.float32)


class HMAX(nn.Module):
    """(N, 1, H, W) -> (N, num_classes); C2 features by features(x)."""

    def __init__(self, num_classes=10, in_channels=1, orientations=4, s1_sizes=(7, 9, 11, 13),
                 c1_pools=(4, 6), prototype_sizes=(2, 3), num_prototypes=128):
        super().__init__()
        if in_channels != 1:
            raise ValueError(f"HMAX: works on grey images (in_channels=1), got in_channels={in_channels}")
        if len(s1_sizes) != 2 * len(c1_pools):
            raise ValueError(f"HMAX: each C1 band pools two neighbouring S1 scales: len(s1_sizes)="
                             f"{len(s1_sizes)} must be 2 * len(c1_pools)={2 * len(c1_pools)}")
        self.orientations, self.s1_sizes, self.c1_pools = orientations, tuple(s1_sizes), tuple(c1_pools)
        self.register_buffer("s1_weight", tensor(gabor_bank(s1_sizes, orientations)))
        self.s2 = nn.ModuleList([nn.GaussianRBF2d(orientations, num_prototypes, n) for n in prototype_sizes])
        for layer in self.s2:
            layer.weight.requires_grad_(False)
        total = num_prototypes * len(prototype_sizes)
        self.register_buffer("feature_mean", tensor(np.zeros(total, np.float32)))
        self.register_buffer("feature_std", tensor(np.ones(total, np.float32)))
        self.register_buffer("prototypes_sampled", tensor(0, dtype="int64"))
        self.classifier = nn.Linear(total, num_classes)

    # ---------------------------------------------------------------- the four stages
    def s1(self, x):
        """(N, 1, H, W) -> (N, scales, orientations, H, W): |Gabor responses|, 'same' size (one
        conv per scale with that scale's own support, cut out of the zero-padded bank)."""
        K, O = self.s1_weight.shape[-1], self.orientations
        per_scale = []
        for si, size in enumerate(self.s1_sizes):
            off = (K - size) // 2
            w = self.s1_weight[si * O:(si + 1) * O, :, off:off + size, off:off + size]
            per_scale.append(F.conv2d(x, w, None, 1, size // 2).abs())
        return stack(per_scale, 1)

    def c1(self, x):
        """List of bands (N, orientations, H_b, W_b): max over 2 scales, then over positions."""
        s1 = self.s1(x)
        bands = []
        for b, pool in enumerate(self.c1_pools):
            m = amax(s1[:, 2 * b:2 * b + 2], 1)
            bands.append(F.max_pool2d(m, pool, max(1, pool // 2)))
        return bands

    def c2(self, x):
        """(N, total prototypes): for each prototype the max S2 response over bands and positions."""
        bands = self.c1(x)
        feats = []
        for layer in self.s2:
            per_band = [amax(layer(band), (2, 3)) for band in bands if min(band.shape[2:]) >= layer.kernel_size[0]]
            if not per_band:
                raise ValueError(f"HMAX: input {x.shape} is too small for {layer.kernel_size} prototypes")
            feats.append(amax(stack(per_band, 0), 0))
        return cat(feats, 1)

    def features(self, x):
        """Standardized C2 features: (c2 - feature_mean) / feature_std."""
        return (self.c2(x) - self.feature_mean) / self.feature_std

    # ---------------------------------------------------------------- unsupervised learning
    @no_grad()
    def sample_prototypes(self, images, seed=0):
        """Prototypes from C1 patches of `images` (N, 1, H, W) at random images, bands and
        positions; sigma per prototype = sqrt(mean ||patch - w||^2 / 2) over the sampled patches of
        its size; then feature_mean / feature_std from these images' C2.  No labels are used."""
        rng = np.random.default_rng(seed)
        bands = [b.cpu().numpy() for b in self.c1(images)]
        n = images.shape[0]
        for layer in self.s2:
            k = layer.kernel_size[0]
            usable = [b for b in bands if min(b.shape[2:]) >= k]
            patches = []
            for _ in range(layer.num_prototypes):
                band = usable[rng.integers(len(usable))]
                i, r, c = rng.integers(n), rng.integers(band.shape[2] - k + 1), rng.integers(band.shape[3] - k + 1)
                patches.append(band[i, :, r:r + k, c:c + k])
            w = np.stack(patches).astype(np.float32)
            d2 = ((w[:, None] - w[None]) ** 2).sum((2, 3, 4))
            mean_d2 = d2.sum(1) / max(1, len(w) - 1)
            layer.weight._copy_from_host(w)
            layer.sigma._copy_from_host(np.sqrt(np.maximum(mean_d2, 1e-12) / 2).astype(np.float32))
        c2 = self.c2(images).cpu().numpy()
        self.feature_mean._copy_from_host(c2.mean(0).astype(np.float32))
        self.feature_std._copy_from_host((c2.std(0) + 1e-6).astype(np.float32))
        self.prototypes_sampled._copy_from_host(np.array(1, dtype=np.int64))
        return self

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != 1:
            raise ValueError(f"HMAX: expected input (N, 1, H, W), got shape {x.shape}")
        if self.training and not int(self.prototypes_sampled.item()):
            self.sample_prototypes(x)  # unsupervised, from the first training batch seen
        with no_grad():  # S1..C2 are fixed: only the classifier learns
            f = self.features(x)
        return self.classifier(f)


def hmax(num_classes=10, in_channels=1, num_prototypes=128, prototype_sizes=(2, 3)):
    """HMAX (Serre et al. 2007) with a linear classifier on its C2 features."""
    return HMAX(num_classes, in_channels, num_prototypes=num_prototypes, prototype_sizes=prototype_sizes)
