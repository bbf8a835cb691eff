// The inner loops of the CPU elementwise kernels (elementwise.cpp), one source for every ISA.
// elementwise.cpp (baseline), elementwise_avx2.cpp and elementwise_avx512.cpp each include this
// header and build an ElementwiseLoops<T> table from the templates below (anonymous namespace:
// each file compiles its own copy with its own flags); elementwise.cpp picks one by
// active_simd_level().  The library's one ISA mechanism: see simd.h.  The formulas of
// relu/leaky_relu and of every backward are elementwise.h's (static templates, so each ISA file
// has its own copy); sigmoid and tanh forward use the vectorizable exp below instead of libm.
//
// exp without libm.  For t <= 0 (the only arguments sigmoid and tanh need):
//   n = round(t / ln2),  r = t - n*ln2 in [-ln2/2, ln2/2]  (Cody-Waite: n*ln2_hi is exact, so r
//   is t - n*ln2 to within |n| * ulp(ln2_lo)),
//   e^r - 1 = r + r^2 * q(r),  q(r) = sum_{k>=2} r^(k-2)/k!  (Taylor; truncated after r^8/8! in
//   float, r^13/13! in double: the truncation is below 6e-10 resp. 2e-17 relative),
//   e^t = 2^n * (1 + (e^r - 1)),   e^t - 1 = 2^n * (e^r - 1) + (2^n - 1)  (2^n - 1 is exact; the
//   sum cancels only where n = 0, and then it is e^r - 1 itself).
// 2^n is built from its exponent bits, as 2^(n/2) * 2^(n - n/2) so that results down to the
// subnormals are right (e^-100 in float).  n comes from the shifter trick: t/ln2 + 1.5*2^p
// rounds to an integer in the low mantissa bits (p = 23, 52), so no float->int conversion.
// Error: e^t within about 1.5 ulp, e^t - 1 within about 2 ulp; sigmoid and tanh then within
// 3 ulp (tests/test_elementwise.py checks 4e-7 relative in float32, 1e-15 in float64, on
// random and special inputs, at every SIMD level).
#pragma once
#include <cstdint>

#include "elementwise.h"

