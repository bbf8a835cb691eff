// Plain-loop normalization: the executable spec for norm.h.  Two-pass statistics in
// double (mean first, then the centred sum of squares); every formula written out once.
#include <cmath>

#include "norm.h"

namespace pycnn {

namespace {

template <typename T>
inline double param_or(const T* a, index_t c, double dflt) {
  return a ? double(a[c]) : dflt;
}

}  // namespace

// ---------------------------------------------------------------------------- batch norm
template <typename T>
void batch_norm_forward_ref(T* y, double* save_mean, double* save_rstd, T* running_mean,
                            T* running_var, const T* x, const T* gamma, const T* beta,
                            const NormParams& p, bool training, double momentum, bool relu) {
  const index_t N = p.N, C = p.C, S = p.S;
  const double n = double(N * S);
  for (index_t c = 0; c < C; ++c) {
    double mean, var;
    if (training) {
      double sum = 0;
      for (index_t i = 0; i < N; ++i)
        for (index_t s = 0; s < S; ++s) sum += double(x[(i * C + c) * S + s]);
      mean = n > 0 ? sum / n : 0.0;
      double sq = 0;
      for (index_t i = 0; i < N; ++i)
        for (index_t s = 0; s < S; ++s) {
          const double d = double(x[(i * C + c) * S + s]) - mean;
          sq += d * d;
        }
      var = n > 0 ? sq / n : 0.0;
      if (running_mean)
        running_mean[c] = T((1 - momentum) * double(running_mean[c]) + momentum * mean);
      if (running_var && n > 1)
        running_var[c] = T((1 - momentum) * double(running_var[c]) + momentum * var * n / (n - 1));
    } else {
      mean = double(running_mean[c]);
      var = double(running_var[c]);
    }
    const double rstd = 1.0 / std::sqrt(var + p.eps);
    save_mean[c] = mean;
    save_rstd[c] = rstd;
    const double g = param_or(gamma, c, 1.0), b = param_or(beta, c, 0.0);
    for (index_t i = 0; i < N; ++i)
      for (index_t s = 0; s < S; ++s) {
        const index_t k = (i * C + c) * S + s;
        const T v = T((double(x[k]) - mean) * rstd * g + b);
        y[k] = relu ? bn_relu_value(v) : v;
      }
  }
}

template <typename T>
void batch_norm_backward_ref(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x,
                             const double* save_mean, const double* save_rstd, const T* gamma,
                             const NormParams& p, bool training, const T* relu_out) {
  const index_t N = p.N, C = p.C, S = p.S;
  const double n = double(N * S);
  for (index_t c = 0; c < C; ++c) {
    const double mean = save_mean[c], rstd = save_rstd[c], g = param_or(gamma, c, 1.0);
    double sum_dy = 0, sum_dy_xhat = 0;
    for (index_t i = 0; i < N; ++i)
      for (index_t s = 0; s < S; ++s) {
        const index_t k = (i * C + c) * S + s;
        const double d = double(bn_relu_grad(dy[k], relu_out, k));
        sum_dy += d;
        sum_dy_xhat += d * (double(x[k]) - mean) * rstd;
      }
    dgamma[c] = T(sum_dy_xhat);
    dbeta[c] = T(sum_dy);
    for (index_t i = 0; i < N; ++i)
      for (index_t s = 0; s < S; ++s) {
        const index_t k = (i * C + c) * S + s;
        const double xhat = (double(x[k]) - mean) * rstd;
        const double d = double(bn_relu_grad(dy[k], relu_out, k));
        if (training)  // mean(dy*g) = g*mean(dy), mean(dy*g*xhat) = g*mean(dy*xhat)
          dx[k] = T(rstd * (d * g - g * sum_dy / n - xhat * g * sum_dy_xhat / n));
        else
          dx[k] = T(rstd * g * d);
      }
  }
}

// ---------------------------------------------------------------------------- group norm
template <typename T>
void group_norm_forward_ref(T* y, double* save_mean, double* save_rstd, const T* x,
                            const T* gamma, const T* beta, const NormParams& p) {
  const index_t N = p.N, C = p.C, S = p.S, G = p.G, Cg = C / G;
  const index_t len = Cg * S;  // group (n, g) is x[(n*G + g) * len ...] (contiguous)
  for (index_t i = 0; i < N * G; ++i) {
    const T* xg = x + i * len;
    double sum = 0;
    for (index_t k = 0; k < len; ++k) sum += double(xg[k]);
    const double mean = len > 0 ? sum / double(len) : 0.0;
    double sq = 0;
    for (index_t k = 0; k < len; ++k) sq += (double(xg[k]) - mean) * (double(xg[k]) - mean);
    const double var = len > 0 ? sq / double(len) : 0.0;
    const double rstd = 1.0 / std::sqrt(var + p.eps);
    save_mean[i] = mean;
    save_rstd[i] = rstd;
    const index_t c0 = (i % G) * Cg;
    for (index_t j = 0; j < Cg; ++j)
      for (index_t s = 0; s < S; ++s) {
        const index_t k = j * S + s;
        y[i * len + k] = T((double(xg[k]) - mean) * rstd * param_or(gamma, c0 + j, 1.0) +
                           param_or(beta, c0 + j, 0.0));
      }
  }
}

template <typename T>
void group_norm_backward_ref(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x,
                             const double* save_mean, const double* save_rstd, const T* gamma,
                             const NormParams& p) {
  const index_t N = p.N, C = p.C, S = p.S, G = p.G, Cg = C / G, len = Cg * S;
  for (index_t c = 0; c < C; ++c) {
    double dg = 0, db = 0;
    for (index_t i = 0; i < N; ++i) {
      const index_t grp = i * G + c / Cg;
      for (index_t s = 0; s < S; ++s) {
        const index_t k = (i * C + c) * S + s;
        dg += double(dy[k]) * (double(x[k]) - save_mean[grp]) * save_rstd[grp];
        db += double(dy[k]);
      }
    }
    dgamma[c] = T(dg);
    dbeta[c] = T(db);
  }
  for (index_t i = 0; i < N * G; ++i) {
    const double mean = save_mean[i], rstd = save_rstd[i];
    const index_t c0 = (i % G) * Cg, base = i * len;
    double mean_dyg = 0, mean_dyg_xhat = 0;
    for (index_t j = 0; j < Cg; ++j)
      for (index_t s = 0; s < S; ++s) {
        const index_t k = base + j * S + s;
        const double dyg = double(dy[k]) * param_or(gamma, c0 + j, 1.0);
        mean_dyg += dyg / double(len);
        mean_dyg_xhat += dyg * (double(x[k]) - mean) * rstd / double(len);
      }
    for (index_t j = 0; j < Cg; ++j)
      for (index_t s = 0; s < S; ++s) {
        const index_t k = base + j * S + s;
        const double xhat = (double(x[k]) - mean) * rstd;
        dx[k] = T(rstd * (double(dy[k]) * param_or(gamma, c0 + j, 1.0) - mean_dyg -
                          xhat * mean_dyg_xhat));
      }
  }
}

// ---------------------------------------------------------------------------- pixel norm
template <typename T>
void pixel_norm_forward_ref(T* y, double* save_rstd, const T* x, const NormParams& p) {
  const index_t N = p.N, C = p.C, S = p.S;
  for (index_t i = 0; i < N; ++i)
    for (index_t s = 0; s < S; ++s) {
      double sq = 0;
      for (index_t c = 0; c < C; ++c) sq += double(x[(i * C + c) * S + s]) * double(x[(i * C + c) * S + s]);
      const double r = 1.0 / std::sqrt((C > 0 ? sq / double(C) : 0.0) + p.eps);
      save_rstd[i * S + s] = r;
      for (index_t c = 0; c < C; ++c) y[(i * C + c) * S + s] = T(double(x[(i * C + c) * S + s]) * r);
    }
}

template <typename T>
void pixel_norm_backward_ref(T* dx, const T* dy, const T* x, const double* save_rstd,
                             const NormParams& p) {
  const index_t N = p.N, C = p.C, S = p.S;
  for (index_t i = 0; i < N; ++i)
    for (index_t s = 0; s < S; ++s) {
      const double r = save_rstd[i * S + s];
      double dot = 0;  // sum_c dy*x
      for (index_t c = 0; c < C; ++c) {
        const index_t k = (i * C + c) * S + s;
        dot += double(dy[k]) * double(x[k]);
      }
      for (index_t c = 0; c < C; ++c) {
        const index_t k = (i * C + c) * S + s;
        dx[k] = T(r * double(dy[k]) - double(x[k]) * r * r * r * dot / double(C));
      }
    }
}

#define PYCNN_INSTANTIATE(T)                                                                    \
  template void batch_norm_forward_ref<T>(T*, double*, double*, T*, T*, const T*, const T*,     \
                                          const T*, const NormParams&, bool, double, bool);     \
  template void batch_norm_backward_ref<T>(T*, T*, T*, const T*, const T*, const double*,       \
                                           const double*, const T*, const NormParams&, bool,    \
                                           const T*);                                           \
  template void group_norm_forward_ref<T>(T*, double*, double*, const T*, const T*, const T*,   \
                                          const NormParams&);                                   \
  template void group_norm_backward_ref<T>(T*, T*, T*, const T*, const T*, const double*,       \
                                           const double*, const T*, const NormParams&);         \
  template void pixel_norm_forward_ref<T>(T*, double*, const T*, const NormParams&);            \
  template void pixel_norm_backward_ref<T>(T*, const T*, const T*, const double*,               \
                                           const NormParams&);
PYCNN_INSTANTIATE(float)
PYCNN_INSTANTIATE(double)

}  // namespace pycnn
