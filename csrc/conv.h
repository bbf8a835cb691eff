// The convolution family: conv2d (cross-correlation) and its transpose; 1-D ops are
// the 2-D kernels with H = 1.
//
// Layouts (row-major, C-contiguous):
//   x  (N, C_in, H, W)          input
//   w  (C_out, C_in/groups, kH, kW)
//   b  (C_out,)                 optional
//   y  (N, C_out, H_out, W_out)
//   y[n, co, oh, ow] = b[co] + sum_{ci in group(co), kh, kw}
//       w[co, ci - g*Cg_in, kh, kw] * x[n, ci, oh*sh - pt + kh*dh, ow*sw - pl + kw*dw]
//   (x is zero outside [0, H) x [0, W)).
//
// Padding may be asymmetric (top/bottom, left/right: padding='same' with an even effective
// kernel puts the extra row/column at the bottom/right, as PyTorch does).  Only the top/left
// padding enters the index map above; the bottom/right padding only changes the output size
//   H_out = floor((H + pt + pb - dh*(kH-1) - 1) / sh) + 1.
//
// conv_transpose2d with weight (C_in_t, C_out_t/groups, kH, kW) is the input-gradient of
// the conv2d whose input is the transposed conv's output: its Conv2dParams describe that
// forward conv (params.C_in = C_out_t, params.C_out = C_in_t, params.H = H_out_t,
// params.H_out = H_in_t), with H_out_t = (H_in_t-1)*s - 2p + d*(k-1) + output_padding + 1.
// Its H_out is therefore set explicitly (it can be smaller than the formula above when
// output_padding >= stride, which PyTorch allows when output_padding < dilation).
//
// Backward contract: every kernel writes fresh outputs (=); accumulation into .grad is the
// Python engine's job.  Any output pointer of a backward may be null (that grad is skipped).
//
// Implementations: *_ref (csrc/ref, plain loops: the spec), *_cpu (csrc/cpu, im2col + GEMM,
// flat-form depthwise, Winograd F(2x2, 3x3)), *_cuda (csrc/cuda).  Params: csrc/params/conv_params.cpp.
#pragma once
#include <array>
#include <optional>

#include "common.h"

namespace pycnn {

struct Conv2dParams {
  index_t N = 0, C_in = 0, H = 0, W = 0;  // input
  index_t C_out = 0, kH = 0, kW = 0;      // weight (C_out, C_in/groups, kH, kW)
  index_t stride_h = 1, stride_w = 1;
  index_t pad_top = 0, pad_left = 0;      // the ones the index map uses
  index_t pad_bottom = 0, pad_right = 0;  // output size only
  index_t dilation_h = 1, dilation_w = 1;
  index_t groups = 1;
  index_t H_out = 0, W_out = 0;