namespace pycnn {

// One ISA's loops over a contiguous run of n elements (semantics: elementwise.h).
template <typename T>
struct ElementwiseLoops {
  void (*activation_forward[4])(T* y, const T* x, index_t n, T alpha);  // by Activation
  void (*activation_backward[4])(T* dx, const T* dy, const T* saved, index_t n, T alpha);
  void (*binary[3])(T* out, const T* a, const T* b, index_t n);  // by BinaryOp
  // out[i] = a[i] (op) s, or s (op) a[i] ([op][1]): a broadcast operand's run of one channel
  void (*binary_scalar[3][2])(T* out, const T* a, T s, index_t n);
  // sum of a[i] ([0]) or of a[i] * b[i] ([1]); acc[i] += a[i] ([0]) or a[i] * b[i] ([1])
  T (*sum[2])(const T* a, const T* b, index_t n);
  void (*accumulate[2])(T* acc, const T* a, const T* b, index_t n);
};

extern const ElementwiseLoops<float> elementwise_loops_f32_avx2;
extern const ElementwiseLoops<double> elementwise_loops_f64_avx2;
extern const ElementwiseLoops<float> elementwise_loops_f32_avx512;
extern const ElementwiseLoops<double> elementwise_loops_f64_avx512;

namespace {

template <typename T>
struct ExpBits;
template <>
struct ExpBits<float> {
  using Int = std::int32_t;
  using UInt = std::uint32_t;
  static constexpr int kMantissa = 23, kBias = 127;
  static constexpr float kShifter = 12582912.0f;  // 1.5 * 2^23
  static constexpr float kLog2e = 1.44269504088896341f;
  static constexpr float kLn2Hi = 0.693359375f;  // 355/512: 9 bits, so n * kLn2Hi is exact
  static constexpr float kLn2Lo = -2.12194440e-4f;
  // below these e^t (resp. e^t - 1 + 1) rounds to 0 (resp. -1): the clamp keeps 2^n's halves normal
  static constexpr float kExpMin = -110.0f, kExpm1Min = -40.0f;
  static float q(float r) {  // sum_{k=2..8} r^(k-2)/k!
    float p = 1.0f / 40320;
    p = p * r + 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    return p * r + 0.5f;
  }
};
template <>
struct ExpBits<double> {
  using Int = std::int64_t;
  using UInt = std::uint64_t;
  static constexpr int kMantissa = 52, kBias = 1023;
  static constexpr double kShifter = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr double kLog2e = 1.44269504088896340736;
  static constexpr double kLn2Hi = 6.93147180369123816490e-01;  // 32 bits: n * kLn2Hi is exact
  static constexpr double kLn2Lo = 1.90821492927058770002e-10;
  static constexpr double kExpMin = -750.0, kExpm1Min = -80.0;
  static double q(double r) {  // sum_{k=2..13} r^(k-2)/k!
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    return p * r + 0.5;
  }
};

// 2^k for an integer k whose biased exponent is in range (a normal number).  The bit arithmetic
// is unsigned: a NaN argument upstream gives a garbage k, never undefined behaviour.
template <typename T>
inline T pow2(typename ExpBits<T>::Int k) {
  using B = ExpBits<T>;
  using U = typename B::UInt;
  return __builtin_bit_cast(T, U(U(k) + U(B::kBias)) << B::kMantissa);
}

// t -> (n, e^r - 1) with t = n*ln2 + r (see the header comment); t must be finite and not below
// the clamp (callers clamp first; a NaN t gives garbage, which callers replace).
template <typename T>
inline T reduce_exp(T t, typename ExpBits<T>::Int& n) {
  using B = ExpBits<T>;
  const T shifted = t * B::kLog2e + B::kShifter;
  using U = typename B::UInt;
  n = typename B::Int(__builtin_bit_cast(U, shifted) - __builtin_bit_cast(U, B::kShifter));
  const T nf = shifted - B::kShifter;
  const T r = (t - nf * B::kLn2Hi) - nf * B::kLn2Lo;
  return r + r * r * B::q(r);
}

// e^t for t <= 0 (or NaN, which gives garbage).
template <typename T>
inline T exp_nonpositive(T t) {
  using B = ExpBits<T>;
  t = t < B::kExpMin ? B::kExpMin : t;
  typename B::Int n;
  const T em = reduce_exp(t, n);
  const typename B::Int half = n >> 1;
  return (T(1) + em) * pow2<T>(half) * pow2<T>(n - half);
}

// e^t - 1 for t <= 0 (or NaN, which gives garbage).
template <typename T>
inline T expm1_nonpositive(T t) {
  using B = ExpBits<T>;
  t = t < B::kExpm1Min ? B::kExpm1Min : t;
  typename B::Int n;
  const T em = reduce_exp(t, n);
  const T s = pow2<T>(n);
  return s * em + (s - T(1));
}

// The forward formulas the loops vectorize; the same values as elementwise.h's activation_value
// (relu and leaky_relu exactly, sigmoid and tanh within the error above).
template <Activation A, typename T>
inline T fast_activation_value(T x, T alpha) {
  if constexpr (A == Activation::sigmoid) {
    const T e = exp_nonpositive(-std::fabs(x));  // e^-|x|: never overflows
    const T y = (x >= T(0) ? T(1) : e) / (T(1) + e);
    return x != x ? x : y;
  } else if constexpr (A == Activation::tanh) {
    // tanh|x| = -(e^-2|x| - 1) / (2 + (e^-2|x| - 1)): no cancellation at small |x|
    const T em = expm1_nonpositive(T(-2) * std::fabs(x));
    const T y = std::copysign(-em / (T(2) + em), x);  // tanh(-0) = -0
    return x != x ? x : y;
  } else {
    return activation_value<A>(x, alpha);
  }
}

template <Activation A, typename T>
void forward_run(T* y, const T* x, index_t n, T alpha) {
#pragma omp simd
  for (index_t i = 0; i < n; ++i) y[i] = fast_activation_value<A>(x[i], alpha);
}

template <Activation A, typename T>
void backward_run(T* dx, const T* dy, const T* saved, index_t n, T alpha) {
#pragma omp simd
  for (index_t i = 0; i < n; ++i) dx[i] = activation_grad<A>(dy[i], saved[i], alpha);
}

template <BinaryOp B, typename T>
void binary_run(T* out, const T* a, const T* b, index_t n) {
#pragma omp simd
  for (index_t i = 0; i < n; ++i) out[i] = binary_value<B>(a[i], b[i]);
}

template <BinaryOp B, bool ScalarFirst, typename T>
void binary_scalar_run(T* out, const T* a, T s, index_t n) {
#pragma omp simd
  for (index_t i = 0; i < n; ++i) out[i] = ScalarFirst ? binary_value<B>(s, a[i]) : binary_value<B>(a[i], s);
}

// Lane-wise partial sums in a fixed order: the same result on every call at one SIMD level.
template <bool Product, typename T>
T sum_run(const T* a, const T* b, index_t n) {
  T acc = 0;
#pragma omp simd reduction(+ : acc)
  for (index_t i = 0; i < n; ++i) acc += Product ? a[i] * b[i] : a[i];
  return acc;
}

template <bool Product, typename T>
void accumulate_run(T* acc, const T* a, const T* b, index_t n) {
#pragma omp simd
  for (index_t i = 0; i < n; ++i) acc[i] += Product ? a[i] * b[i] : a[i];
}

template <typename T>
constexpr ElementwiseLoops<T> elementwise_loop_table() {
  using A = Activation;
  using O = BinaryOp;
  return ElementwiseLoops<T>{
      {forward_run<A::relu, T>, forward_run<A::leaky_relu, T>, forward_run<A::sigmoid, T>,
       forward_run<A::tanh, T>},
      {backward_run<A::relu, T>, backward_run<A::leaky_relu, T>, backward_run<A::sigmoid, T>,
       backward_run<A::tanh, T>},
      {binary_run<O::add, T>, binary_run<O::sub, T>, binary_run<O::mul, T>},
      {{binary_scalar_run<O::add, false, T>, binary_scalar_run<O::add, true, T>},
       {binary_scalar_run<O::sub, false, T>, binary_scalar_run<O::sub, true, T>},
       {binary_scalar_run<O::mul, false, T>, binary_scalar_run<O::mul, true, T>}},
      {sum_run<false, T>, sum_run<true, T>},
      {accumulate_run<false, T>, accumulate_run<true, T>}};
}

}  // namespace
}  // namespace pycnn
