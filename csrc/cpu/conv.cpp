// CPU conv2d / conv_transpose2d (see csrc/conv.h for layouts and the math).
//
// General case, per image n and group g (a "job"), with K = C_in/groups * kH * kW:
//   forward      col = im2col(x[n,g])  (K, H_out*W_out);   y[n,g] = W_g (C_out/g, K) @ col
//   grad input   dcol = W_g^T @ dy[n,g];                   dx[n,g] = col2im(dcol)
//   grad weight  dW_g = sum_n dy[n,g] @ col^T              (thread-local partials, then a sum)
//   grad bias    db[c] = sum over n, h, w of dy[n,c]
// With at least as many jobs as threads each thread runs whole jobs on gemm_serial and its
// own col buffer (kept between calls); otherwise jobs run one after another on the parallel
// gemm.  im2col/col2im copy whole runs: with stride_w > 1 through a copy of the plane split
// into column phases.
// 1x1 stride-1 unpadded convs use x[n,g] itself as col (no im2col, no col2im).
// Stride-1 convs with narrow outputs use a "wide" im2col (one contiguous run per tap, junk
// columns between output rows) on blocks of images side by side; padded ones on a
// zero-bordered copy of the block's input (WideConv).
// Depthwise convs (groups == C_in > 1, C_out = m * C_in) use a flat form per plane: each tap a
// shift of a padded (strided: phase-split) copy, vectorized over the whole plane.
// Stride-1 undilated 3x3 convs with enough channels use Winograd F(2x2, 3x3) (use_winograd:
// 16 GEMMs over tiles instead of one over im2col's 9x copy, 2.25x fewer multiplies).
// The choice between these is made in one place: forward / backward_input / backward_weight.
// conv_transpose2d is the same three pieces swapped: forward = grad input, grad input =
// forward, grad weight = grad weight with x and dy exchanged; its grad input and grad weight
// share one im2col of dy per image.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "conv.h"
#include "depthwise_loops.h"
#include "elementwise.h"
#include "gemm.h"
#include "omp_guard.h"
#include "simd.h"
#include "winograd_loops.h"

