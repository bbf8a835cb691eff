#include <omp.h>

#include "bind_util.h"
#include "gemm.h"

using namespace pycnn;

namespace {

// "a (2, 3) float32" for error messages.
std::string describe(const char* name, const py::array& a) {
  return msg(name, " ", shape_str(shape_of(a)), " ", std::string(py::str(a.dtype())));
}

void check_same_dtype(const char* op, const py::array& a, const py::array& b) {
  if (!same_dtype(a, b))
    throw py::type_error(msg(op, ": dtypes differ: ", describe("a", a), " vs ", describe("b", b)));
}

// C = op(A) @ op(B) for 2-D C-contiguous A, B (pass the stored array and the flag:
// a transposed numpy view is handed over as its C-contiguous base with trans=True).
template <typename T>
py::array gemm_py(const py::array& a_in, const py::array& b_in, bool trans_a, bool trans_b,
                  bool reference) {
  carray<T> a(a_in), b(b_in);
  check_ndim(a, 2, "matmul", "a");
  check_ndim(b, 2, "matmul", "b");
  const index_t M = trans_a ? a.shape(1) : a.shape(0), K = trans_a ? a.shape(0) : a.shape(1);
  const index_t Kb = trans_b ? b.shape(1) : b.shape(0), N = trans_b ? b.shape(0) : b.shape(1);
  PYCNN_CHECK(K == Kb, "matmul: inner dimensions differ: a ", shape_str(shape_of(a)),
              trans_a ? "^T" : "", " @ b ", shape_str(shape_of(b)), trans_b ? "^T" : "");
  auto c = new_array<T>({M, N});
  const T* A = a.data();
  const T* B = b.data();
  T* C = c.mutable_data();
  {
    py::gil_scoped_release nogil;
    auto f = reference ? &gemm_ref<T> : &gemm<T>;
    f(trans_a, trans_b, M, N, K, T(1), A, a.shape(1), B, b.shape(1), T(0), C, N);
  }
  return c;
}

// Test entry: the whole gemm.h contract on caller-owned buffers.  a, b, c are 2-D and
// C-contiguous; their row lengths are the leading dimensions, so a logical (m, n, k) smaller
// than the arrays exercises lda/ldb/ldc > the logical width.  c is updated in place.
template <typename T>
void gemm_full_py(const py::array& a_in, const py::array& b_in, py::array& c_in, double alpha,
                  double beta, bool trans_a, bool trans_b, index_t m, index_t n, index_t k,
                  const std::string& impl) {
  const char* op = "_gemm_full";
  carray<T> a(a_in), b(b_in);
  check_ndim(a, 2, op, "a");
  check_ndim(b, 2, op, "b");
  check_ndim(c_in, 2, op, "c");
  PYCNN_CHECK(same_dtype(c_in, a_in) && (c_in.flags() & py::array::c_style) && c_in.writeable(),
              op, ": c must be a writeable C-contiguous array of a's dtype, got ", describe("c", c_in));
  PYCNN_CHECK(m >= 0 && n >= 0 && k >= 0, op, ": m, n, k must be >= 0, got ", m, ", ", n, ", ", k);
  const index_t a_rows = trans_a ? k : m, a_cols = trans_a ? m : k;
  const index_t b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
  PYCNN_CHECK(a.shape(0) >= a_rows && a.shape(1) >= a_cols, op, ": a ", shape_str(shape_of(a)),
              " is smaller than the (", a_rows, ", ", a_cols, ") it must hold");
  PYCNN_CHECK(b.shape(0) >= b_rows && b.shape(1) >= b_cols, op, ": b ", shape_str(shape_of(b)),
              " is smaller than the (", b_rows, ", ", b_cols, ") it must hold");
  PYCNN_CHECK(c_in.shape(0) >= m && c_in.shape(1) >= n, op, ": c ", shape_str(shape_of(c_in)),
              " is smaller than the (", m, ", ", n, ") it must hold");
  auto f = impl == "ref" ? &gemm_ref<T> : impl == "gemm" ? &gemm<T> : impl == "serial" ? &gemm_serial<T> : nullptr;
  PYCNN_CHECK(f != nullptr, op, ": impl must be 'ref', 'gemm' or 'serial', got '", impl, "'");
  const T* A = a.data();
  const T* B = b.data();
  T* C = static_cast<T*>(c_in.mutable_data());
  const index_t lda = a.shape(1), ldb = b.shape(1), ldc = c_in.shape(1);
  py::gil_scoped_release nogil;
  f(trans_a, trans_b, m, n, k, T(alpha), A, lda, B, ldb, T(beta), C, ldc);
}

// Test entry: out[p] = op(a[p]) @ op(b[p]), one call per p inside one OpenMP region, as conv
// runs gemm_serial (concurrent calls, each with its own thread-local scratch); impl "gemm"
// checks that the parallel entry point called there runs serially instead of nesting.
template <typename T>
py::array gemm_in_threads_py(const py::array& a_in, const py::array& b_in, bool trans_a,
                             bool trans_b, const std::string& impl) {
  const char* op = "_gemm_in_threads";
  PYCNN_CHECK(impl == "serial" || impl == "gemm", op, ": impl must be 'serial' or 'gemm', got '",
              impl, "'");
  auto f = impl == "serial" ? &gemm_serial<T> : &gemm<T>;
  carray<T> a(a_in), b(b_in);
  check_ndim(a, 3, op, "a");
  check_ndim(b, 3, op, "b");
  const index_t P = a.shape(0);
  const index_t M = trans_a ? a.shape(2) : a.shape(1), K = trans_a ? a.shape(1) : a.shape(2);
  const index_t Kb = trans_b ? b.shape(2) : b.shape(1), N = trans_b ? b.shape(1) : b.shape(2);
  PYCNN_CHECK(b.shape(0) == P && K == Kb, op, ": a ", shape_str(shape_of(a)), " and b ",
              shape_str(shape_of(b)), " do not match");
  auto c = new_array<T>({P, M, N});
  const T* A = a.data();
  const T* B = b.data();
  T* C = c.mutable_data();
  const index_t lda = a.shape(2), ldb = b.shape(2);
  {
    py::gil_scoped_release nogil;
#pragma omp parallel for schedule(dynamic)
    for (index_t p = 0; p < P; ++p)
      f(trans_a, trans_b, M, N, K, T(1), A + p * M * K, lda, B + p * K * N, ldb, T(0),
        C + p * M * N, N);
  }
  return c;
}

}  // namespace

