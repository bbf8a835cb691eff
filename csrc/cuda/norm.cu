// CUDA normalization kernels (norm.h), on the same (N, C, S) views as the CPU kernels.
//
// A normalized set is, for batch norm, a channel c: N runs of S values at stride C*S from c*S;
// for group norm (LayerNorm: the (M, D, 1) view with one group), a sample's group (n, g): one run
// of Cg*S values from (n*G + g)*Cg*S.  Per set, one block reduces the statistics around a shift
// K = the set's first value, in double (norm.h's numerics: a float32 1e4 + N(0,1) stays accurate),
// with the fixed-order block_sum; a per-element kernel then normalizes (in double).
//
// Backward, closed form per set of n values, xhat = (x - mean) rstd:
//   dx = rstd (dy g - a/n - xhat b/n),  a = sum dy g,  b = sum dy g xhat   (training; for batch
//        norm g is constant over the set: rstd g (dy - a'/n - xhat b'/n) with the gamma-free sums)
//   dx = rstd g dy                                                            (eval batch norm)
// dgamma / dbeta: for batch norm the set is the channel (one reduction gives both); for group norm
// they sum over (n, s) per channel: per-(n, c) partials, then a pass per channel over n (two
// stages, no atomics).  PixelNorm: one thread per pixel over its C channels.
#include <math.h>

#include "cuda/cuda_compat.h"
#include "cuda/reduce.cuh"
#include "norm.h"

