#include "bind_util.h"
#include "gemm.h"

using namespace pycnn;

namespace {

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

}  // namespace

void bind_gemm(py::module_& m) {
  m.def(
      "gemm",
      [](const py::array& a, const py::array& b, bool trans_a, bool trans_b, bool reference) {
        PYCNN_CHECK(a.dtype().is(b.dtype()), "matmul: dtypes differ: ", std::string(py::str(a.dtype())),
                    " vs ", std::string(py::str(b.dtype())));
        return float_dispatch(a, "matmul", "a", [&](auto t) {
          return gemm_py<decltype(t)>(a, b, trans_a, trans_b, reference);
        });
      },
      py::arg("a"), py::arg("b"), py::arg("trans_a") = false, py::arg("trans_b") = false,
      py::arg("reference") = false,
      "op(a) @ op(b) for 2-D float arrays; reference=True runs the plain-loop spec.");
}