void bind_gemm(py::module_& m) {
  m.def(
      "gemm",
      [](const py::array& a, const py::array& b, bool trans_a, bool trans_b, bool reference) {
        check_same_dtype("matmul", a, b);
        return float_dispatch(a, "matmul", "a", [&](auto t) {
          return gemm_py<decltype(t)>(a, b, trans_a, trans_b, reference);
        });
      },
      py::arg("a"), py::arg("b"), py::arg("trans_a") = false, py::arg("trans_b") = false,
      py::arg("reference") = false,
      "op(a) @ op(b) for 2-D float arrays; reference=True runs the plain-loop spec.");
  m.def(
      "_gemm_full",
      [](const py::array& a, const py::array& b, py::array& c, double alpha, double beta,
         bool trans_a, bool trans_b, index_t m, index_t n, index_t k, const std::string& impl) {
        check_same_dtype("_gemm_full", a, b);
        float_dispatch(a, "_gemm_full", "a", [&](auto t) {
          gemm_full_py<decltype(t)>(a, b, c, alpha, beta, trans_a, trans_b, m, n, k, impl);
          return 0;
        });
      },
      py::arg("a"), py::arg("b"), py::arg("c"), py::arg("alpha"), py::arg("beta"),
      py::arg("trans_a"), py::arg("trans_b"), py::arg("m"), py::arg("n"), py::arg("k"),
      py::arg("impl"),
      "Test entry: c[:m, :n] = alpha * op(a) @ op(b) + beta * c[:m, :n] in place, with the row "
      "lengths of a, b, c as leading dimensions; impl is 'ref', 'gemm' or 'serial'.");
  m.def(
      "_gemm_in_threads",
      [](const py::array& a, const py::array& b, bool trans_a, bool trans_b, const std::string& impl) {
        check_same_dtype("_gemm_in_threads", a, b);
        return float_dispatch(a, "_gemm_in_threads", "a", [&](auto t) {
          return gemm_in_threads_py<decltype(t)>(a, b, trans_a, trans_b, impl);
        });
      },
      py::arg("a"), py::arg("b"), py::arg("trans_a") = false, py::arg("trans_b") = false,
      py::arg("impl") = "serial",
      "Test entry: op(a[p]) @ op(b[p]) for each p, one gemm_serial (or gemm) per p inside one "
      "OpenMP region.");
}