namespace pycnn {

namespace {

// [lo, hi): the outputs o in [0, O) whose input tap o*s + off lies in [0, L).
inline void tap_range(index_t L, index_t s, index_t off, index_t O, index_t& lo, index_t& hi) {
  lo = off >= 0 ? 0 : (-off + s - 1) / s;
  hi = L - 1 - off < 0 ? 0 : (L - 1 - off) / s + 1;
  lo = std::min(lo, O);
  hi = std::max(lo, std::min(hi, O));
}

// For every kernel column kw: the output columns [lo, hi) whose tap is inside the row, and
// the input column `first` of the tap of ow = lo (output ow reads first + (ow - lo) * sw).
struct ColRanges {
  std::vector<index_t> lo, hi, first;
  explicit ColRanges(const Conv2dParams& p) : lo(p.kW), hi(p.kW), first(p.kW) {
    for (index_t kw = 0; kw < p.kW; ++kw) {
      const index_t off = kw * p.dilation_w - p.pad_left;
      tap_range(p.W, p.stride_w, off, p.W_out, lo[kw], hi[kw]);
      first[kw] = lo[kw] < hi[kw] ? lo[kw] * p.stride_w + off : 0;
    }
  }
};

// Column phases, for stride_w = s > 1: input column iw = j*s + ph of a plane row is stored
// at phased[ph*Wq + j] (Wq = ceil(W/s)), so the taps of one kernel column (every s-th input
// column) are one contiguous run and im2col/col2im move whole runs instead of strided elements.
// Only phases ph < min(s, W) hold a column, so a phased row has min(s, W) * Wq elements: sized
// by the image, not by the stride (a stride of 2^31 on a 7-wide row needs 7, not 2^31).
struct Phases {
  index_t s, Wq, ld;  // ld: the row stride of the phased plane (the plane's W when s == 1)
  explicit Phases(const Conv2dParams& p)
      : s(p.stride_w),
        Wq(ceil_div(p.W, p.stride_w)),
        ld(p.stride_w > 1 ? std::min(p.stride_w, p.W) * Wq : p.W) {}
  // Where the tap of output column lo of a kernel column whose input column is `first` sits.
  index_t at(index_t first) const { return s > 1 ? first % s * Wq + first / s : first; }
};

// Plane rows to (To) or from column phases: plane column j*s + ph <-> phased[ph*Wq + j].
// Whole groups of s columns first, then the partial last group; S = s when it is known at
// compile time (0: read s at run time), so the common stride 2 becomes unrolled interleaves
// that the compiler vectorizes.
template <index_t S, bool To, typename T>
void phase_rows(T* dst, const T* src, index_t H, index_t W, const Phases& f) {
  const index_t s = S ? S : f.s, groups = W / s;
  for (index_t ih = 0; ih < H; ++ih) {
    T* d = dst + ih * (To ? f.ld : W);
    const T* r = src + ih * (To ? W : f.ld);
    for (index_t j = 0; j < groups; ++j)
      for (index_t ph = 0; ph < s; ++ph) {
        if (To)
          d[ph * f.Wq + j] = r[j * s + ph];
        else
          d[j * s + ph] = r[ph * f.Wq + j];
      }
    for (index_t ph = 0; groups * s + ph < W; ++ph) {
      if (To)
        d[ph * f.Wq + groups] = r[groups * s + ph];
      else
        d[groups * s + ph] = r[ph * f.Wq + groups];
    }
  }
}

template <typename T>
void to_phases(T* phased, const T* plane, index_t H, index_t W, const Phases& f) {
  if (f.s == 2)
    phase_rows<2, true>(phased, plane, H, W, f);
  else
    phase_rows<0, true>(phased, plane, H, W, f);
}

template <typename T>
void from_phases(T* plane, const T* phased, index_t H, index_t W, const Phases& f) {
  if (f.s == 2)
    phase_rows<2, false>(plane, phased, H, W, f);
  else
    phase_rows<0, false>(plane, phased, H, W, f);
}

// d[0, n) = s[0, n), n short (a plane row): an inline loop, where std::copy calls memmove
// (a call per row cost more than the copy on 8- to 32-wide rows: measured on the depthwise planes).
template <typename T>
inline void copy_run(T* d, const T* s, index_t n) {
#pragma omp simd
  for (index_t j = 0; j < n; ++j) d[j] = s[j];
}

// One im2col row segment: dst[0, Wo) = src[ow - lo] for ow in [lo, hi), zero elsewhere.
// Plain loops, not memset/memcpy calls: the segments are short (a row of W_out).
template <typename T>
inline void gather_row(T* dst, const T* src, index_t lo, index_t hi, index_t Wo) {
  for (index_t i = 0; i < lo; ++i) dst[i] = T(0);
  dst += lo;
  const index_t cnt = hi - lo;
  copy_run(dst, src, cnt);
  for (index_t i = cnt; i < Wo - lo; ++i) dst[i] = T(0);
}

// col (K, H_out*W_out) <- one image-group x (C_in/groups, H, W); rows ordered (c, kh, kw).
// Parallel over channels.
template <typename T>
void im2col(T* col, const T* x, const Conv2dParams& p, const ColRanges& r, bool parallel) {
  const index_t Wo = p.W_out, kk = p.kH * p.kW, hwo = p.out_hw();
  const Phases f(p);
  OmpGuard guard;
#pragma omp parallel if (parallel)
  {
    std::vector<T> phased;
    guard.run([&] { phased.resize(f.s > 1 ? p.H * f.ld : 0); });
#pragma omp for schedule(static)
    for (index_t c = 0; c < p.cin_g(); ++c) {
      if (guard.failed()) continue;
      const T* xc = x + c * p.H * p.W;
      if (f.s > 1) {
        to_phases(phased.data(), xc, p.H, p.W, f);
        xc = phased.data();
      }
      for (index_t k = 0; k < kk; ++k) {
        const index_t kh = k / p.kW, kw = k % p.kW, lo = r.lo[kw], hi = r.hi[kw];
        const T* src = xc + f.at(r.first[kw]);
        T* dst = col + (c * kk + k) * hwo;
        for (index_t oh = 0; oh < p.H_out; ++oh, dst += Wo) {
          const index_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
          if (ih < 0 || ih >= p.H)
            gather_row(dst, src, 0, 0, Wo);
          else
            gather_row(dst, src + ih * f.ld, lo, hi, Wo);
        }
      }
    }
  }
  guard.rethrow();
}

// ------------------------------------------------------------------ wide im2col
// With stride 1 and no padding, output (oh, ow) of tap (c, kh, kw) reads
//   x[c].flat[off + oh*W + ow],  off = kh*dh*W + kw*dw.
// On the "wide" output grid, rows of length W whose columns ow >= W_out are junk, im2col row
// (c, kh, kw) is the one contiguous run x[c].flat[off + j], j < L = (H_out-1)*W + W_out
// (it ends inside the plane), instead of H_out short runs.  The GEMM does W/W_out times the
// work, so this is for narrow outputs (LeNet: 10 of 14 columns), where the per-run cost of
// im2col dominates.
bool use_wide(const Conv2dParams& p) {
  return p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 && p.pad_left == 0 &&
         p.H_out > 0 && p.W_out > 0 && p.H_out == p.H - p.dilation_h * (p.kH - 1) &&
         p.W_out == p.W - p.dilation_w * (p.kW - 1) && !p.is_pointwise() && p.W_out <= 32 &&
         2 * p.W <= 3 * p.W_out;
}

index_t wide_len(const Conv2dParams& p) { return (p.H_out - 1) * p.W + p.W_out; }

// Padded stride-1 convs take the wide path too, on a zero-bordered copy of each block's input:
// the conv on x with padding is the unpadded conv `q` on the copy, of H_out + dh*(kH-1) rows
// and W_out + dw*(kW-1) columns (x at row pad_top, column pad_left).  The copy is about
// (1 + 2p/H)(1 + 2p/W) times the input, the im2col it replaces kH*kW times the output in
// short runs: for 16 -> 16 channels on 32 x 32 images (ResNet-8) im2col took 60 % of the
// forward.  Its grad-input adjoint accumulates into the copy and crops it (bench/README.md,
// bench_conv.py: the ResNet-8 rows).
struct WideConv {
  bool on = false, padded = false;
  Conv2dParams q;  // the unpadded conv the wide loops run (p itself when not padded)
  explicit WideConv(const Conv2dParams& p) : q(p) {
    if (use_wide(p)) {
      on = true;
      return;
    }
    if (p.stride_h != 1 || p.stride_w != 1 || p.H_out <= 0 || p.W_out <= 0 || p.is_pointwise())
      return;
    q.H = p.H_out + p.dilation_h * (p.kH - 1);
    q.W = p.W_out + p.dilation_w * (p.kW - 1);
    q.pad_top = q.pad_left = q.pad_bottom = q.pad_right = 0;
    // every input element must land inside the copy (a transposed conv's output_padding rows
    // may not: those stay on the general path)
    padded = on = p.pad_top >= 0 && p.pad_left >= 0 && p.pad_top + p.H <= q.H &&
                  p.pad_left + p.W <= q.W && use_wide(q);
  }
  index_t padded_image(const Conv2dParams& p) const { return padded ? p.cin_g() * q.H * q.W : 0; }
};

// A wide job takes a block of B images side by side (matrices (rows, B*L), image b in
// columns [b*L, (b+1)*L)): one GEMM with B times the columns, so fewer, wider calls.  B keeps
// a job's scratch ((K + C_out/groups) x B*L, plus the padded copies) within about a third of
// a 1 MB L2, and leaves a block per thread.
struct WideBlocks {
  index_t L, B, blocks, pad;
  WideBlocks(const WideConv& wc, const Conv2dParams& p, index_t elem_bytes)
      : L(wide_len(wc.q)), pad(wc.padded_image(p)) {
    const index_t per_image = std::max<index_t>(1, ((p.col_rows() + p.cout_g()) * L + pad) * elem_bytes);
    B = std::max<index_t>(1, std::min<index_t>((index_t(384) << 10) / per_image,
                                               p.N / num_threads()));
    blocks = ceil_div(p.N, B);
  }
  index_t images(index_t block, index_t N) const { return std::min(B, N - block * B); }
  index_t scratch(const Conv2dParams& p) const { return ((p.col_rows() + p.cout_g()) * L + pad) * B; }
};

// xpad (nb, C, q.H, q.W) <- nb blocks of C planes (H, W) img_stride apart, at row pad_top and
// column pad_left of zero planes.  Parallel over planes.
template <typename T>
void pad_planes(T* xpad, const T* x, index_t img_stride, index_t nb, index_t C,
                const Conv2dParams& p, const Conv2dParams& q, bool parallel) {
  const index_t plane = q.H * q.W;
#pragma omp parallel for schedule(static) if (parallel)
  for (index_t bc = 0; bc < nb * C; ++bc) {
    T* dst = xpad + bc * plane;
    const T* src = x + bc / C * img_stride + bc % C * p.H * p.W;
    std::fill(dst, dst + p.pad_top * q.W, T(0));
    for (index_t h = 0; h < p.H; ++h) {
      T* row = dst + (p.pad_top + h) * q.W;
      std::fill(row, row + p.pad_left, T(0));
      copy_run(row + p.pad_left, src + h * p.W, p.W);
      std::fill(row + p.pad_left + p.W, row + q.W, T(0));
    }
    std::fill(dst + (p.pad_top + p.H) * q.W, dst + plane, T(0));
  }
}

// The adjoint: dx's nb blocks of C planes <- the (pad_top, pad_left) crop of xpad.
template <typename T>
void crop_planes(T* dx, index_t img_stride, const T* xpad, index_t nb, index_t C,
                 const Conv2dParams& p, const Conv2dParams& q, bool parallel) {
#pragma omp parallel for schedule(static) if (parallel)
  for (index_t bc = 0; bc < nb * C; ++bc) {
    const T* src = xpad + bc * q.H * q.W + p.pad_top * q.W + p.pad_left;
    T* dst = dx + bc / C * img_stride + bc % C * p.H * p.W;
    for (index_t h = 0; h < p.H; ++h) copy_run(dst + h * p.W, src + h * q.W, p.W);
  }
}

// The input block of a wide job as im2col_wide reads it: x itself, or its padded copy in buf.
template <typename T>
const T* wide_input(const WideConv& wc, const Conv2dParams& p, const T* x, index_t nb, T* buf,
                    index_t& img_stride, bool parallel) {
  img_stride = p.C_in * p.H * p.W;
  if (!wc.padded) return x;
  pad_planes(buf, x, img_stride, nb, p.cin_g(), p, wc.q, parallel);
  img_stride = p.cin_g() * wc.q.H * wc.q.W;
  return buf;
}

// col (K, ld) <- nb image-groups x (C_in/groups, H, W) img_stride apart, rows ordered
// (c, kh, kw), image b in columns [b*L, (b+1)*L).
template <typename T>
void im2col_wide(T* col, index_t ld, const T* x, index_t img_stride, index_t nb,
                 const Conv2dParams& p, bool parallel) {
  const index_t K = p.col_rows(), L = wide_len(p);
#pragma omp parallel for schedule(static) if (parallel)
  for (index_t row = 0; row < K; ++row) {
    const index_t kw = row % p.kW, kh = row / p.kW % p.kH, c = row / (p.kW * p.kH);
    const T* src = x + c * p.H * p.W + kh * p.dilation_h * p.W + kw * p.dilation_w;
    for (index_t b = 0; b < nb; ++b) std::copy_n(src + b * img_stride, L, col + row * ld + b * L);
  }
}

// dx (nb image-groups, img_stride apart) = the adjoint of im2col_wide (the caller zeroes the
// junk columns in dy, so every run is added whole).  Parallel over channels.
template <typename T>
void col2im_wide(T* dx, index_t img_stride, const T* dcol, index_t ld, index_t nb,
                 const Conv2dParams& p, bool parallel) {
  const index_t L = wide_len(p), kk = p.kH * p.kW;
#pragma omp parallel for schedule(static) if (parallel)
  for (index_t c = 0; c < p.cin_g(); ++c)
    for (index_t b = 0; b < nb; ++b) {
      T* plane = dx + b * img_stride + c * p.H * p.W;
      std::fill(plane, plane + p.H * p.W, T(0));
      for (index_t k = 0; k < kk; ++k) {
        T* dst = plane + k / p.kW * p.dilation_h * p.W + k % p.kW * p.dilation_w;
        const T* src = dcol + (c * kk + k) * ld + b * L;
#pragma omp simd
        for (index_t j = 0; j < L; ++j) dst[j] += src[j];
      }
    }
}

// Wide rows (C, ld) <-> nb blocks of (C, H_out, W_out) planes img_stride apart; widen zeroes
// the junk columns.
template <typename T>
void narrow_rows(T* y, index_t img_stride, const T* wide, index_t ld, index_t nb, index_t C,
                 const Conv2dParams& p) {
  const index_t L = wide_len(p), Wo = p.W_out;
  for (index_t b = 0; b < nb; ++b)
    for (index_t c = 0; c < C; ++c)
      for (index_t oh = 0; oh < p.H_out; ++oh) {
        const T* src = wide + c * ld + b * L + oh * p.W;
        T* dst = y + b * img_stride + (c * p.H_out + oh) * Wo;
#pragma omp simd
        for (index_t i = 0; i < Wo; ++i) dst[i] = src[i];
      }
}

template <typename T>
void widen_rows(T* wide, index_t ld, const T* y, index_t img_stride, index_t nb, index_t C,
                const Conv2dParams& p) {
  const index_t L = wide_len(p), Wo = p.W_out;
  for (index_t b = 0; b < nb; ++b)
    for (index_t c = 0; c < C; ++c)
      for (index_t oh = 0; oh < p.H_out; ++oh) {
        const T* src = y + b * img_stride + (c * p.H_out + oh) * Wo;
        T* dst = wide + c * ld + b * L + oh * p.W;
#pragma omp simd
        for (index_t i = 0; i < Wo; ++i) dst[i] = src[i];
        if (oh + 1 < p.H_out)
          for (index_t i = Wo; i < p.W; ++i) dst[i] = T(0);
      }
}

// dx (C_in/groups, H, W) = col2im(dcol): the adjoint of im2col (overlapping taps add up),
// accumulated in column phases when stride_w > 1.  Parallel over channels.
template <typename T>
void col2im(T* dx, const T* dcol, const Conv2dParams& p, const ColRanges& r, bool parallel) {
  const index_t hwo = p.out_hw(), Wo = p.W_out, kk = p.kH * p.kW;
  const Phases f(p);
  OmpGuard guard;
#pragma omp parallel if (parallel)
  {
    std::vector<T> phased;
    guard.run([&] { phased.resize(f.s > 1 ? p.H * f.ld : 0); });
#pragma omp for schedule(static)
    for (index_t c = 0; c < p.cin_g(); ++c) {
      if (guard.failed()) continue;
      T* plane = dx + c * p.H * p.W;
      T* acc = f.s > 1 ? phased.data() : plane;
      std::fill(acc, acc + p.H * f.ld, T(0));
      for (index_t k = 0; k < kk; ++k) {
        const index_t kh = k / p.kW, kw = k % p.kW;
        const index_t cnt = r.hi[kw] - r.lo[kw];
        const T* src = dcol + (c * kk + k) * hwo + r.lo[kw];
        T* dst0 = acc + f.at(r.first[kw]);
        for (index_t oh = 0; oh < p.H_out; ++oh, src += Wo) {
          const index_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
          if (ih < 0 || ih >= p.H) continue;
          T* dst = dst0 + ih * f.ld;
#pragma omp simd
          for (index_t i = 0; i < cnt; ++i) dst[i] += src[i];
        }
      }
      if (f.s > 1) from_phases(plane, phased.data(), p.H, p.W, f);
    }
  }
  guard.rethrow();
}

// A thread's im2col scratch of at least `count` elements (uninitialised: im2col writes all
// of it).  Up to 8 MB it is this thread's buffer, kept between calls (it only grows): a fresh
// allocation per call is an mmap beyond 128 KB whose page faults cost about as much as the
// im2col itself.  Larger requests get a buffer of their own, freed with the Scratch, so a
// one-off huge conv does not pin its memory.
template <typename T>
class Scratch {
 public:
  explicit Scratch(index_t count) {
    thread_local std::vector<T> kept;
    if (count * index_t(sizeof(T)) <= (index_t(8) << 20)) {
      if (index_t(kept.size()) < count) kept.resize(count);
      ptr_ = kept.data();
    } else {
      own_.reset(new T[count]);
      ptr_ = own_.get();
    }
  }
  T* get() const { return ptr_; }