namespace pycnn {

namespace {

// Element j of set `set` (see above).
struct NormSets {
  index_t sets, runs, run_len, run_stride, set_stride;
  PYCNN_HD index_t size() const { return runs * run_len; }
  PYCNN_HD index_t at(index_t set, index_t j) const {
    return set * set_stride + (j / run_len) * run_stride + j % run_len;
  }
};

NormSets batch_sets(const NormParams& p) { return {p.C, p.N, p.S, p.C * p.S, p.S}; }
NormSets group_sets(const NormParams& p) {
  const index_t len = p.group_channels() * p.S;
  return {p.N * p.G, 1, len, len, len};
}

// The set and channel of flat element i of the (N, C, S) view.
PYCNN_HD index_t channel_of(index_t i, const NormParams& p) { return (i / p.S) % p.C; }
PYCNN_HD index_t set_of(index_t i, const NormParams& p, bool per_channel) {
  return per_channel ? channel_of(i, p) : i / (p.group_channels() * p.S);
}

// mean, rstd per set (biased variance); with running_* (batch norm, training) also
// running = (1 - momentum) running + momentum batch, the variance unbiased.
template <typename T>
__global__ void moments_kernel(double* mean, double* rstd, T* running_mean, T* running_var, const T* x, NormSets L,
                               double eps, double momentum) {
  __shared__ double smem[cuda::kMaxWarps];
  const index_t set = blockIdx.x, n = L.size();
  const double K = double(x[L.at(set, 0)]);
  double s1 = 0, s2 = 0;
  for (index_t j = threadIdx.x; j < n; j += blockDim.x) {
    const double d = double(x[L.at(set, j)]) - K;
    s1 += d;
    s2 += d * d;
  }
  s1 = cuda::block_sum(s1, smem);
  s2 = cuda::block_sum(s2, smem);
  if (threadIdx.x == 0) {
    const double m = K + s1 / double(n);
    double var = (s2 - s1 * s1 / double(n)) / double(n);
    var = var > 0 ? var : 0;
    mean[set] = m;
    rstd[set] = 1.0 / sqrt(var + eps);
    if (running_mean) running_mean[set] = T((1 - momentum) * double(running_mean[set]) + momentum * m);
    if (running_var && n > 1)
      running_var[set] = T((1 - momentum) * double(running_var[set]) + momentum * var * double(n) / double(n - 1));
  }
}

template <typename T>
__global__ void normalize_kernel(T* y, const T* x, const double* mean, const double* rstd, const T* gamma,
                                 const T* beta, NormParams p, bool per_channel, bool relu, index_t n) {
  PYCNN_GRID_STRIDE(i, n) {
    const index_t c = channel_of(i, p), set = set_of(i, p, per_channel);
    const double xhat = (double(x[i]) - mean[set]) * rstd[set];
    const T v = T(xhat * (gamma ? double(gamma[c]) : 1.0) + (beta ? double(beta[c]) : 0.0));
    y[i] = relu ? bn_relu_value(v) : v;  // BatchNorm fused with ReLU (norm.h)
  }
}

// Per set: a = sum dy g, b = sum dy g xhat (g = gamma[c] of each element, or 1); dy through the
// fused ReLU's select when relu_out is given.
template <typename T>
__global__ void set_sums_kernel(double* a_out, double* b_out, const T* dy, const T* x, const double* mean,
                                const double* rstd, const T* gamma, const T* relu_out, NormSets L, NormParams p) {
  __shared__ double smem[cuda::kMaxWarps];
  const index_t set = blockIdx.x, n = L.size();
  const double m = mean[set], r = rstd[set];
  double a = 0, b = 0;
  for (index_t j = threadIdx.x; j < n; j += blockDim.x) {
    const index_t i = L.at(set, j);
    const double g = double(bn_relu_grad(dy[i], relu_out, i)) * (gamma ? double(gamma[channel_of(i, p)]) : 1.0);
    a += g;
    b += g * (double(x[i]) - m) * r;
  }
  a = cuda::block_sum(a, smem);
  b = cuda::block_sum(b, smem);
  if (threadIdx.x == 0) a_out[set] = a, b_out[set] = b;
}

template <typename T>
__global__ void norm_dx_kernel(T* dx, const T* dy, const T* x, const double* mean, const double* rstd, const T* gamma,
                               const double* a, const double* b, NormParams p, bool per_channel, index_t set_size,
                               bool training, const T* relu_out, index_t n) {
  PYCNN_GRID_STRIDE(i, n) {
    const index_t c = channel_of(i, p), set = set_of(i, p, per_channel);
    const double g = gamma ? double(gamma[c]) : 1.0, r = rstd[set];
    const double d = double(bn_relu_grad(dy[i], relu_out, i));
    if (!training) {
      dx[i] = T(r * g * d);
      continue;
    }
    const double xhat = (double(x[i]) - mean[set]) * r, inv = 1.0 / double(set_size);
    if (per_channel)  // batch norm: g is constant over the set, a and b are its gamma-free sums
      dx[i] = T(r * g * (d - a[set] * inv - xhat * b[set] * inv));
    else
      dx[i] = T(r * (d * g - a[set] * inv - xhat * b[set] * inv));
  }
}

// Stage 1 of group norm's dgamma / dbeta: per (n, c), sums over s of dy xhat and dy; one thread
// per (n, c) (short S), or one block (S >= 32).
template <typename T>
__global__ void channel_partials_thread_kernel(double* pg, double* pb, const T* dy, const T* x, const double* mean,
                                               const double* rstd, NormParams p, index_t n) {
  PYCNN_GRID_STRIDE(nc, n) {
    const index_t set = (nc / p.C) * p.G + (nc % p.C) / p.group_channels();
    double sg = 0, sb = 0;
    for (index_t s = 0; s < p.S; ++s) {
      const index_t i = nc * p.S + s;
      sg += double(dy[i]) * (double(x[i]) - mean[set]) * rstd[set];
      sb += double(dy[i]);
    }
    pg[nc] = sg, pb[nc] = sb;
  }
}

template <typename T>
__global__ void channel_partials_block_kernel(double* pg, double* pb, const T* dy, const T* x, const double* mean,
                                              const double* rstd, NormParams p) {
  __shared__ double smem[cuda::kMaxWarps];
  const index_t nc = blockIdx.x, set = (nc / p.C) * p.G + (nc % p.C) / p.group_channels();
  double sg = 0, sb = 0;
  for (index_t s = threadIdx.x; s < p.S; s += blockDim.x) {
    const index_t i = nc * p.S + s;
    sg += double(dy[i]) * (double(x[i]) - mean[set]) * rstd[set];
    sb += double(dy[i]);
  }
  sg = cuda::block_sum(sg, smem);
  sb = cuda::block_sum(sb, smem);
  if (threadIdx.x == 0) pg[nc] = sg, pb[nc] = sb;
}

// Stage 2: dgamma[c] = sum over n of pg[n, c] (dbeta alike), in order; one thread per channel.
template <typename T>
__global__ void channel_totals_kernel(T* dgamma, T* dbeta, const double* pg, const double* pb, index_t N, index_t C) {
  PYCNN_GRID_STRIDE(c, C) {
    double g = 0, b = 0;
    for (index_t n = 0; n < N; ++n) g += pg[n * C + c], b += pb[n * C + c];
    if (dgamma) dgamma[c] = T(g);
    if (dbeta) dbeta[c] = T(b);
  }
}

// Batch norm: its sets are the channels, so a and b are dbeta / gamma and dgamma / gamma.
template <typename T>
__global__ void batch_affine_grads_kernel(T* dgamma, T* dbeta, const double* sdy, const double* sdyx, index_t C) {
  PYCNN_GRID_STRIDE(c, C) {
    if (dgamma) dgamma[c] = T(sdyx[c]);
    if (dbeta) dbeta[c] = T(sdy[c]);
  }
}

template <typename T>
__global__ void pixel_norm_forward_kernel(T* y, double* save_rstd, const T* x, NormParams p, double eps, index_t n) {
  PYCNN_GRID_STRIDE(pix, n) {  // pix = (n, s)
    const index_t base = (pix / p.S) * p.C * p.S + pix % p.S;
    double s2 = 0;
    for (index_t c = 0; c < p.C; ++c) s2 += double(x[base + c * p.S]) * double(x[base + c * p.S]);
    const double r = 1.0 / sqrt(s2 / double(p.C) + eps);
    save_rstd[pix] = r;
    for (index_t c = 0; c < p.C; ++c) y[base + c * p.S] = T(double(x[base + c * p.S]) * r);
  }
}

template <typename T>
__global__ void pixel_norm_backward_kernel(T* dx, const T* dy, const T* x, const double* save_rstd, NormParams p,
                                           index_t n) {
  PYCNN_GRID_STRIDE(pix, n) {
    const index_t base = (pix / p.S) * p.C * p.S + pix % p.S;
    double m = 0;
    for (index_t c = 0; c < p.C; ++c) m += double(dy[base + c * p.S]) * double(x[base + c * p.S]);
    m /= double(p.C);
    const double r = save_rstd[pix], r3 = r * r * r;
    for (index_t c = 0; c < p.C; ++c)
      dx[base + c * p.S] = T(r * double(dy[base + c * p.S]) - double(x[base + c * p.S]) * r3 * m);
  }
}

template <typename T>
void launch_moments(double* mean, double* rstd, T* rm, T* rv, const T* x, const NormSets& L, double eps,
                    double momentum, void* stream) {
  if (L.sets <= 0 || L.size() <= 0) return;
  cuda::launch("moments_kernel", &moments_kernel<T>, dim3(unsigned(L.sets)), dim3(cuda::reduction_threads(L.size())),
               0, stream, mean, rstd, rm, rv, x, L, eps, momentum);
}

template <typename T>
void launch_set_sums(double* a, double* b, const T* dy, const T* x, const double* mean, const double* rstd,
                     const T* gamma, const T* relu_out, const NormSets& L, const NormParams& p, void* stream) {
  if (L.sets <= 0 || L.size() <= 0) return;
  cuda::launch("set_sums_kernel", &set_sums_kernel<T>, dim3(unsigned(L.sets)), dim3(cuda::reduction_threads(L.size())),
               0, stream, a, b, dy, x, mean, rstd, gamma, relu_out, L, p);
}

}  // namespace

// ------------------------------------------------------------------ launchers
template <typename T>
void batch_norm_forward_cuda(T* y, double* save_mean, double* save_rstd, T* running_mean, T* running_var, const T* x,
                             const T* gamma, const T* beta, const NormParams& p, bool training, double momentum,
                             bool relu, void* stream) {
  if (training) launch_moments(save_mean, save_rstd, running_mean, running_var, x, batch_sets(p), p.eps, momentum, stream);
  // eval: save_mean / save_rstd hold the running statistics (the caller fills them)
  cuda::launch_elementwise("normalize_kernel", &normalize_kernel<T>, p.numel(), stream, y, x, save_mean, save_rstd,
                           gamma, beta, p, true, relu, p.numel());
}

template <typename T>
void batch_norm_backward_cuda(T* dx, T* dgamma, T* dbeta, double* work, const T* dy, const T* x,
                              const double* save_mean, const double* save_rstd, const T* gamma, const NormParams& p,
                              bool training, const T* relu_out, void* stream) {
  // work: 2C doubles: per channel sum dy and sum dy xhat (gamma left out: batch_affine_grads)
  double *sdy = work, *sdyx = work + p.C;
  launch_set_sums<T>(sdy, sdyx, dy, x, save_mean, save_rstd, nullptr, relu_out, batch_sets(p), p, stream);
  if (dgamma || dbeta)
    cuda::launch_elementwise("batch_affine_grads_kernel", &batch_affine_grads_kernel<T>, p.C, stream, dgamma, dbeta,
                             static_cast<const double*>(sdy), static_cast<const double*>(sdyx), p.C);
  // dx: norm_dx_kernel takes the gamma-free sums of a per-channel set and factors gamma out
  if (dx)
    cuda::launch_elementwise("norm_dx_kernel", &norm_dx_kernel<T>, p.numel(), stream, dx, dy, x, save_mean, save_rstd,
                             gamma, static_cast<const double*>(sdy), static_cast<const double*>(sdyx), p, true,
                             p.N * p.S, training, relu_out, p.numel());
}

template <typename T>
void group_norm_forward_cuda(T* y, double* save_mean, double* save_rstd, const T* x, const T* gamma, const T* beta,
                             const NormParams& p, void* stream) {
  launch_moments<T>(save_mean, save_rstd, nullptr, nullptr, x, group_sets(p), p.eps, 0.0, stream);
  cuda::launch_elementwise("normalize_kernel", &normalize_kernel<T>, p.numel(), stream, y, x,
                           static_cast<const double*>(save_mean), static_cast<const double*>(save_rstd), gamma, beta, p,
                           false, false, p.numel());
}

template <typename T>
void group_norm_backward_cuda(T* dx, T* dgamma, T* dbeta, double* work, const T* dy, const T* x,
                              const double* save_mean, const double* save_rstd, const T* gamma, const NormParams& p,
                              void* stream) {
  // work: 2 N G doubles (a, b per set), then 2 N C (the per-(n, c) partials of dgamma, dbeta)
  double *a = work, *b = work + p.N * p.G, *pg = b + p.N * p.G, *pb = pg + p.N * p.C;
  if (dx) {
    launch_set_sums<T>(a, b, dy, x, save_mean, save_rstd, gamma, static_cast<const T*>(nullptr), group_sets(p), p,
                       stream);
    // the sums include gamma (it varies over a group's channels)
    cuda::launch_elementwise("norm_dx_kernel", &norm_dx_kernel<T>, p.numel(), stream, dx, dy, x, save_mean, save_rstd,
                             gamma, static_cast<const double*>(a), static_cast<const double*>(b), p, false,
                             p.group_channels() * p.S, true, static_cast<const T*>(nullptr), p.numel());
  }
  if (dgamma || dbeta) {
    if (p.S >= 32 && p.N * p.C > 0)
      cuda::launch("channel_partials_block_kernel", &channel_partials_block_kernel<T>, dim3(unsigned(p.N * p.C)),
                   dim3(cuda::reduction_threads(p.S)), 0, stream, pg, pb, dy, x, save_mean, save_rstd, p);
    else
      cuda::launch_elementwise("channel_partials_thread_kernel", &channel_partials_thread_kernel<T>, p.N * p.C, stream,
                               pg, pb, dy, x, save_mean, save_rstd, p, p.N * p.C);
    cuda::launch_elementwise("channel_totals_kernel", &channel_totals_kernel<T>, p.C, stream, dgamma, dbeta,
                             static_cast<const double*>(pg), static_cast<const double*>(pb), p.N, p.C);
  }
}

template <typename T>
void pixel_norm_forward_cuda(T* y, double* save_rstd, const T* x, const NormParams& p, void* stream) {
  cuda::launch_elementwise("pixel_norm_forward_kernel", &pixel_norm_forward_kernel<T>, p.N * p.S, stream, y, save_rstd,
                           x, p, p.eps, p.N * p.S);
}

template <typename T>
void pixel_norm_backward_cuda(T* dx, const T* dy, const T* x, const double* save_rstd, const NormParams& p,
                              void* stream) {
  cuda::launch_elementwise("pixel_norm_backward_kernel", &pixel_norm_backward_kernel<T>, p.N * p.S, stream, dx, dy, x,
                           save_rstd, p, p.N * p.S);
}

#define PYCNN_INSTANTIATE(T)                                                                                        \
  template void batch_norm_forward_cuda<T>(T*, double*, double*, T*, T*, const T*, const T*, const T*,              \
                                           const NormParams&, bool, double, bool, void*);                           \
  template void batch_norm_backward_cuda<T>(T*, T*, T*, double*, const T*, const T*, const double*, const double*,   \
                                            const T*, const NormParams&, bool, const T*, void*);                    \
  template void group_norm_forward_cuda<T>(T*, double*, double*, const T*, const T*, const T*, const NormParams&,    \
                                           void*);                                                                  \
  template void group_norm_backward_cuda<T>(T*, T*, T*, double*, const T*, const T*, const double*, const double*,   \
                                            const T*, const NormParams&, void*);                                    \
  template void pixel_norm_forward_cuda<T>(T*, double*, const T*, const NormParams&, void*);                        \
  template void pixel_norm_backward_cuda<T>(T*, const T*, const T*, const double*, const NormParams&, void*);
PYCNN_INSTANTIATE(float)
PYCNN_INSTANTIATE(double)

}  // namespace pycnn
