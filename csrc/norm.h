// Normalization: BatchNorm, InstanceNorm, GroupNorm, LayerNorm and PixelNorm as three
// kernel pairs over one view of the input, x as (N, C, S): N outer, C channels, S inner
// (contiguous).  Every set below is normalized independently:
//
//   batch_norm_*  statistics per channel c over (N, S); gamma, beta per channel.
//                 InstanceNorm runs it on the view (1, N*C, S), as PyTorch does.
//   group_norm_*  statistics per (n, g) over the C/G channels of group g times S;
//                 gamma, beta per channel.  GroupNorm(G) directly; LayerNorm is the view
//                 (N, C, S) = (M, D, 1) with G = 1, so "per channel" is elementwise over
//                 normalized_shape (D = its product).
//   pixel_norm_*  per (n, s) over the C channels: y = x * r, r = 1/sqrt(mean_c x^2 + eps)
//                 (ProGAN): no mean, no affine.
//
// Forward:  y = (x - mean) * rstd * gamma + beta, rstd = 1/sqrt(var + eps), var biased.
// Backward over a normalized set of n elements, xhat = (x - mean) * rstd (closed form):
//   dx = rstd * (dy*gamma - mean(dy*gamma) - xhat * mean(dy*gamma*xhat)),
//   dgamma[c] = sum dy*xhat, dbeta[c] = sum dy (over every element that channel c scales).
//   Eval-mode BatchNorm (statistics are constants): dx = rstd * gamma * dy.
//   PixelNorm: dx = r*dy - x * r^3 * mean_c(dy*x).
//
// Numerics: statistics are accumulated around a shift K = the set's first element, in double
// (csrc/cpu: in T lanes folded into double every 1024 values),
//   mean = K + sum(x-K)/n,  var = (sum (x-K)^2 - (sum (x-K))^2 / n) / n,
// so a large mean with a small spread (float32 1e4 + N(0,1)) stays accurate where the naive
// E[x^2] - E[x]^2 cancels to noise.  Saved mean / rstd are double whatever T (a float32 mean
// of 1e4 is off by up to 5e-4, which is 5e-4 of a unit spread), and x - mean is formed in T as
// (x - T(mean)) - T(mean - T(mean)), which is exact where x is near the mean (csrc/cpu folds
// the second term into the constant of each affine expression).
//
// gamma / beta may be null (no affine: gamma = 1, beta = 0).  Backward writes fresh dx,
// dgamma, dbeta (=); the Python engine accumulates.
//
// Implementations: *_ref (csrc/ref: plain loops, two-pass statistics: the spec), *_cpu
// (csrc/cpu: OpenMP over channels / groups / pixels, one-pass shifted statistics) and *_cuda
// (csrc/cuda).  Params: csrc/params/norm_params.cpp.
#pragma once
#include <optional>

#include "common.h"
#include "elementwise.h"

namespace pycnn {

struct NormParams {
  index_t N = 0, C = 0, S = 0;  // the (N, C, S) view of x
  index_t G = 1;                // groups (group_norm); C % G == 0
  double eps = 1e-5;