 private:
  std::unique_ptr<T[]> own_;
  T* ptr_ = nullptr;
};

// y += b per channel (b may be null), then relu(y) with relu: one pass, the same roundings as the
// separate bias add and ReLU.
template <typename T>
void channel_epilogue(T* y, const T* b, bool relu, index_t N, index_t C, index_t HW) {
  if (!b && !relu) return;
#pragma omp parallel for schedule(static)
  for (index_t nc = 0; nc < N * C; ++nc) {
    const T v = b ? b[nc % C] : T(0);
    T* row = y + nc * HW;
    if (!relu) {
#pragma omp simd
      for (index_t i = 0; i < HW; ++i) row[i] += v;
    } else if (b) {
#pragma omp simd
      for (index_t i = 0; i < HW; ++i) row[i] = activation_value<Activation::relu>(row[i] + v, T(0));
    } else {
#pragma omp simd
      for (index_t i = 0; i < HW; ++i) row[i] = activation_value<Activation::relu>(row[i], T(0));
    }
  }
}

// s[c] = sum over n and the plane of a (N, C, HW).
template <typename T>
void channel_sums(T* s, const T* a, index_t N, index_t C, index_t HW) {
#pragma omp parallel for schedule(static)
  for (index_t c = 0; c < C; ++c) {
    T acc = 0;
    for (index_t n = 0; n < N; ++n) {
      const T* row = a + (n * C + c) * HW;
      T part = 0;  // simd reduction: lane-wise partial sums in a fixed order (deterministic)
#pragma omp simd reduction(+ : part)
      for (index_t i = 0; i < HW; ++i) part += row[i];
      acc += part;
    }
    s[c] = acc;
  }
}

template <typename T>
auto gemm_for(bool serial) {
  return serial ? &gemm_serial<T> : &gemm<T>;
}

// Runs job(j, scratch, serial) for j < jobs.  With at least as many jobs as threads, whole
// jobs run per thread (serial = true: gemm_serial, serial im2col) each with its own scratch
// of scratch_size elements; otherwise one after another with parallel insides.  Jobs are handed
// out one at a time as threads free up, or, `uniform` (many small jobs of one size: depthwise
// planes, where a shared counter per job cost more than the job), in equal static ranges.
template <typename T, typename Job>
void run_jobs(index_t jobs, index_t scratch_size, Job&& job, bool uniform = false) {
  if (jobs >= num_threads()) {
    OmpGuard guard;
#pragma omp parallel
    {
      std::unique_ptr<Scratch<T>> scratch;
      guard.run([&] { scratch = std::make_unique<Scratch<T>>(scratch_size); });
      if (uniform) {
#pragma omp for schedule(static)
        for (index_t j = 0; j < jobs; ++j) guard.run([&] { job(j, scratch->get(), true); });
      } else {
#pragma omp for schedule(dynamic)
        for (index_t j = 0; j < jobs; ++j) guard.run([&] { job(j, scratch->get(), true); });
      }
    }
    guard.rethrow();
  } else {
    const Scratch<T> scratch(scratch_size);
    for (index_t j = 0; j < jobs; ++j) job(j, scratch.get(), false);
  }
}

// ------------------------------------------------------------------ im2col + GEMM
template <typename T>
void forward_gemm(T* y, const T* x, const T* w, const Conv2dParams& p) {
  const index_t G = p.groups, cig = p.cin_g(), cog = p.cout_g(), K = p.col_rows();
  const index_t hw = p.H * p.W, hwo = p.out_hw();
  const bool pw = p.is_pointwise();
  const ColRanges r(p);
  const WideConv wc(p);
  if (wc.on) {
    // col (K, nb*L) for a block of nb images, y_wide (cog, nb*L) = W_g @ col, narrowed into y.
    const WideBlocks wb(wc, p, sizeof(T));
    run_jobs<T>(wb.blocks * G, wb.scratch(p), [&](index_t j, T* col, bool serial) {
      const index_t n = j / G * wb.B, g = j % G, nb = wb.images(j / G, p.N), ld = nb * wb.L;
      T* y_wide = col + K * ld;
      index_t stride;
      const T* xb = wide_input(wc, p, x + (n * p.C_in + g * cig) * hw, nb, y_wide + cog * ld, stride, !serial);
      im2col_wide(col, ld, xb, stride, nb, wc.q, !serial);
      gemm_for<T>(serial)(false, false, cog, ld, K, T(1), w + g * cog * K, K, col, ld, T(0),
                          y_wide, ld);
      narrow_rows(y + (n * p.C_out + g * cog) * hwo, p.C_out * hwo, y_wide, ld, nb, cog, wc.q);
    });
    return;
  }
  run_jobs<T>(p.N * G, pw ? 0 : K * hwo, [&](index_t j, T* col, bool serial) {
    const index_t n = j / G, g = j % G;
    const T* xg = x + (n * p.C_in + g * cig) * hw;
    if (!pw) im2col(col, xg, p, r, !serial);
    gemm_for<T>(serial)(false, false, cog, hwo, K, T(1), w + g * cog * K, K, pw ? xg : col, hwo,
                        T(0), y + (n * p.C_out + g * cog) * hwo, hwo);
  });
}

template <typename T>
void backward_input_gemm(T* dx, const T* dy, const T* w, const Conv2dParams& p) {
  const index_t G = p.groups, cig = p.cin_g(), cog = p.cout_g(), K = p.col_rows();
  const index_t hw = p.H * p.W, hwo = p.out_hw();
  const bool pw = p.is_pointwise();
  const ColRanges r(p);
  const WideConv wc(p);
  if (wc.on) {
    // dy_wide (cog, nb*L) with zero junk columns, dcol = W_g^T @ dy_wide, col2im_wide (into
    // the padded copy, then cropped, when padded).
    const WideBlocks wb(wc, p, sizeof(T));
    run_jobs<T>(wb.blocks * G, wb.scratch(p), [&](index_t j, T* dcol, bool serial) {
      const index_t n = j / G * wb.B, g = j % G, nb = wb.images(j / G, p.N), ld = nb * wb.L;
      T* dy_wide = dcol + K * ld;
      T* dxpad = dy_wide + cog * ld;
      widen_rows(dy_wide, ld, dy + (n * p.C_out + g * cog) * hwo, p.C_out * hwo, nb, cog, wc.q);
      gemm_for<T>(serial)(true, false, K, ld, cog, T(1), w + g * cog * K, K, dy_wide, ld, T(0),
                          dcol, ld);
      T* dxg = dx + (n * p.C_in + g * cig) * hw;
      if (!wc.padded) {
        col2im_wide(dxg, p.C_in * hw, dcol, ld, nb, p, !serial);
        return;
      }
      col2im_wide(dxpad, cig * wc.q.H * wc.q.W, dcol, ld, nb, wc.q, !serial);
      crop_planes(dxg, p.C_in * hw, dxpad, nb, cig, p, wc.q, !serial);
    });
    return;
  }
  run_jobs<T>(p.N * G, pw ? 0 : K * hwo, [&](index_t j, T* dcol, bool serial) {
    const index_t n = j / G, g = j % G;
    T* dxg = dx + (n * p.C_in + g * cig) * hw;
    // dcol (K, hwo) = W_g^T @ dy[n,g]; for 1x1 convs dcol is dx[n,g] itself.
    gemm_for<T>(serial)(true, false, K, hwo, cog, T(1), w + g * cog * K, K,
                        dy + (n * p.C_out + g * cog) * hwo, hwo, T(0), pw ? dxg : dcol, hwo);
    if (!pw) col2im(dxg, dcol, p, r, !serial);
  });
}

// Whether backward_weight_gemm sums thread-local partials over (image, group) jobs: fewer
// groups than threads but enough jobs (the usual training batch).
bool weight_uses_partials(const Conv2dParams& p, index_t images) {
  const int nt = num_threads();
  return images > 0 && p.groups < nt && images * p.groups >= nt;
}

// Runs job(j, partial, scratch) for j < jobs on every thread, each with its own zeroed partial
// of psize elements and a scratch of scratch_size; returns the partials (one per thread).  static
// schedule: each thread's set of jobs, hence its partial sum, is the same every run, so weight
// gradients (and training) are reproducible for a given thread count.
template <typename T, typename Job>
std::vector<std::vector<T>> thread_partials(index_t jobs, index_t psize, index_t scratch_size, Job&& job) {
  const int nt = num_threads();
  std::vector<std::vector<T>> partial(nt);
  OmpGuard guard;
#pragma omp parallel num_threads(nt)
  {
    std::vector<T>& mine = partial[omp_get_thread_num()];
    std::unique_ptr<Scratch<T>> scratch;
    guard.run([&] {
      mine.assign(psize, T(0));
      scratch = std::make_unique<Scratch<T>>(scratch_size);
    });
#pragma omp for schedule(static)
    for (index_t j = 0; j < jobs; ++j) guard.run([&] { job(j, mine.data(), scratch->get()); });
  }
  guard.rethrow();
  return partial;
}

// out[i] = the sum over the threads' partials of element i, i < size (in thread order).
template <typename T>
void sum_partials(T* out, const std::vector<std::vector<T>>& partial, index_t size) {
#pragma omp parallel for schedule(static)
  for (index_t i = 0; i < size; ++i) {
    T s = 0;
    for (const auto& part : partial)
      if (!part.empty()) s += part[i];
    out[i] = s;
  }
}

// dw (C_out, K) = the sum over jobs j < images*groups (images: or blocks) of job(j, dW_g
// partial, col scratch): thread_partials, then one parallel reduction.
template <typename T, typename Job>
void weight_partials(T* dw, const Conv2dParams& p, index_t images, index_t scratch, Job&& job) {
  const index_t jobs = images * p.groups, wsize = p.C_out * p.col_rows();
  const index_t gsize = p.cout_g() * p.col_rows();
  const auto partial = thread_partials<T>(jobs, wsize, scratch, [&](index_t j, T* mine, T* col) {
    job(j, mine + j % p.groups * gsize, col);
  });
  sum_partials(dw, partial, wsize);
}

template <typename T>
void backward_weight_gemm(T* dw, const T* dy, const T* x, const Conv2dParams& p) {
  const index_t G = p.groups, cig = p.cin_g(), cog = p.cout_g(), K = p.col_rows();
  const index_t hw = p.H * p.W, hwo = p.out_hw(), N = p.N, wsize = p.C_out * K;
  const bool pw = p.is_pointwise();
  const WideConv wc(p);
  const bool wide = wc.on;
  const WideBlocks wb(wc, p, sizeof(T));
  // A job's unit is an image, or a block of wb.B images on the wide path.
  const index_t units = wide ? wb.blocks : N;
  const index_t scratch = wide ? wb.scratch(p) : pw ? 0 : K * hwo;
  const ColRanges r(p);
  // dW_g (+)= dy[n,g] (cog, hwo) @ col^T, col stored (K, hwo); or, wide, the same product
  // over the nb*L columns of a block, the junk ones zero in dy_wide.
  auto accumulate = [&](T* dwg, index_t u, index_t g, T* col, bool serial, bool first) {
    const T beta = first ? T(0) : T(1);
    if (wide) {
      const index_t n = u * wb.B, nb = wb.images(u, N), ld = nb * wb.L;
      T* dy_wide = col + K * ld;
      index_t stride;
      const T* xb = wide_input(wc, p, x + (n * p.C_in + g * cig) * hw, nb, dy_wide + cog * ld, stride, !serial);
      im2col_wide(col, ld, xb, stride, nb, wc.q, !serial);
      widen_rows(dy_wide, ld, dy + (n * p.C_out + g * cog) * hwo, p.C_out * hwo, nb, cog, wc.q);
      gemm_for<T>(serial)(false, true, cog, K, ld, T(1), dy_wide, ld, col, ld, beta, dwg, K);
      return;
    }
    const T* xg = x + (u * p.C_in + g * cig) * hw;
    if (!pw) im2col(col, xg, p, r, !serial);
    gemm_for<T>(serial)(false, true, cog, K, hwo, T(1), dy + (u * p.C_out + g * cog) * hwo, hwo,
                        pw ? xg : col, hwo, beta, dwg, K);
  };
  if (N == 0) {
    std::fill(dw, dw + wsize, T(0));
  } else if (!weight_uses_partials(p, units)) {
    // A job is a whole group (no reduction): per thread when there are enough groups,
    // else one group at a time on the parallel gemm.
    run_jobs<T>(G, scratch, [&](index_t g, T* col, bool serial) {
      for (index_t u = 0; u < units; ++u) accumulate(dw + g * cog * K, u, g, col, serial, u == 0);
    });
  } else {
    weight_partials<T>(dw, p, units, scratch, [&](index_t j, T* dwg, T* col) {
      accumulate(dwg, j / G, j % G, col, true, false);
    });
  }
}

// dx_t and dW of conv_transpose2d from one im2col per (image, group) of dy_t (p's x) instead
// of two: col = im2col(dy_t[n,g]); dx_t[n,g] = W_g @ col (the conv forward);
// dW_g += x_t[n,g] @ col^T (the conv's grad weight with x_t as its dy).
template <typename T>
void transpose_backward_fused(T* dx, T* dw, const T* dy, const T* x, const T* w,
                              const Conv2dParams& p) {
  const index_t G = p.groups, cig = p.cin_g(), cog = p.cout_g(), K = p.col_rows();
  const index_t hw = p.H * p.W, hwo = p.out_hw();
  const ColRanges r(p);
  weight_partials<T>(dw, p, p.N, K * hwo, [&](index_t j, T* dwg, T* col) {
    const index_t n = j / G, g = j % G;
    im2col(col, dy + (n * p.C_in + g * cig) * hw, p, r, false);
    const index_t out = (n * p.C_out + g * cog) * hwo;
    gemm_serial<T>(false, false, cog, hwo, K, T(1), w + g * cog * K, K, col, hwo, T(0), dx + out,
                   hwo);
    gemm_serial<T>(false, true, cog, K, hwo, T(1), x + out, hwo, col, hwo, T(1), dwg, K);
  });
}

// ------------------------------------------------------------------ depthwise
// Output channel co reads input channel co / m, m = C_out / C_in (the depth multiplier).
//
// The direct loops: the fallback where the flat form's planes would be much larger than the
// image (padding or dilation far beyond the kernel's reach), and the weight gradient's recheck.
template <typename T>
void depthwise_forward_direct(T* y, const T* x, const T* w, const T* b, const Conv2dParams& p) {
  const index_t m = p.C_out / p.C_in, hw = p.H * p.W, Wo = p.W_out, sw = p.stride_w;
  const ColRanges r(p);
#pragma omp parallel for schedule(static)
  for (index_t nc = 0; nc < p.N * p.C_out; ++nc) {
    const index_t n = nc / p.C_out, co = nc % p.C_out;
    const T* xp = x + (n * p.C_in + co / m) * hw;
    const T* wk = w + co * p.kH * p.kW;
    T* yrow = y + nc * p.out_hw();
    for (index_t oh = 0; oh < p.H_out; ++oh, yrow += Wo) {
      std::fill(yrow, yrow + Wo, b ? b[co] : T(0));
      for (index_t kh = 0; kh < p.kH; ++kh) {
        const index_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
        if (ih < 0 || ih >= p.H) continue;
        for (index_t kw = 0; kw < p.kW; ++kw) {
          const T wv = wk[kh * p.kW + kw];
          const T* src = xp + ih * p.W + r.first[kw];
          T* dst = yrow + r.lo[kw];
          const index_t cnt = r.hi[kw] - r.lo[kw];
          if (sw == 1)
            for (index_t i = 0; i < cnt; ++i) dst[i] += wv * src[i];
          else
            for (index_t i = 0; i < cnt; ++i) dst[i] += wv * src[i * sw];
        }
      }
    }
  }
}

// dx[n, ci] = sum over its m output channels of the scatter of w * dy (one plane per task).
template <typename T>
void depthwise_backward_input_direct(T* dx, const T* dy, const T* w, const Conv2dParams& p) {
  const index_t m = p.C_out / p.C_in, hw = p.H * p.W, Wo = p.W_out, sw = p.stride_w;
  const ColRanges r(p);
#pragma omp parallel for schedule(static)
  for (index_t nc = 0; nc < p.N * p.C_in; ++nc) {
    const index_t n = nc / p.C_in, ci = nc % p.C_in;
    T* plane = dx + nc * hw;
    std::fill(plane, plane + hw, T(0));
    for (index_t co = ci * m; co < (ci + 1) * m; ++co) {
      const T* wk = w + co * p.kH * p.kW;
      const T* drow = dy + (n * p.C_out + co) * p.out_hw();
      for (index_t oh = 0; oh < p.H_out; ++oh, drow += Wo)
        for (index_t kh = 0; kh < p.kH; ++kh) {
          const index_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
          if (ih < 0 || ih >= p.H) continue;
          for (index_t kw = 0; kw < p.kW; ++kw) {
            const T wv = wk[kh * p.kW + kw];
            T* dst = plane + ih * p.W + r.first[kw];
            const T* src = drow + r.lo[kw];
            const index_t cnt = r.hi[kw] - r.lo[kw];
            if (sw == 1)
              for (index_t i = 0; i < cnt; ++i) dst[i] += wv * src[i];
            else
              for (index_t i = 0; i < cnt; ++i) dst[i * sw] += wv * src[i];
          }
        }
    }
  }
}

// dw[co, kh, kw] = sum over n, oh, ow of dy[n, co] * x[n, co/m] at the tap, for one co.
template <typename T>
void depthwise_weight_channel_direct(T* acc, index_t co, const T* dy, const T* x, const Conv2dParams& p,
                                     const ColRanges& r) {
  const index_t m = p.C_out / p.C_in, hw = p.H * p.W, Wo = p.W_out, sw = p.stride_w;
  const index_t kk = p.kH * p.kW;
  std::fill(acc, acc + kk, T(0));
  for (index_t n = 0; n < p.N; ++n) {
    const T* xp = x + (n * p.C_in + co / m) * hw;
    const T* drow = dy + (n * p.C_out + co) * p.out_hw();
    for (index_t oh = 0; oh < p.H_out; ++oh, drow += Wo)
      for (index_t kh = 0; kh < p.kH; ++kh) {
        const index_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
        if (ih < 0 || ih >= p.H) continue;
        for (index_t kw = 0; kw < p.kW; ++kw) {
          const T* src = xp + ih * p.W + r.first[kw];
          const T* d = drow + r.lo[kw];
          const index_t cnt = r.hi[kw] - r.lo[kw];
          // simd reduction: lane-wise partial sums (a fixed order, so still deterministic)
          T s = 0;
          if (sw == 1) {
#pragma omp simd reduction(+ : s)
            for (index_t i = 0; i < cnt; ++i) s += d[i] * src[i];
          } else {
            for (index_t i = 0; i < cnt; ++i) s += d[i] * src[i * sw];
          }
          acc[kh * p.kW + kw] += s;
        }
      }
  }
}

// One co per task: each writes its own slice of dw (no allocation inside the region).
template <typename T>
void depthwise_backward_weight_direct(T* dw, const T* dy, const T* x, const Conv2dParams& p) {
  const ColRanges r(p);
#pragma omp parallel for schedule(static)
  for (index_t co = 0; co < p.C_out; ++co) depthwise_weight_channel_direct(dw + co * p.kH * p.kW, co, dy, x, p, r);
}

// The flat form (DepthwiseFlat; its loops, per ISA, in depthwise_loops.h).  A correlation
//   y[oh][ow] = sum over (kh, kw) of w[kh][kw] * xpad[oh*sh + kh*dh][ow*sw + kw*dw]
// splits each tap's reach into an offset and a phase, kh*dh = rowoff*sh + rph (kw likewise), so
// tap (kh, kw) reads plane (rph, cph), Q[r][j] = xpad[r*sh + rph][j*sw + cph], at
// (oh + rowoff, ow + coloff).  Stored with row stride ld = Wo + the largest coloff, that is flat
// index oh*ld + ow plus one offset per tap, rowoff*ld + coloff: every tap is a shift of the
// whole plane, and an output plane is kH*kW fused multiply-adds per vector over Ho*ld outputs
// (the ld - Wo junk columns a row are computed and dropped).  Stride 1 has one plane, the padded
// input itself; stride 2 has four, a quarter of it each.
//   grad input:  the stride-1 flat form of the zero-stuffed dy (dy[oh][ow] at (oh*sh, ow*sw)),
//                padded by (k - 1)*d - p, with the kernel rotated 180 degrees;
//   grad weight: dw[t] = a dot of the forward's planes at tap t's offset with dy in the flat
//                layout (junk columns zero).  0 * an input's inf in a junk column would make a
//                finite gradient NaN, so a channel whose dots are not all finite is redone by
//                the direct loops (finite dots hold only finite terms: exact there).
struct DepthwiseFlat {
  index_t ld = 0, rows = 0;  // the planes' row stride and rows
  index_t n = 0;             // outputs computed: Ho*ld rounded up to the loops' block
  index_t plane = 0;         // a plane's stride: rows*ld, then zeros the last block's reads reach
  std::vector<index_t> rph, cph;  // the planes' phases: plane q is (rph[q / cph.size()], cph[q % cph.size()])
  std::vector<index_t> off;       // per tap, in kernel order: where it reads output 0

