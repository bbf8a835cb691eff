// ThreadSanitizer run of the kernels that use barriers and shuffles, on the emulated device (CI:
// .ci/run builds this with -fsanitize=thread; Python itself cannot run under TSan here).
//
//   tsan_check clean   the block reductions (norm statistics and backward sums, conv bias and
//                      depthwise weight grads) and the emulator's own self-test kernels on small
//                      random shapes, each checked against the plain-loop reference (csrc/ref):
//                      exits 0, and TSan must report nothing (it exits 66 when it does);
//   tsan_check race    the self-test reduction with one __syncthreads left out: TSan must report
//                      the race (exit code 66), which shows the fibers are annotated so that the
//                      barriers are the only synchronization.
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "conv.h"
#include "cuda/cuda_compat.h"
#include "norm.h"

namespace pycnn::cuda {
std::vector<double> emulator_selftest(const std::string& kind, const std::vector<double>& x);
}

using namespace pycnn;

namespace {

int failures = 0;

std::vector<double> randn(std::size_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<double> d(0.5, 1.0);
  std::vector<double> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

void expect_close(const char* what, const std::vector<double>& a, const std::vector<double>& b, double tol = 1e-9) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]) / (1 + std::abs(b[i])));
  if (a.size() != b.size() || worst > tol) {
    std::printf("MISMATCH %s: max relative error %g\n", what, worst);
    ++failures;
  }
}

void norm_checks() {
  const index_t shapes[][3] = {{3, 5, 7}, {2, 4, 33}, {1, 3, 1}, {4, 6, 65}};
  for (const auto& s : shapes) {
    NormParams p;
    p.N = s[0], p.C = s[1], p.S = s[2], p.G = 1, p.eps = 1e-5;
    const std::size_t n = std::size_t(p.numel());
    const auto x = randn(n, 1), dy = randn(n, 2), gamma = randn(std::size_t(p.C), 3), beta = randn(std::size_t(p.C), 4);
    // batch norm, training
    std::vector<double> y(n), yr(n), m(p.C), r(p.C), mr(p.C), rr(p.C), rm(p.C, 0.1), rv(p.C, 1.0), rm2 = rm, rv2 = rv;
    batch_norm_forward_cuda(y.data(), m.data(), r.data(), rm.data(), rv.data(), x.data(), gamma.data(), beta.data(), p,
                            true, 0.1, false, nullptr);
    batch_norm_forward_ref(yr.data(), mr.data(), rr.data(), rm2.data(), rv2.data(), x.data(), gamma.data(),
                           beta.data(), p, true, 0.1, false);
    expect_close("batch_norm y", y, yr);
    expect_close("batch_norm running_var", rv, rv2);
    std::vector<double> dx(n), dxr(n), dg(p.C), dgr(p.C), db(p.C), dbr(p.C), work(2 * p.C);
    batch_norm_backward_cuda(dx.data(), dg.data(), db.data(), work.data(), dy.data(), x.data(), m.data(), r.data(),
                             gamma.data(), p, true, static_cast<const double*>(nullptr), nullptr);
    batch_norm_backward_ref(dxr.data(), dgr.data(), dbr.data(), dy.data(), x.data(), mr.data(), rr.data(),
                            gamma.data(), p, true, static_cast<const double*>(nullptr));
    expect_close("batch_norm dx", dx, dxr, 1e-8);
    expect_close("batch_norm dgamma", dg, dgr, 1e-8);
    // group norm with groups of every channel count dividing C (LayerNorm is G = 1)
    for (index_t G = 1; G <= p.C; ++G) {
      if (p.C % G || p.N * (p.C / G) * p.S == 1) continue;
      p.G = G;
      std::vector<double> gm(p.N * G), gr(p.N * G), gmr(p.N * G), grr(p.N * G);
      group_norm_forward_cuda(y.data(), gm.data(), gr.data(), x.data(), gamma.data(), beta.data(), p, nullptr);
      group_norm_forward_ref(yr.data(), gmr.data(), grr.data(), x.data(), gamma.data(), beta.data(), p);
      expect_close("group_norm y", y, yr);
      std::vector<double> gwork(2 * p.N * G + 2 * p.N * p.C);
      group_norm_backward_cuda(dx.data(), dg.data(), db.data(), gwork.data(), dy.data(), x.data(), gm.data(),
                               gr.data(), gamma.data(), p, nullptr);
      group_norm_backward_ref(dxr.data(), dgr.data(), dbr.data(), dy.data(), x.data(), gmr.data(), grr.data(),
                              gamma.data(), p);
      expect_close("group_norm dx", dx, dxr, 1e-8);
      expect_close("group_norm dgamma", dg, dgr, 1e-8);
      expect_close("group_norm dbeta", db, dbr, 1e-8);
    }
  }
}

void conv_checks() {
  // depthwise (multiplier 2) with padding, stride and dilation: its weight-grad and bias-grad reductions
  const std::array<index_t, 4> xs{2, 3, 9, 8}, ws{6, 1, 3, 3};
  const Conv2dParams p = make_conv2d_params(OpInfo("conv2d"), xs, ws, Shape{6}, {2, 1}, {1, 1, 2, 0}, {1, 2}, 3);
  const auto x = randn(std::size_t(p.N * p.C_in * p.H * p.W), 5), w = randn(6 * 9, 6), b = randn(6, 7);
  const std::size_t ny = std::size_t(p.N * p.C_out * p.out_hw());
  std::vector<double> y(ny), yr(ny);
  depthwise_conv2d_forward_cuda(y.data(), x.data(), w.data(), b.data(), p, nullptr);
  conv2d_forward_ref(yr.data(), x.data(), w.data(), b.data(), p);
  expect_close("depthwise y", y, yr);
  const auto dy = randn(ny, 8);
  std::vector<double> dx(x.size()), dxr(x.size()), dw(w.size()), dwr(w.size()), db(6), dbr(6);
  depthwise_conv2d_backward_cuda(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), p, nullptr);
  conv2d_backward_ref(dxr.data(), dwr.data(), dbr.data(), dy.data(), x.data(), w.data(), p);
  expect_close("depthwise dx", dx, dxr);
  expect_close("depthwise dw", dw, dwr);
  expect_close("conv bias grad", db, dbr);
}

void selftests() {
  const auto x = randn(256, 9);
  std::vector<double> sums(4, 0.0);
  for (int b = 0; b < 4; ++b)
    for (int t = 0; t < 64; ++t) sums[b] += x[b * 64 + t];
  expect_close("selftest tree_sum", cuda::emulator_selftest("tree_sum", x), sums, 1e-12);
  std::vector<double> warp_sums(8, 0.0);
  for (int b = 0; b < 8; ++b)
    for (int t = 0; t < 32; ++t) warp_sums[b] += x[b * 32 + t];
  expect_close("selftest shuffle_sum", cuda::emulator_selftest("shuffle_sum", x), warp_sums, 1e-12);
  double total = 0;
  for (double v : x) total += v;
  expect_close("selftest atomic_add", cuda::emulator_selftest("atomic_add", x), {total}, 1e-12);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "clean";
  if (mode == "race") {
    cuda::emulator_selftest("tree_sum_missing_barrier", randn(256, 10));
    return 0;  // TSan's exit code (66) says it saw the race
  }
  selftests();
  norm_checks();
  conv_checks();
  std::printf("tsan_check: %s\n", failures ? "FAILED" : "all kernels match the reference");
  return failures ? 1 : 0;
}
