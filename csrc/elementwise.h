// Elementwise ops with a native kernel (the rest of the elementwise glue runs on the device's
// array module).  Layout: any shape, C-contiguous, n elements.  Reference (the executable spec):
// csrc/ref/elementwise_ref.cpp; CPU: csrc/cpu/elementwise.cpp (OpenMP over chunks, SIMD inside).
// On the CUDA backend these are glue on CuPy (pycnn/_cuda_native.py), as the other elementwise ops.
//
// Activations, as PyTorch defines them.  The backward reads the value its Function saved:
//   relu        y = x <= 0 ? 0 : x          dx = y <= 0 ? 0 : dy        saved y
//               (relu(-inf) = 0, relu(-0.0) = +0, NaN stays NaN; the backward is a select, so an
//                infinite dy where x <= 0 gives 0, never NaN: torch's threshold_backward)
//   leaky_relu  y = x > 0 ? x : a*x         dx = x > 0 ? dy : a*dy      saved x (a may be <= 0,
//                                                                       so y's sign says nothing)
//   sigmoid     y = 1 / (1 + e^-x)          dx = dy * y * (1 - y)       saved y
//               (computed split by sign, e = e^-|x| <= 1: x >= 0 -> 1/(1+e), x < 0 -> e/(1+e),
//                so exp never overflows and sigmoid(-1000) = 0, not 0/inf)
//   tanh        y = tanh(x)                 dx = dy * (1 - y*y)         saved y
// The formula templates are static: the CPU's ISA files (cpu/elementwise_loops.h) compile their own
// copies with their own flags, and an internal copy cannot be merged into another unit's (simd.h).
// Binary ops of two same-shape arrays (add, sub, mul); `out` may alias `a`, which is how the
// autodiff engine accumulates a gradient in place (a += b).
// Broadcast binary ops, the forms a CNN uses: `big` has the result's shape, read as
// (outer, C, inner); `small` holds C values broadcast over outer and inner.  A scalar is C = 1;
// a per-channel (C, 1, 1) or (1, C, 1, 1) operand of (N, C, H, W) is outer N, inner H*W; a row
// bias (F,) of (N, F) is inner 1; an (N, C, 1, 1) gate is outer 1, C = N*C.
//   out[o, c, i] = big[o, c, i] (op) small[c]     (small_first: small[c] (op) big[o, c, i])
// `out` may alias `big`.  The adjoint sums over the broadcast axes (the gradient of `small`):
//   s[c] = sum over o, i of g[o, c, i]            (with other: of g[o, c, i] * other[o, c, i])
// Other broadcasts (both operands broadcast, as (N, 1, H, W) * (1, C, 1, 1)) stay on the array
// module (pycnn/_elementwise_xp.py: broadcast_form picks the form from the two shapes).
#pragma once
#include <cmath>
#include <type_traits>

#include "common.h"

namespace pycnn {

enum class Activation : int { relu = 0, leaky_relu = 1, sigmoid = 2, tanh = 3 };
enum class BinaryOp : int { add = 0, sub = 1, mul = 2 };

template <Activation A, typename T>
static PYCNN_HD T activation_value(T x, T alpha) {
  if constexpr (A == Activation::relu) {
    return x <= T(0) ? T(0) : x;
  } else if constexpr (A == Activation::leaky_relu) {
    return x > T(0) ? x : alpha * x;
  } else if constexpr (A == Activation::sigmoid) {
    const T e = std::exp(-std::fabs(x));
    return (x >= T(0) ? T(1) : e) / (T(1) + e);
  } else {
    return std::tanh(x);
  }
}

template <Activation A, typename T>
static PYCNN_HD T activation_grad(T dy, T saved, T alpha) {
  if constexpr (A == Activation::relu) {
    return saved <= T(0) ? T(0) : dy;
  } else if constexpr (A == Activation::leaky_relu) {
    return saved > T(0) ? dy : alpha * dy;
  } else if constexpr (A == Activation::sigmoid) {
    return dy * saved * (T(1) - saved);
  } else {
    return dy * (T(1) - saved * saved);
  }
}

template <BinaryOp B, typename T>
static PYCNN_HD T binary_value(T a, T b) {
  if constexpr (B == BinaryOp::add) return a + b;
  else if constexpr (B == BinaryOp::sub) return a - b;
  else return a * b;
}

// The names users and error messages see.
inline const char* activation_name(Activation a) {
  switch (a) {
    case Activation::relu: return "relu";
    case Activation::leaky_relu: return "leaky_relu";
    case Activation::sigmoid: return "sigmoid";
    default: return "tanh";
  }
}
inline const char* binary_name(BinaryOp b) {
  switch (b) {
    case BinaryOp::add: return "add";
    case BinaryOp::sub: return "sub";
    default: return "mul";
  }
}

// y[i] = f(x[i]); dx[i] = f'(dy[i], saved[i]); out[i] = a[i] (op) b[i].  alpha: leaky_relu's slope
// (ignored by the others).
template <typename T>
void activation_forward_ref(Activation act, T* y, const T* x, index_t n, T alpha);
template <typename T>
void activation_backward_ref(Activation act, T* dx, const T* dy, const T* saved, index_t n, T alpha);
template <typename T>
void binary_ref(BinaryOp op, T* out, const T* a, const T* b, index_t n);

// The (outer, C, inner) view of a broadcast binary op (above).
struct BroadcastShape {
  index_t outer, C, inner;
  index_t size() const { return outer * C * inner; }
};
template <typename T>
void binary_broadcast_ref(BinaryOp op, T* out, const T* big, const T* small, BroadcastShape b, bool small_first);
template <typename T>
void broadcast_sum_ref(T* s, const T* g, const T* other, BroadcastShape b);  // other may be null

template <typename T>
void activation_forward_cpu(Activation act, T* y, const T* x, index_t n, T alpha);
template <typename T>
void activation_backward_cpu(Activation act, T* dx, const T* dy, const T* saved, index_t n, T alpha);
template <typename T>
void binary_cpu(BinaryOp op, T* out, const T* a, const T* b, index_t n);
template <typename T>
void binary_broadcast_cpu(BinaryOp op, T* out, const T* big, const T* small, BroadcastShape b, bool small_first);
template <typename T>
void broadcast_sum_cpu(T* s, const T* g, const T* other, BroadcastShape b);

// One switch from the runtime enum to the compile-time op (the inner loops see a constant).
template <typename F>
void with_activation(Activation act, F&& f) {
  switch (act) {
    case Activation::relu: f(std::integral_constant<Activation, Activation::relu>{}); break;
    case Activation::leaky_relu: f(std::integral_constant<Activation, Activation::leaky_relu>{}); break;
    case Activation::sigmoid: f(std::integral_constant<Activation, Activation::sigmoid>{}); break;
    default: f(std::integral_constant<Activation, Activation::tanh>{}); break;
  }
}
template <typename F>
void with_binary(BinaryOp op, F&& f) {
  switch (op) {
    case BinaryOp::add: f(std::integral_constant<BinaryOp, BinaryOp::add>{}); break;
    case BinaryOp::sub: f(std::integral_constant<BinaryOp, BinaryOp::sub>{}); break;
    default: f(std::integral_constant<BinaryOp, BinaryOp::mul>{}); break;
  }
}

}  // namespace pycnn