  DepthwiseFlat(index_t kH, index_t kW, index_t sh, index_t sw, index_t dh, index_t dw, index_t Ho, index_t Wo,
                index_t block) {
    std::vector<index_t> rq, roff, cq, coff;
    split(kH, dh, sh, rph, rq, roff);
    split(kW, dw, sw, cph, cq, coff);
    ld = Wo + coff.back();  // offsets grow with the tap; each side within the padded input's
    rows = Ho + roff.back();
    // The products can pass int64 where the padded input's sides are huge: sized in 128 bits,
    // and a layout beyond fits() is never built (the direct loops run instead).
    const __int128 n128 = (__int128(Ho) * ld + block - 1) / block * block;
    const __int128 plane128 = __int128(rows) * ld + ld + block;  // tap reads end before off + n
    total_ = plane128 * planes() + n128;
    if (total_ > (__int128(1) << 60)) return;
    n = index_t(n128), plane = index_t(plane128);
    for (index_t kh = 0; kh < kH; ++kh)
      for (index_t kw = 0; kw < kW; ++kw)
        off.push_back((rq[kh] * index_t(cph.size()) + cq[kw]) * plane + roff[kh] * ld + coff[kw]);
  }
  index_t planes() const { return index_t(rph.size() * cph.size()); }
  index_t src_size() const { return planes() * plane; }
  // Whether the planes stay near the image's size (not with padding or dilation far past the
  // kernel's reach, where the direct loops are the better choice).
  bool fits(index_t image) const { return total_ <= 4 * __int128(image) + 16384; }