  PYCNN_HD index_t numel() const { return N * C * S; }
  PYCNN_HD index_t group_channels() const { return C / G; }
};

// The shapes of the optional tensors a norm op takes (an empty optional: not given).
struct NormTensorShapes {
  std::optional<Shape> weight, bias, running_mean, running_var;
};

// ---------------------------------------------------------------------------- params (csrc/params)
// Each validates x's shape, the given tensors' shapes, eps (>= 0) and the op's own rules, and
// returns the (N, C, S) view its kernels run on (std::invalid_argument naming the op, the
// argument and the shapes).  x_shape is the user's shape.
//   batch_norm:    x (N, C, *); weight, bias, running_* (C,); training needs > 1 value per
//                  channel, eval needs both running stats.
//   instance_norm: x (N, C, *), the tensors (C,); the view is (1, N*C, S); use_input_stats needs
//                  > 1 spatial element, !use_input_stats both running stats.
//   group_norm:    x (N, C, *); num_groups >= 1 divides C; weight, bias (C,); > 1 value per group.
//   layer_norm:    x (*, normalized_shape); weight, bias of normalized_shape; the view is (M, D, 1).
//   pixel_norm:    x (N, C, *).
NormParams make_batch_norm_params(const char* op, const Shape& x_shape, const NormTensorShapes& t,
                                  bool training, double eps);
NormParams make_instance_norm_params(const char* op, const Shape& x_shape, const NormTensorShapes& t,
                                     bool use_input_stats, double eps);
NormParams make_group_norm_params(const char* op, const Shape& x_shape, index_t num_groups,
                                  const NormTensorShapes& t, double eps);
NormParams make_layer_norm_params(const char* op, const Shape& x_shape, const Shape& normalized_shape,
                                  const NormTensorShapes& t, double eps);
NormParams make_pixel_norm_params(const char* op, const Shape& x_shape, double eps);

// ---------------------------------------------------------------------------- batch norm
// x, y are (N, C, S); save_mean, save_rstd, gamma, beta, running_* are (C,).
// training: statistics from the batch; running_* (may be null) become
//   (1 - momentum) * running + momentum * batch, with the unbiased variance (n = N*S > 1).
// !training: statistics are running_mean / running_var (both required).
// relu (BatchNorm followed by ReLU, fused: nn.Sequential(..., BatchNorm, ReLU)): y = relu(affine)
// with ReLU's definition (elementwise.h: relu(NaN) = NaN, never -0.0); one write of y.  Its
// backward gets that y as relu_out and applies ReLU's select to dy first (dy' = y <= 0 ? 0 : dy,
// read in the same sweeps as dy); relu_out null: the plain BatchNorm backward.
template <typename T>
void batch_norm_forward_ref(T* y, double* save_mean, double* save_rstd, T* running_mean,
                            T* running_var, const T* x, const T* gamma, const T* beta,
                            const NormParams& p, bool training, double momentum, bool relu);
template <typename T>
void batch_norm_forward_cpu(T* y, double* save_mean, double* save_rstd, T* running_mean,
                            T* running_var, const T* x, const T* gamma, const T* beta,
                            const NormParams& p, bool training, double momentum, bool relu);

// dx (N, C, S); dgamma, dbeta (C,).  training selects the full closed form (statistics
// depend on x) or dx = rstd * gamma * dy (eval).
template <typename T>
void batch_norm_backward_ref(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x,
                             const double* save_mean, const double* save_rstd, const T* gamma,
                             const NormParams& p, bool training, const T* relu_out);
template <typename T>
void batch_norm_backward_cpu(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x,
                             const double* save_mean, const double* save_rstd, const T* gamma,
                             const NormParams& p, bool training, const T* relu_out);

// The fused ReLU's pieces, shared by every backend's batch norm kernels.
template <typename T>
static PYCNN_HD T bn_relu_value(T v) { return activation_value<Activation::relu>(v, T(0)); }
// dy' of the fused pair: ReLU's backward from its output (dy itself without a fused ReLU).
template <typename T>
static PYCNN_HD T bn_relu_grad(T dy, const T* relu_out, index_t i) {
  return relu_out ? activation_grad<Activation::relu>(dy, relu_out[i], T(0)) : dy;
}

// ---------------------------------------------------------------------------- group norm
// x, y are (N, C, S); save_mean, save_rstd are (N, G); gamma, beta, dgamma, dbeta are (C,).
template <typename T>
void group_norm_forward_ref(T* y, double* save_mean, double* save_rstd, const T* x,
                            const T* gamma, const T* beta, const NormParams& p);
template <typename T>
void group_norm_forward_cpu(T* y, double* save_mean, double* save_rstd, const T* x,
                            const T* gamma, const T* beta, const NormParams& p);

template <typename T>
void group_norm_backward_ref(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x,
                             const double* save_mean, const double* save_rstd, const T* gamma,
                             const NormParams& p);
template <typename T>
void group_norm_backward_cpu(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x,
                             const double* save_mean, const double* save_rstd, const T* gamma,
                             const NormParams& p);

// ---------------------------------------------------------------------------- pixel norm
// x, y are (N, C, S); save_rstd is (N, S): r = 1/sqrt(mean_c x^2 + eps).
template <typename T>
void pixel_norm_forward_ref(T* y, double* save_rstd, const T* x, const NormParams& p);
template <typename T>
void pixel_norm_forward_cpu(T* y, double* save_rstd, const T* x, const NormParams& p);

template <typename T>
void pixel_norm_backward_ref(T* dx, const T* dy, const T* x, const double* save_rstd,
                             const NormParams& p);
template <typename T>
void pixel_norm_backward_cpu(T* dx, const T* dy, const T* x, const double* save_rstd,
                             const NormParams& p);

// ---------------------------------------------------------------------------- CUDA (csrc/cuda)
// Launchers on device pointers and `stream`.  Statistics: one block per normalized set (a fixed-
// order block reduction in double around a shift, no atomics); eval batch norm expects save_mean /
// save_rstd filled from the running statistics by the caller.  `work` is device scratch:
// 2C doubles (batch norm), 2NG + 2NC doubles (group norm).
template <typename T>
void batch_norm_forward_cuda(T* y, double* save_mean, double* save_rstd, T* running_mean, T* running_var, const T* x,
                             const T* gamma, const T* beta, const NormParams& p, bool training, double momentum,
                             bool relu, void* stream);
template <typename T>
void batch_norm_backward_cuda(T* dx, T* dgamma, T* dbeta, double* work, const T* dy, const T* x,
                              const double* save_mean, const double* save_rstd, const T* gamma, const NormParams& p,
                              bool training, const T* relu_out, void* stream);
template <typename T>
void group_norm_forward_cuda(T* y, double* save_mean, double* save_rstd, const T* x, const T* gamma, const T* beta,
                             const NormParams& p, void* stream);
template <typename T>
void group_norm_backward_cuda(T* dx, T* dgamma, T* dbeta, double* work, const T* dy, const T* x,
                              const double* save_mean, const double* save_rstd, const T* gamma, const NormParams& p,
                              void* stream);
template <typename T>
void pixel_norm_forward_cuda(T* y, double* save_rstd, const T* x, const NormParams& p, void* stream);
template <typename T>
void pixel_norm_backward_cuda(T* dx, const T* dy, const T* x, const double* save_rstd, const NormParams& p,
                              void* stream);

}  // namespace pycnn
