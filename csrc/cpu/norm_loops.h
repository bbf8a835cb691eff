// The inner loops of the fused normalization kernels (norm.cpp), one source for every ISA.
// norm.cpp (baseline), norm_avx2.cpp and norm_avx512.cpp each include this header and build a
// NormLoops<T> table from the templates below (which live in an anonymous namespace: each file
// gets its own copy compiled with its own flags); norm.cpp picks a table by active_simd_level().
// That is the library's one ISA mechanism (simd.h); the only names an ISA object exports are its
// tables (check: nm -C --defined-only norm_avx512.cpp.o).
//
// Notation: hi + lo = mean split into T (x - hi is exact near the mean, see SplitMean in
// norm.cpp); the loops work on one contiguous run of n values.
#pragma once
#include <cstdint>

#include "elementwise.h"  // ReLU's select, for BatchNorm fused with ReLU (static templates)

namespace pycnn {

using index_t = std::int64_t;

// One ISA's loops; the semantics of each entry are given at its template below.
template <typename T>
struct NormLoops {
  void (*shifted_sums)(const T* x, index_t n, T K, double* s1, double* s2);
  void (*dy_sums)(const T* dy, const T* x, index_t n, T hi, double* a, double* b, T* dx, T k1,
                  const T* relu_out);
  void (*affine_run)(T* y, const T* x, index_t n, T hi, T scale, T c, bool relu);
  void (*dx_run)(T* dx, const T* dy, const T* x, index_t n, T k1, T k2, T hi, T k3,
                 const T* relu_out);
  void (*layer_norm_forward_row)(T* y, const T* x, const T* gamma, const T* beta, index_t n, T hi,
                                 T lo, T r);
  void (*layer_norm_row_sums)(const T* dy, const T* x, const T* gamma, index_t n, T hi, double* a,
                              double* b);
  void (*layer_norm_row_backward)(T* dx, const T* dy, const T* x, const T* gamma, index_t n, T r,
                                  T k2, T k3, T hi, T cr, T* dgamma, T* dbeta);
  void (*layer_norm_column_sums)(const T* dy, const T* x, const T* gamma, index_t n, T r, T hi,
                                 T lo, double* a, double* b, T* dgamma, T* dbeta);
  void (*layer_norm_column_dx)(T* dx, const T* dy, const T* x, const T* gamma, index_t n, T r,
                               T k2, T k3, T hi);
};

extern const NormLoops<float> norm_loops_f32_avx2;
extern const NormLoops<double> norm_loops_f64_avx2;
extern const NormLoops<float> norm_loops_f32_avx512;
extern const NormLoops<double> norm_loops_f64_avx512;

namespace {

// Reductions keep kLanes accumulators in T, which vectorize and hide the add latency, and fold
// them into double every kFold elements: T-speed inner loops, double accuracy over a whole set
// (each float lane sums only kFold / kLanes = 64 terms).  The same order at every ISA level.
constexpr index_t kLanes = 16;
constexpr index_t kFold = 1024;

// s1 += sum_k a_k, s2 += sum_k b_k over k in [0, n), where term(k, a, b) adds a_k to a, b_k to b.
template <typename T, typename Term>
inline void lane_sums(index_t n, double& s1, double& s2, Term term) {
  for (index_t k0 = 0; k0 < n; k0 += kFold) {
    const index_t k1 = n - k0 < kFold ? n : k0 + kFold;
    T a[kLanes] = {}, b[kLanes] = {};
    index_t k = k0;
    for (; k + kLanes <= k1; k += kLanes) {
#pragma omp simd
      for (index_t l = 0; l < kLanes; ++l) term(k + l, a[l], b[l]);
    }
    for (; k < k1; ++k) term(k, a[0], b[0]);
    // The fold: the lanes in double, added as a fixed pairwise tree (lane l with l + h for
    // h = 8, 4, 2, 1), which vectorizes; a serial chain of 16 adds cost as much as the sweep
    // itself on a LayerNorm row of 64 to 256 values.
    double da[kLanes], db[kLanes];
#pragma omp simd
    for (index_t l = 0; l < kLanes; ++l) {
      da[l] = double(a[l]);
      db[l] = double(b[l]);
    }
    for (index_t h = kLanes / 2; h > 0; h /= 2) {
#pragma omp simd
      for (index_t l = 0; l < h; ++l) {
        da[l] += da[l + h];
        db[l] += db[l + h];
      }
    }
    s1 += da[0];
    s2 += db[0];
  }
}

// *s1 += sum(x-K), *s2 += sum((x-K)^2); K is one of the set's values, so x - K is exact in T
// wherever x is near K.
template <typename T>
void shifted_sums(const T* x, index_t n, T K, double* s1, double* s2) {
  lane_sums<T>(n, *s1, *s2, [=](index_t k, T& a, T& b) {
    const T d = x[k] - K;
    a += d;
    b += d * d;
  });
}

// With relu_out (BatchNorm fused with ReLU, see norm.h) dy stands for ReLU's backward of it,
// g = relu_out <= 0 ? 0 : dy, read in the same sweep; the branch is outside the loops.
template <typename T, typename Body>
inline void with_relu_grad(const T* dy, const T* relu_out, Body body) {
  if (relu_out)
    body([=](index_t k) { return activation_grad<Activation::relu>(dy[k], relu_out[k], T(0)); });
  else
    body([=](index_t k) { return dy[k]; });
}

// *a += sum dy, *b += sum dy*(x-hi) (the caller subtracts lo * sum dy); dx_k, when dx is
// given, gets k1*dy_k in the same sweep.
template <typename T>
void dy_sums(const T* dy, const T* x, index_t n, T hi, double* a, double* b, T* dx, T k1,
             const T* relu_out) {
  with_relu_grad(dy, relu_out, [&](auto g) {
    if (dx) {
      lane_sums<T>(n, *a, *b, [=](index_t k, T& u, T& v) {
        const T d = g(k);
        u += d;
        v += d * (x[k] - hi);
        dx[k] = k1 * d;
      });
    } else {
      lane_sums<T>(n, *a, *b, [=](index_t k, T& u, T& v) {
        const T d = g(k);
        u += d;
        v += d * (x[k] - hi);
      });
    }
  });
}

// y = (x - hi) * scale + c, then relu(y) when fused with ReLU.
template <typename T>
void affine_run(T* y, const T* x, index_t n, T hi, T scale, T c, bool relu) {
  if (relu) {
#pragma omp simd
    for (index_t k = 0; k < n; ++k)
      y[k] = activation_value<Activation::relu>((x[k] - hi) * scale + c, T(0));
  } else {
#pragma omp simd
    for (index_t k = 0; k < n; ++k) y[k] = (x[k] - hi) * scale + c;
  }
}

// dx = k1*dy + k2*(x-hi) + k3 (dy: ReLU's backward of it, with relu_out).
template <typename T>
void dx_run(T* dx, const T* dy, const T* x, index_t n, T k1, T k2, T hi, T k3, const T* relu_out) {
  with_relu_grad(dy, relu_out, [&](auto g) {
#pragma omp simd
    for (index_t k = 0; k < n; ++k) dx[k] = k1 * g(k) + k2 * (x[k] - hi) + k3;
  });
}

// LayerNorm row (a gamma, beta per element): y = ((x - hi) - lo) * r * gamma + beta.
template <typename T>
void layer_norm_forward_row(T* y, const T* x, const T* gamma, const T* beta, index_t n, T hi,
                            T lo, T r) {
#pragma omp simd
  for (index_t j = 0; j < n; ++j) y[j] = ((x[j] - hi) - lo) * r * gamma[j] + beta[j];
}

// *a += sum dy*gamma, *b += sum dy*gamma*(x-hi) over a LayerNorm row.
template <typename T>
void layer_norm_row_sums(const T* dy, const T* x, const T* gamma, index_t n, T hi, double* a,
                         double* b) {
  lane_sums<T>(n, *a, *b, [=](index_t j, T& u, T& v) {
    const T w = dy[j] * gamma[j];
    u += w;
    v += w * (x[j] - hi);
  });
}

// dx = r*gamma*dy + k2*(x-hi) + k3, and dgamma += dy*xhat (xhat = (x-hi)*r + cr),
// dbeta += dy elementwise.
template <typename T>
void layer_norm_row_backward(T* dx, const T* dy, const T* x, const T* gamma, index_t n, T r,
                             T k2, T k3, T hi, T cr, T* dgamma, T* dbeta) {
#pragma omp simd
  for (index_t j = 0; j < n; ++j) {
    const T d = x[j] - hi, v = dy[j];
    dx[j] = r * gamma[j] * v + k2 * d + k3;
    dgamma[j] += v * (d * r + cr);
    dbeta[j] += v;
  }
}

// One row's slice of the column-split LayerNorm backward, read 1: *a += sum dy*gamma,
// *b += sum dy*gamma*(x-mean), dgamma += dy*xhat, dbeta += dy elementwise (xhat = (x-mean)*r).
template <typename T>
void layer_norm_column_sums(const T* dy, const T* x, const T* gamma, index_t n, T r, T hi, T lo,
                            double* a, double* b, T* dgamma, T* dbeta) {
  lane_sums<T>(n, *a, *b, [=](index_t j, T& u, T& v) {
    const T d = (x[j] - hi) - lo, w = dy[j] * gamma[j];
    u += w;
    v += w * d;
    dgamma[j] += dy[j] * (d * r);
    dbeta[j] += dy[j];
  });
}

// dx = r*gamma*dy + k2*(x-hi) + k3.
template <typename T>
void layer_norm_column_dx(T* dx, const T* dy, const T* x, const T* gamma, index_t n, T r, T k2,
                          T k3, T hi) {
#pragma omp simd
  for (index_t j = 0; j < n; ++j) dx[j] = r * gamma[j] * dy[j] + k2 * (x[j] - hi) + k3;
}

// This file's table of the loops above.
template <typename T>
constexpr NormLoops<T> norm_loop_table() {
  return {&shifted_sums<T>,           &dy_sums<T>,
          &affine_run<T>,             &dx_run<T>,
          &layer_norm_forward_row<T>, &layer_norm_row_sums<T>,
          &layer_norm_row_backward<T>, &layer_norm_column_sums<T>,
          &layer_norm_column_dx<T>};
}

}  // namespace
}  // namespace pycnn