 private:
  __int128 total_ = 0;  // src_size() + n, the scratch a job needs
  // Tap i of k reaches i*d = offs[i]*s + phases[which[i]].
  static void split(index_t k, index_t d, index_t s, std::vector<index_t>& phases, std::vector<index_t>& which,
                    std::vector<index_t>& offs) {
    for (index_t i = 0; i < k; ++i) {
      const index_t ph = i * d % s;
      const auto at = std::find(phases.begin(), phases.end(), ph);
      which.push_back(index_t(at - phases.begin()));
      if (at == phases.end()) phases.push_back(ph);
      offs.push_back(i * d / s);
    }
  }
};

constexpr DepthwiseLoops<float> kGenericDepthwiseF32 = depthwise_loop_table<float>();
constexpr DepthwiseLoops<double> kGenericDepthwiseF64 = depthwise_loop_table<double>();

template <typename T>
const DepthwiseLoops<T>& active_depthwise_loops();
template <>
const DepthwiseLoops<float>& active_depthwise_loops<float>() {
  return active_table(kGenericDepthwiseF32, depthwise_loops_f32_avx2, depthwise_loops_f32_avx512);
}
template <>
const DepthwiseLoops<double>& active_depthwise_loops<double>() {
  return active_table(kGenericDepthwiseF64, depthwise_loops_f64_avx2, depthwise_loops_f64_avx512);
}

template <typename T>
DepthwiseFlat forward_flat(const Conv2dParams& p) {
  return DepthwiseFlat(p.kH, p.kW, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.H_out, p.W_out,
                       kDepthwiseBlock<T>);
}

// Where each plane of f reads an input plane (H, W): plane row r, column j hold input
// (r*sh + r0, j*sw + c0); rows [r_lo, r_hi) and columns [j_lo, j_hi) of it are inside the input.
// Computed once per call: a plane's copy is a few dozen cycles on 8 x 8 images, as many as the
// integer divisions of these ranges.
struct PlaneReads {
  struct Plane {
    index_t r0, c0, r_lo, r_hi, j_lo, j_hi;
  };
  std::vector<Plane> planes;
  PlaneReads(const DepthwiseFlat& f, const Conv2dParams& p) {
    const index_t nc = index_t(f.cph.size());
    for (index_t q = 0; q < f.planes(); ++q) {
      Plane e{f.rph[q / nc] - p.pad_top, f.cph[q % nc] - p.pad_left, 0, 0, 0, 0};
      tap_range(p.H, p.stride_h, e.r0, f.rows, e.r_lo, e.r_hi);
      tap_range(p.W, p.stride_w, e.c0, f.ld, e.j_lo, e.j_hi);
      planes.push_back(e);
    }
  }
};

// Q <- the planes of f for one input plane x (H, W): Q_q[r][j] = x[r*sh + rph - pt][j*sw + cph - pl],
// zero outside x, and zero past the rows.
template <typename T>
void fill_planes(T* Q, const T* x, const DepthwiseFlat& f, const PlaneReads& reads, const Conv2dParams& p) {
  const index_t sw = p.stride_w, ld = f.ld;
  std::fill(Q, Q + f.src_size(), T(0));
  T* P = Q;
  for (const PlaneReads::Plane& e : reads.planes) {
    const index_t cnt = e.j_hi - e.j_lo;
    for (index_t r = e.r_lo; r < e.r_hi; ++r) {
      T* row = P + r * ld + e.j_lo;
      const T* src = x + (r * p.stride_h + e.r0) * p.W + e.c0 + e.j_lo * sw;
      if (sw == 1)
        copy_run(row, src, cnt);
      else if (sw == 2)  // the common stride, known here: a vectorized deinterleave
        for (index_t j = 0; j < cnt; ++j) row[j] = src[2 * j];
      else
        for (index_t j = 0; j < cnt; ++j) row[j] = src[j * sw];
    }
    P += f.plane;
  }
}

template <typename T>
void depthwise_forward(T* y, const T* x, const T* w, const T* b, const Conv2dParams& p) {
  const DepthwiseFlat f = forward_flat<T>(p);
  const index_t m = p.C_out / p.C_in, hw = p.H * p.W, hwo = p.out_hw(), kk = p.kH * p.kW;
  if (!f.fits(hw + hwo)) return depthwise_forward_direct(y, x, w, b, p);
  const PlaneReads reads(f, p);
  const DepthwiseLoops<T>& loops = active_depthwise_loops<T>();
  run_jobs<T>(p.N * p.C_in, f.src_size() + f.n, [&](index_t j, T* buf, bool) {
    const index_t n = j / p.C_in, ci = j % p.C_in;
    T* out = buf + f.src_size();
    fill_planes(buf, x + j * hw, f, reads, p);
    for (index_t co = ci * m; co < (ci + 1) * m; ++co) {
      loops.taps(out, buf, f.off.data(), w + co * kk, kk, f.n, false);
      const T bias = b ? b[co] : T(0);
      T* yp = y + (n * p.C_out + co) * hwo;
      for (index_t oh = 0; oh < p.H_out; ++oh)
        for (index_t ow = 0; ow < p.W_out; ++ow) yp[oh * p.W_out + ow] = out[oh * f.ld + ow] + bias;
    }
  }, true);
}

// dx[n, ci] = the sum over its m output channels of the rotated-kernel correlation of the
// stuffed, padded dy plane (one (n, ci) per task).
template <typename T>
void depthwise_backward_input(T* dx, const T* dy, const T* w, const Conv2dParams& p) {
  const DepthwiseFlat f(p.kH, p.kW, 1, 1, p.dilation_h, p.dilation_w, p.H, p.W, kDepthwiseBlock<T>);
  const index_t m = p.C_out / p.C_in, hw = p.H * p.W, hwo = p.out_hw(), kk = p.kH * p.kW;
  if (!f.fits(hw + hwo)) return depthwise_backward_input_direct(dx, dy, w, p);
  // dy[oh][ow] sits at plane (oh*sh + pt', ow*sw + pl'), pt' = (kH - 1)*dh - pt (may be < 0)
  const index_t pt = (p.kH - 1) * p.dilation_h - p.pad_top, pl = (p.kW - 1) * p.dilation_w - p.pad_left;
  index_t oh_lo, oh_hi, ow_lo, ow_hi;
  tap_range(f.rows, p.stride_h, pt, p.H_out, oh_lo, oh_hi);
  tap_range(f.ld, p.stride_w, pl, p.W_out, ow_lo, ow_hi);
  std::vector<T> rotated(p.C_out * kk);
  for (index_t co = 0; co < p.C_out; ++co)
    std::reverse_copy(w + co * kk, w + (co + 1) * kk, rotated.begin() + co * kk);
  const DepthwiseLoops<T>& loops = active_depthwise_loops<T>();
  run_jobs<T>(p.N * p.C_in, f.plane + f.n, [&](index_t j, T* buf, bool) {
    const index_t n = j / p.C_in, ci = j % p.C_in;
    T* out = buf + f.plane;
    for (index_t co = ci * m; co < (ci + 1) * m; ++co) {
      std::fill(buf, buf + f.plane, T(0));
      const T* dp = dy + (n * p.C_out + co) * hwo;
      for (index_t oh = oh_lo; oh < oh_hi; ++oh) {
        T* row = buf + (oh * p.stride_h + pt) * f.ld + pl;
        for (index_t ow = ow_lo; ow < ow_hi; ++ow) row[ow * p.stride_w] = dp[oh * p.W_out + ow];
      }
      loops.taps(out, buf, f.off.data(), rotated.data() + co * kk, kk, f.n, co > ci * m);
    }
    T* plane = dx + j * hw;
    for (index_t ih = 0; ih < p.H; ++ih) copy_run(plane + ih * p.W, out + ih * f.ld, p.W);
  }, true);
}

// dw = the sum over images of the tap dots: per-thread partials over images (static schedule:
// reproducible for a given thread count), each image's planes in memory order.
template <typename T>
void depthwise_backward_weight(T* dw, const T* dy, const T* x, const Conv2dParams& p) {
  const DepthwiseFlat f = forward_flat<T>(p);
  const index_t m = p.C_out / p.C_in, hw = p.H * p.W, hwo = p.out_hw(), kk = p.kH * p.kW;
  const index_t wsize = p.C_out * kk;
  if (!f.fits(hw + hwo) || p.N == 0) return depthwise_backward_weight_direct(dw, dy, x, p);
  const PlaneReads reads(f, p);
  const DepthwiseLoops<T>& loops = active_depthwise_loops<T>();
  const auto partial = thread_partials<T>(p.N, wsize, f.src_size() + f.n, [&](index_t n, T* mine, T* buf) {
    T* dflat = buf + f.src_size();
    std::fill(dflat, dflat + f.n, T(0));  // junk columns stay zero: each row rewrites only its Wo
    for (index_t ci = 0; ci < p.C_in; ++ci) {
      fill_planes(buf, x + (n * p.C_in + ci) * hw, f, reads, p);
      for (index_t co = ci * m; co < (ci + 1) * m; ++co) {
        const T* dp = dy + (n * p.C_out + co) * hwo;
        for (index_t oh = 0; oh < p.H_out; ++oh) copy_run(dflat + oh * f.ld, dp + oh * p.W_out, p.W_out);
        loops.tap_dots(mine + co * kk, dflat, buf, f.off.data(), kk, f.n);
      }
    }
  });
  sum_partials(dw, partial, wsize);
  const ColRanges r(p);
#pragma omp parallel for schedule(static)
  for (index_t co = 0; co < p.C_out; ++co) {
    T* acc = dw + co * kk;
    if (!std::all_of(acc, acc + kk, [](T v) { return std::isfinite(v); }))
      depthwise_weight_channel_direct(acc, co, dy, x, p, r);
  }
}

// ------------------------------------------------------------------ Winograd F(2x2, 3x3)
// Stride-1, undilated 3x3 convs (any padding, any groups but depthwise) with enough channels.
// A 2x2 output tile Y at (2i, 2j) reads the 4x4 input tile d at (2i - pt, 2j - pl) (zero
// outside the plane), and per (c_out, c_in) pair
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A,      (.) the elementwise product of 4x4 matrices,
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1]
// (Lavin & Gray 2016).  Summed over c_in, each of the 16 elements k of the transformed tile is
// one GEMM over the tiles: M_k (C_out, tiles) = U_k (C_out, C_in) @ V_k (C_in, tiles), with
// U = G g G^T and V = B^T d B: 16 multiplies per (c_out, c_in, tile) instead of 36.
// Grad input is the same pass on dy with the rotated, transposed weight
// (w'[ci, co] = w[co, ci] flipped in both axes) and offsets 2 - pt, 2 - pl.  Grad weight is the
// adjoint in g: dW = G^T [ sum over tiles (A dY A^T) (.) (B^T d B) ] G, the tile sum one GEMM
// per k, (C_out, tiles) @ (tiles, C_in).
// The transforms only add, subtract and halve; the float32 error is about the direct sum's
// (tests/test_conv.py: test_winograd_float32_error states and checks the bound).
// Jobs are runs of tile rows (row i of tiles of an image), as many as keep a job's transformed
// tiles within about 640 KB (L2): whole images where one fits, transformed a plane at a time
// (vectorized over all of a plane's tiles), else tile rows (vectorized over a row's tiles; the
// loops of both: winograd_loops.h, per SIMD level).  The rule (use_winograd) is measured (bench/README.md,
// "Winograd"): against im2col + GEMM it wins from 16 channels on 16 x 16 and larger images (1.1-2.3x)
// and about breaks even on 8 x 8 ones (4 tiles a row).  16 channels is the smallest count
// measured (ResNet-8's first stage); at fewer the transforms' share only grows.
std::atomic<bool> g_winograd{true};

bool use_winograd(const Conv2dParams& p) {
  return g_winograd.load(std::memory_order_relaxed) && p.kH == 3 && p.kW == 3 && p.stride_h == 1 &&
         p.stride_w == 1 && p.dilation_h == 1 && p.dilation_w == 1 && !p.is_depthwise() &&
         p.cin_g() >= 16 && p.cout_g() >= 16 && p.H_out >= 4 && p.W_out >= 4 && p.H >= 4 && p.W >= 4;
}

constexpr WinogradLoops<float> kGenericWinogradF32 = winograd_loop_table<float>();
constexpr WinogradLoops<double> kGenericWinogradF64 = winograd_loop_table<double>();

template <typename T>
const WinogradLoops<T>& active_winograd_loops();
template <>
const WinogradLoops<float>& active_winograd_loops<float>() {
  return active_table(kGenericWinogradF32, winograd_loops_f32_avx2, winograd_loops_f32_avx512);
}
template <>
const WinogradLoops<double>& active_winograd_loops<double>() {
  return active_table(kGenericWinogradF64, winograd_loops_f64_avx2, winograd_loops_f64_avx512);
}

// p rounded up to a 64-byte boundary (p has 64 elements to spare): transformed tiles are
// written in whole cache lines.
template <typename T>
T* align64(T* p) {
  return reinterpret_cast<T*>((reinterpret_cast<std::uintptr_t>(p) + 63) & ~std::uintptr_t(63));
}

// A job's buffers, carved from its scratch: the input tiles V, the tiles M (or Z) the 16 GEMMs
// write (or, for the weight gradient, read), the row transforms' buffer.
template <typename T>
struct WinogradBuffers {
  T *V, *M, *rows;
};

// One pass: N images of G groups of `planes`.
struct WinogradPass {
  index_t N, G;
  WinogradPlanes s;
  index_t th() const { return ceil_div(s.Ho, 2); }
  index_t tile_rows() const { return N * th(); }
  // tile rows per job: transformed tiles (16 (ci + co) values per tile) within ~640 KB (L2), and
  // a job per thread at least; whole images where one fits (then the plane loops run, by_planes:
  // 1.1-1.5x faster than the row loops on 8 x 8 to 32 x 32 outputs, bench/README.md "Winograd")
  index_t rows_per_job(index_t elem_bytes) const {
    const index_t per_row = std::max<index_t>(1, 16 * (s.ci + s.co) * s.tw * elem_bytes);
    const index_t by_cache = std::max<index_t>(1, (index_t(640) << 10) / per_row);
    const index_t rows = std::max<index_t>(1, std::min(by_cache, ceil_div(tile_rows(), num_threads())));
    return rows >= th() ? rows / th() * th() : rows;
  }
  bool by_planes(index_t rows) const { return rows >= th(); }
  index_t step(index_t rows) const { return by_planes(rows) ? th() : 1; }  // tile rows a transform call covers
  index_t jobs(index_t rows) const { return ceil_div(tile_rows(), rows) * G; }
  // V (16, ci, ld) and M or Z (16, co, ld): a channel's tiles are ld >= rows * tw apart (whole
  // cache lines), the 16 element planes vst and mst apart, 64 elements more than a plane, so
  // that they never sit a multiple of 4 KB apart (winograd_loops.h)
  index_t ld(index_t rows) const { return ceil_div(rows * s.tw, 16) * 16; }
  index_t vst(index_t rows) const { return s.ci * ld(rows) + 64; }
  index_t mst(index_t rows) const { return s.co * ld(rows) + 64; }
  // a job's scratch: V, M or Z, the row transforms' buffer, and 64 elements to align V
  index_t scratch(index_t rows) const {
    const index_t loops = by_planes(rows) ? winograd_plane_scratch(th(), s.tw) : winograd_row_scratch(s.tw);
    return 16 * (vst(rows) + mst(rows)) + loops + 64;
  }
  template <typename T>
  WinogradBuffers<T> buffers(T* scratch, index_t rows) const {
    T* V = align64(scratch);
    return {V, V + 16 * vst(rows), V + 16 * (vst(rows) + mst(rows))};
  }
};

WinogradPass forward_pass(const Conv2dParams& p) {
  return {p.N, p.groups,
          {p.cin_g(), p.cout_g(), p.H, p.W, p.H_out, p.W_out, p.pad_top, p.pad_left, ceil_div(p.W_out, 2)}};
}

// grad input: dy's planes (H_out, W_out) -> dx's (H, W), offsets 2 - pt, 2 - pl
WinogradPass input_grad_pass(const Conv2dParams& p) {
  return {p.N, p.groups,
          {p.cout_g(), p.cin_g(), p.H_out, p.W_out, p.H, p.W, 2 - p.pad_top, 2 - p.pad_left, ceil_div(p.W, 2)}};
}

// U (G, 16, co, ci) = G g G^T for the pass's co x ci weights g: w[g*co + o, i] (the conv's
// weight), or, rotated, w[g*ci + i, o] flipped in both axes (the grad-input pass, whose co / ci
// are the conv's C_in / C_out per group).  The 9 taps are first laid out as 9 planes over the
// (o, i) pairs, so the transform runs vectorized over the pairs and writes each of the 16 planes
// of U in order (element by element, with the 16 planes co * ci apart, it cost 6 % of a 64 -> 64
// channel forward on 8 x 8 images).
template <typename T>
std::vector<T> winograd_weights(const T* w, const WinogradPass& pass, bool rotated) {
  const index_t G = pass.G, co = pass.s.co, ci = pass.s.ci, pairs = co * ci;
  std::vector<T> U(G * 16 * pairs), taps(9 * pairs);
  const T h = T(0.5);
  for (index_t g = 0; g < G; ++g) {
    for (index_t o = 0; o < co; ++o)  // taps[3a + b][o*ci + i] = tap (a, b) of weight (o, i)
      for (index_t i = 0; i < ci; ++i)
        for (int ab = 0; ab < 9; ++ab)
          taps[ab * pairs + o * ci + i] = rotated ? w[((g * ci + i) * co + o) * 9 + (8 - ab)]
                                                  : w[((g * co + o) * ci + i) * 9 + ab];
    T* u = U.data() + g * 16 * pairs;  // element 4r + c of pair e at u[(4r + c) * pairs + e]
    const T* k = taps.data();
#pragma omp simd
    for (index_t e = 0; e < pairs; ++e) {
      T gk[4][3];  // G k: rows k0, (k0 + k1 + k2)/2, (k0 - k1 + k2)/2, k2
      for (int b = 0; b < 3; ++b) {
        const T k0 = k[b * pairs + e], k1 = k[(3 + b) * pairs + e], k2 = k[(6 + b) * pairs + e];
        gk[0][b] = k0;
        gk[1][b] = h * (k0 + k1 + k2);
        gk[2][b] = h * (k0 - k1 + k2);
        gk[3][b] = k2;
      }
      for (int r = 0; r < 4; ++r) {  // (G k) G^T, the same on each row
        u[(r * 4 + 0) * pairs + e] = gk[r][0];
        u[(r * 4 + 1) * pairs + e] = h * (gk[r][0] + gk[r][1] + gk[r][2]);
        u[(r * 4 + 2) * pairs + e] = h * (gk[r][0] - gk[r][1] + gk[r][2]);
        u[(r * 4 + 3) * pairs + e] = gk[r][2];
      }
    }
  }
  return U;
}

// y = the pass on x with U (winograd_weights of the same pass): per job, transform its tile
// rows, 16 GEMMs, transform back.
template <typename T>
void winograd_run(T* y, const T* x, const std::vector<T>& U, const WinogradPass& pass) {
  const WinogradPlanes& s = pass.s;
  const WinogradLoops<T>& loops = active_winograd_loops<T>();
  const index_t rows = pass.rows_per_job(sizeof(T)), th = pass.th(), cap = pass.ld(rows), G = pass.G;
  const index_t vst = pass.vst(rows), mst = pass.mst(rows);
  const bool planes = pass.by_planes(rows);
  const index_t step = pass.step(rows);
  run_jobs<T>(pass.jobs(rows), pass.scratch(rows), [&](index_t j, T* scratch, bool serial) {
    const auto [V, M, buf] = pass.buffers(scratch, rows);
    const index_t g = j % G, r0 = j / G * rows, r1 = std::min(r0 + rows, pass.tile_rows());
    const auto in = [&](index_t r) { return x + (r / th * G + g) * s.ci * s.H * s.W; };
    const auto out = [&](index_t r) { return y + (r / th * G + g) * s.co * s.Ho * s.Wo; };
    for (index_t r = r0; r < r1; r += step)  // by planes: r0, r1 are whole images
      planes ? loops.input_plane(V, cap, vst, (r - r0) * s.tw, in(r), s, buf)
             : loops.input_row(V, cap, vst, (r - r0) * s.tw, in(r), s, r % th, buf);
    const index_t tiles = (r1 - r0) * s.tw;
    for (int k = 0; k < 16; ++k)
      gemm_for<T>(serial)(false, false, s.co, tiles, s.ci, T(1), U.data() + (g * 16 + k) * s.co * s.ci, s.ci,
                          V + k * vst, cap, T(0), M + k * mst, cap);
    for (index_t r = r0; r < r1; r += step)
      planes ? loops.output_plane(out(r), M, cap, mst, (r - r0) * s.tw, s, buf)
             : loops.output_row(out(r), M, cap, mst, (r - r0) * s.tw, s, r % th, buf);
  });
}

template <typename T>
void winograd_forward(T* y, const T* x, const T* w, const Conv2dParams& p) {
  const WinogradPass pass = forward_pass(p);
  winograd_run(y, x, winograd_weights(w, pass, false), pass);
}

template <typename T>
void winograd_backward_input(T* dx, const T* dy, const T* w, const Conv2dParams& p) {
  const WinogradPass pass = input_grad_pass(p);
  winograd_run(dx, dy, winograd_weights(w, pass, true), pass);
}

// Up to this many (co, ci) pairs a group, the weight gradient's tile sums run as dot products
// (winograd_loops.h, weight_sums), else as GEMMs: measured on (64, ci, 32 or 16, ...) float32,
// 2 threads, the dot form 1.25x as fast at 16 x 16 channels, 1.07x at 16 x 24, even at 16 x 32,
// and 0.6x at 32 x 32 (it reads each row ci / 4 times; the GEMM blocks for cache).
constexpr index_t kWinogradDotPairs = 384;

// dw (G*co, ci, 3, 3) = G^T [ sum over tiles Z_k V_k^T ] G, the tile sums in per-thread
// partials (static schedule: the same sums every run for a thread count), then one reduction
// and the transform back.
template <typename T>
void winograd_backward_weight(T* dw, const T* dy, const T* x, const Conv2dParams& p) {
  const WinogradPass pass = forward_pass(p);
  const WinogradPlanes& s = pass.s;
  const WinogradLoops<T>& loops = active_winograd_loops<T>();
  const index_t rows = pass.rows_per_job(sizeof(T)), th = pass.th(), cap = pass.ld(rows), G = pass.G;
  const index_t msize = G * 16 * s.co * s.ci;
  const index_t vst = pass.vst(rows), mst = pass.mst(rows);
  const bool planes = pass.by_planes(rows);
  const index_t step = pass.step(rows);
  auto job = [&](index_t j, T* mine, T* scratch) {
    const auto [V, Z, row_buf] = pass.buffers(scratch, rows);
    const index_t g = j % G, r0 = j / G * rows, r1 = std::min(r0 + rows, pass.tile_rows());
    for (index_t r = r0; r < r1; r += step) {
      const index_t n = r / th, t = (r - r0) * s.tw;
      const T* xn = x + (n * G + g) * s.ci * s.H * s.W;
      const T* dyn = dy + (n * G + g) * s.co * s.Ho * s.Wo;
      if (planes) {  // r0, r1 are whole images
        loops.input_plane(V, cap, vst, t, xn, s, row_buf);
        loops.dy_plane(Z, cap, mst, t, dyn, s, row_buf);
      } else {
        loops.input_row(V, cap, vst, t, xn, s, r % th, row_buf);
        loops.dy_row(Z, cap, mst, t, dyn, s, r % th, row_buf);
      }
    }
    const index_t tiles = (r1 - r0) * s.tw;
    for (int k = 0; k < 16; ++k)
      if (s.co * s.ci <= kWinogradDotPairs)
        loops.weight_sums(mine + (g * 16 + k) * s.co * s.ci, Z + k * mst, V + k * vst, cap, s.co, s.ci, tiles);
      else
        gemm_serial<T>(false, true, s.co, s.ci, tiles, T(1), Z + k * mst, cap, V + k * vst, cap, T(1),
                       mine + (g * 16 + k) * s.co * s.ci, s.ci);
  };
  const auto partial = thread_partials<T>(pass.jobs(rows), msize, pass.scratch(rows), job);
  const T h = T(0.5);
  const index_t pairs = s.co * s.ci;
#pragma omp parallel for schedule(static)
  for (index_t goi = 0; goi < G * pairs; ++goi) {
    const index_t g = goi / pairs, oi = goi % pairs;
    T m[4][4];
    for (int k = 0; k < 16; ++k) {
      T acc = 0;
      for (const auto& part : partial)
        if (!part.empty()) acc += part[(g * 16 + k) * pairs + oi];
      m[k / 4][k % 4] = acc;
    }
    T gm[3][4];  // G^T m: rows m0 + (m1 + m2)/2, (m1 - m2)/2, (m1 + m2)/2 + m3; then m G likewise
    for (int c = 0; c < 4; ++c) {
      gm[0][c] = m[0][c] + h * (m[1][c] + m[2][c]);
      gm[1][c] = h * (m[1][c] - m[2][c]);
      gm[2][c] = h * (m[1][c] + m[2][c]) + m[3][c];
    }
    T* out = dw + goi * 9;
    for (int a = 0; a < 3; ++a) {
      out[a * 3 + 0] = gm[a][0] + h * (gm[a][1] + gm[a][2]);
      out[a * 3 + 1] = h * (gm[a][1] - gm[a][2]);
      out[a * 3 + 2] = h * (gm[a][1] + gm[a][2]) + gm[a][3];
    }
  }
}

// ------------------------------------------------------------------ the three pieces
template <typename T>
void forward(T* y, const T* x, const T* w, const Conv2dParams& p) {
  if (p.is_depthwise())
    depthwise_forward(y, x, w, static_cast<const T*>(nullptr), p);
  else if (use_winograd(p))
    winograd_forward(y, x, w, p);
  else
    forward_gemm(y, x, w, p);
}

template <typename T>
void backward_input(T* dx, const T* dy, const T* w, const Conv2dParams& p) {
  if (p.is_depthwise())
    depthwise_backward_input(dx, dy, w, p);
  else if (use_winograd(p))
    winograd_backward_input(dx, dy, w, p);
  else
    backward_input_gemm(dx, dy, w, p);
}

template <typename T>
void backward_weight(T* dw, const T* dy, const T* x, const Conv2dParams& p) {
  if (p.is_depthwise())
    depthwise_backward_weight(dw, dy, x, p);
  else if (use_winograd(p))
    winograd_backward_weight(dw, dy, x, p);
  else
    backward_weight_gemm(dw, dy, x, p);
}

}  // namespace

