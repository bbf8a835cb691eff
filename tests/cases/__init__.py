"""The shared table of awkward sizes every native kernel is checked on.

1 (degenerate), primes and odd sizes (no tile divides them), tile+1 sizes, and
strides larger than the kernel.  Each family builds its case list from these.
"""
BATCH = (1, 2, 3)
CHANNELS = (1, 3, 5)
SPATIAL = (1, 2, 5, 7, 11, 13)        # 1, even, primes
GEMM_SIZES = (1, 2, 3, 7, 16, 17, 31, 33, 64, 65, 129)  # around SIMD/tile widths
DTYPES = ("float32", "float64")

# (kernel, stride, padding, dilation): stride > kernel, padding >= 1, dilation > 1
WINDOWS = (
    (1, 1, 0, 1),
    (2, 2, 0, 1),
    (3, 1, 1, 1),
    (3, 2, 1, 1),
    (2, 3, 0, 1),   # stride > kernel
    (3, 1, 0, 2),   # dilation
    (5, 2, 2, 1),
    (3, 4, 1, 1),   # stride > kernel with padding
)

# dtype -> (rtol, atol) for a native result against the float64 reference
TOLERANCE = {"float32": (2e-4, 2e-5), "float64": (1e-10, 1e-11)}