  PYCNN_HD index_t cin_g() const { return C_in / groups; }
  PYCNN_HD index_t cout_g() const { return C_out / groups; }
  PYCNN_HD index_t col_rows() const { return cin_g() * kH * kW; }  // K of the per-group GEMM
  PYCNN_HD index_t out_hw() const { return H_out * W_out; }
  // 1x1, stride 1, no padding: the input plane is already the im2col matrix.  (The size
  // test excludes a transposed conv whose output_padding adds rows the conv never reads.)
  PYCNN_HD bool is_pointwise() const {
    return kH == 1 && kW == 1 && stride_h == 1 && stride_w == 1 && pad_top == 0 &&
           pad_left == 0 && H_out == H && W_out == W;
  }
  // One input channel per group (groups == C_in), any depth multiplier C_out / C_in.
  PYCNN_HD bool is_depthwise() const { return groups == C_in && groups > 1; }
  // 2 * MACs of the forward pass.
  PYCNN_HD double flops() const { return 2.0 * N * C_out * out_hw() * col_rows(); }
};

// floor((L + pad_begin + pad_end - d(k-1) - 1) / s) + 1; may be <= 0 (the params check it,
// in overflow-checked arithmetic).
PYCNN_HD index_t conv_out_size(index_t L, index_t k, index_t s, index_t pad_begin, index_t pad_end,
                               index_t d) {
  const index_t span = L + pad_begin + pad_end - d * (k - 1) - 1;
  return span < 0 ? 0 : span / s + 1;
}

// (L-1)s - 2p + d(k-1) + output_padding + 1
PYCNN_HD index_t conv_transpose_out_size(index_t L, index_t k, index_t s, index_t p,
                                         index_t output_padding, index_t d) {
  return (L - 1) * s - 2 * p + d * (k - 1) + output_padding + 1;
}

// Validates shapes and hyper-parameters (std::invalid_argument naming `op`, the argument and the
// shapes, as a 1-D op's user gave them when op.spatial == 1) and fills every field.
// padding = {top, bottom, left, right}.  Every size is overflow-checked, the im2col buffer's too.
// bias_shape, when given, must be (C_out,) ((C_out_t,) for the transposed conv).
Conv2dParams make_conv2d_params(const OpInfo& op, const std::array<index_t, 4>& x_shape,
                                const std::array<index_t, 4>& w_shape, const std::optional<Shape>& bias_shape,
                                std::array<index_t, 2> stride, std::array<index_t, 4> padding,
                                std::array<index_t, 2> dilation, index_t groups);

// The same for conv_transpose2d: x (N, C_in_t, H, W), w (C_in_t, C_out_t/groups, kH, kW);
// returns the params of the equivalent forward conv (see above).  padding = {h, w}.
Conv2dParams make_conv_transpose2d_params(const OpInfo& op, const std::array<index_t, 4>& x_shape,
                                          const std::array<index_t, 4>& w_shape,
                                          const std::optional<Shape>& bias_shape,
                                          std::array<index_t, 2> stride,
                                          std::array<index_t, 2> padding,
                                          std::array<index_t, 2> output_padding,
                                          index_t groups, std::array<index_t, 2> dilation);

// ------------------------------------------------------------------ reference (csrc/ref)
// Plain loops: the executable spec, and a fallback.
// relu: y = relu(conv2d(x, w) + b) (elementwise.h's ReLU), the inference-time fusion of a conv and
// the ReLU after it (nn.Sequential without autograd); the same numbers as the two ops.
template <typename T>
void conv2d_forward_ref(T* y, const T* x, const T* w, const T* b, const Conv2dParams& p,
                        bool relu = false);
// dx = d(loss)/dx, dw, db (each may be null) from dy = d(loss)/dy.
template <typename T>
void conv2d_backward_ref(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w,
                         const Conv2dParams& p);
// y_t (= p's x, N x C_in x H x W) from x_t (= p's y); b has C_in entries.
template <typename T>
void conv_transpose2d_forward_ref(T* y, const T* x, const T* w, const T* b,
                                  const Conv2dParams& p);
// dx_t (p's y layout), dw, db (C_in entries) from dy_t (p's x layout).
template <typename T>
void conv_transpose2d_backward_ref(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w,
                                   const Conv2dParams& p);

// ------------------------------------------------------------------ CPU (csrc/cpu)
// im2col + GEMM (per image/group with gemm_serial inside OpenMP, or the parallel gemm when
// there are fewer images*groups than threads); 1x1 stride-1 unpadded convs skip im2col;
// depthwise (groups == C_in > 1) uses a flat form per plane (each tap a shift of a padded,
// phase-split copy; csrc/cpu/conv.cpp, "depthwise"), direct loops where that copy would dwarf the
// image; stride-1 undilated 3x3 convs with >= 16
// channels per group and outputs of at least 4 x 4 use Winograd F(2x2, 3x3) (forward, grad
// input and grad weight; float32 error about the direct sum's, tests/test_conv.py).
template <typename T>
void conv2d_forward_cpu(T* y, const T* x, const T* w, const T* b, const Conv2dParams& p,
                        bool relu = false);
// Whether the CPU kernels may take the Winograd path (default on): off, every conv runs on the
// other paths (an escape hatch, and the A/B switch of bench/bench_conv.py --winograd-ab).
// Process-wide; a relaxed atomic read per call.
void set_conv_winograd(bool enabled);
bool conv_winograd();
template <typename T>
void conv2d_backward_cpu(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w,
                         const Conv2dParams& p);
template <typename T>
void conv_transpose2d_forward_cpu(T* y, const T* x, const T* w, const T* b,
                                  const Conv2dParams& p);
template <typename T>
void conv_transpose2d_backward_cpu(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w,
                                   const Conv2dParams& p);

// ------------------------------------------------------------------ CUDA (csrc/cuda)
// The pieces around the GEMMs (the caller's: xp.matmul, cuBLAS through CuPy), on device pointers
// and `stream`, for `images` images from x / dx (p's N is the whole batch):
//   col (images, C_in * kH * kW, H_out * W_out) = im2col(x); dx = col2im(col) (a gather).
template <typename T>
void im2col_cuda(T* col, const T* x, index_t images, const Conv2dParams& p, void* stream);
template <typename T>
void col2im_cuda(T* dx, const T* col, index_t images, const Conv2dParams& p, void* stream);
// db (C,) = the sum of dy (N, C, HW) over N and HW: one block per channel.
template <typename T>
void conv_bias_grad_cuda(T* db, const T* dy, index_t N, index_t C, index_t HW, void* stream);
// Depthwise (p.is_depthwise()): direct kernels; b, and dx / dw / db of the backward, may be null.
template <typename T>
void depthwise_conv2d_forward_cuda(T* y, const T* x, const T* w, const T* b, const Conv2dParams& p, void* stream);
template <typename T>
void depthwise_conv2d_backward_cuda(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w, const Conv2dParams& p,
                                    void* stream);

}  // namespace pycnn