void set_conv_winograd(bool enabled) { g_winograd.store(enabled, std::memory_order_relaxed); }
bool conv_winograd() { return g_winograd.load(std::memory_order_relaxed); }

template <typename T>
void conv2d_forward_cpu(T* y, const T* x, const T* w, const T* b, const Conv2dParams& p, bool relu) {
  if (p.is_depthwise()) {
    depthwise_forward(y, x, w, b, p);  // bias fused into the first write
    channel_epilogue(y, static_cast<const T*>(nullptr), relu, p.N, p.C_out, p.out_hw());
    return;
  }
  forward(y, x, w, p);
  channel_epilogue(y, b, relu, p.N, p.C_out, p.out_hw());
}

template <typename T>
void conv2d_backward_cpu(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w,
                         const Conv2dParams& p) {
  if (dx) backward_input(dx, dy, w, p);
  if (dw) backward_weight(dw, dy, x, p);
  if (db) channel_sums(db, dy, p.N, p.C_out, p.out_hw());
}

template <typename T>
void conv_transpose2d_forward_cpu(T* y, const T* x, const T* w, const T* b,
                                  const Conv2dParams& p) {
  backward_input(y, x, w, p);
  channel_epilogue(y, b, false, p.N, p.C_in, p.H * p.W);
}

template <typename T>
void conv_transpose2d_backward_cpu(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w,
                                   const Conv2dParams& p) {
  // Fused where the weight gradient is a sum of per-thread partials (one thread: one sum).
  if (dx && dw && !p.is_depthwise() && !p.is_pointwise() && !WideConv(p).on && !use_winograd(p) && p.N > 0 &&
      (weight_uses_partials(p, p.N) || num_threads() == 1)) {
    transpose_backward_fused(dx, dw, dy, x, w, p);
  } else {
    if (dx) forward(dx, dy, w, p);
    if (dw) backward_weight(dw, x, dy, p);
  }
  if (db) channel_sums(db, dy, p.N, p.C_in, p.H * p.W);
}

#define PYCNN_INSTANTIATE(T)                                                                    \
  template void conv2d_forward_cpu<T>(T*, const T*, const T*, const T*, const Conv2dParams&,    \
                                      bool);                                                    \
  template void conv2d_backward_cpu<T>(T*, T*, T*, const T*, const T*, const T*,                \
                                       const Conv2dParams&);                                    \
  template void conv_transpose2d_forward_cpu<T>(T*, const T*, const T*, const T*,               \
                                                const Conv2dParams&);                           \
  template void conv_transpose2d_backward_cpu<T>(T*, T*, T*, const T*, const T*, const T*,      \
                                                 const Conv2dParams&);
PYCNN_INSTANTIATE(float)
PYCNN_INSTANTIATE(double)
#undef PYCNN_INSTANTIATE

}  // namespace pycnn
