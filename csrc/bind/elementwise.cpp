// Bindings of the elementwise family (see csrc/elementwise.h): any shape, float32/float64, the
// GIL released around the kernel.  reference=True runs the plain-loop spec.
#include <cstring>

#include "bind_util.h"
#include "elementwise.h"

using namespace pycnn;

namespace {

Activation parse_activation(const std::string& name) {
  for (Activation a : {Activation::relu, Activation::leaky_relu, Activation::sigmoid, Activation::tanh})
    if (name == activation_name(a)) return a;
  throw py::value_error(msg("activation: unknown activation '", name,
                            "' (expected relu, leaky_relu, sigmoid or tanh)"));
}

BinaryOp parse_binary(const std::string& name) {
  for (BinaryOp b : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul})
    if (name == binary_name(b)) return b;
  throw py::value_error(msg("binary: unknown op '", name, "' (expected add, sub or mul)"));
}

template <typename T>
void check_dtype(const char* op, const py::array& a, const char* a_name, const py::array& b, const char* b_name) {
  if (!py::isinstance<py::array_t<T>>(b))
    throw py::type_error(msg(op, ": ", b_name, " dtype ", std::string(py::str(b.dtype())), " differs from the ",
                             a_name, "'s ", std::string(py::str(a.dtype()))));
}

// `b` must have a's shape and dtype (the caller promotes and broadcasts before).
template <typename T>
void check_same(const char* op, const py::array& a, const char* a_name, const py::array& b, const char* b_name) {
  PYCNN_CHECK(shape_of(a) == shape_of(b), op, ": ", b_name, " ", shape_str(shape_of(b)), " does not match the ",
              a_name, " ", shape_str(shape_of(a)));
  check_dtype<T>(op, a, a_name, b, b_name);
}

// The (outer, channels, inner) view of a broadcast op: each >= 0, their product `big`'s size and
// `channels` small's (the caller, pycnn/_elementwise_xp.py broadcast_form, derives it from the shapes).
BroadcastShape broadcast_shape(const char* op, const py::array& big, const char* big_name, index_t outer,
                               index_t channels, index_t inner, const py::array* small) {
  PYCNN_CHECK(outer >= 0 && channels >= 0 && inner >= 0, op, ": outer, channels and inner must be >= 0, got (",
              outer, ", ", channels, ", ", inner, ")");
  const index_t n = checked_mul(checked_mul(outer, channels, op, "outer * channels"), inner, op,
                                "outer * channels * inner");
  PYCNN_CHECK(n == index_t(big.size()), op, ": ", big_name, " ", shape_str(shape_of(big)), " has ", big.size(),
              " elements, not outer * channels * inner = ", outer, " * ", channels, " * ", inner);
  if (small)
    PYCNN_CHECK(index_t(small->size()) == channels, op, ": the broadcast operand ", shape_str(shape_of(*small)),
                " has ", small->size(), " elements, not channels = ", channels);
  return {outer, channels, inner};
}

}  // namespace

void bind_elementwise(py::module_& m) {
  m.def(
      "activation_forward",
      [](const py::array& x, const std::string& activation, double negative_slope, bool reference) {
        const Activation act = parse_activation(activation);
        return float_dispatch(x, activation_name(act), "input", [&](auto t) -> py::array {
          using T = decltype(t);
          carray<T> in(x);
          auto out = new_array<T>(shape_of(in));
          const T* src = in.data();
          T* dst = out.mutable_data();
          const index_t n = in.size();
          py::gil_scoped_release nogil;
          (reference ? &activation_forward_ref<T> : &activation_forward_cpu<T>)(act, dst, src, n, T(negative_slope));
          return out;
        });
      },
      py::arg("input"), py::arg("activation"), py::arg("negative_slope") = 0.0, py::arg("reference") = false,
      "y = f(x) for f in relu, leaky_relu (negative_slope), sigmoid, tanh (csrc/elementwise.h).");
  m.def(
      "activation_backward",
      [](const py::array& dy, const py::array& saved, const std::string& activation, double negative_slope,
         bool reference) {
        const Activation act = parse_activation(activation);
        // leaky_relu's backward reads the input, the others the output
        const char* saved_name = act == Activation::leaky_relu ? "input" : "output";
        return float_dispatch(saved, activation_name(act), saved_name, [&](auto t) -> py::array {
          using T = decltype(t);
          check_same<T>(activation_name(act), saved, saved_name, dy, "grad_output");
          carray<T> g(dy), s(saved);
          auto dx = new_array<T>(shape_of(g));
          const T* gp = g.data();
          const T* sp = s.data();
          T* dp = dx.mutable_data();
          const index_t n = g.size();
          py::gil_scoped_release nogil;
          (reference ? &activation_backward_ref<T> : &activation_backward_cpu<T>)(act, dp, gp, sp, n,
                                                                                  T(negative_slope));
          return dx;
        });
      },
      py::arg("grad_output"), py::arg("saved"), py::arg("activation"), py::arg("negative_slope") = 0.0,
      py::arg("reference") = false,
      "dx = f'(grad_output, saved): saved is the output for relu/sigmoid/tanh, the input for leaky_relu.");
  m.def(
      "binary",
      [](const std::string& op_name, const py::array& a, const py::array& b, bool inplace, bool reference) {
        const BinaryOp op = parse_binary(op_name);
        const char* name = binary_name(op);
        return float_dispatch(a, name, "a", [&](auto t) -> py::array {
          using T = decltype(t);
          check_same<T>(name, a, "a", b, "b");
          carray<T> lhs(a), rhs(b);  // views when a and b are C-contiguous, else contiguous copies
          if (inplace)  // a (op)= b: a itself must be the buffer, a copy may not stand in for it
            PYCNN_CHECK(a.writeable() && (a.flags() & py::array::c_style) && lhs.data() == a.data(), name,
                        ": inplace needs a writeable C-contiguous a, got shape ", shape_str(shape_of(a)));
          if (inplace && rhs.data() != lhs.data()) {  // a partial overlap would read values already written
            const T *a0 = lhs.data(), *b0 = rhs.data();
            PYCNN_CHECK(b0 + rhs.size() <= a0 || a0 + lhs.size() <= b0, name,
                        ": inplace needs b not to overlap a (shape ", shape_str(shape_of(a)), ")");
          }
          py::array_t<T> out = inplace ? py::array_t<T>(lhs) : py::array_t<T>(new_array<T>(shape_of(lhs)));
          const T* ap = lhs.data();
          const T* bp = rhs.data();
          T* op_out = out.mutable_data();
          const index_t n = lhs.size();
          {
            py::gil_scoped_release nogil;
            (reference ? &binary_ref<T> : &binary_cpu<T>)(op, op_out, ap, bp, n);
          }
          return out;
        });
      },
      py::arg("op"), py::arg("a"), py::arg("b"), py::arg("inplace") = false, py::arg("reference") = false,
      "a (op) b for two same-shape arrays; inplace=True writes into a (a must be writeable, C-contiguous).");
  m.def(
      "binary_broadcast",
      [](const std::string& op_name, const py::array& big, const py::array& small, index_t outer, index_t channels,
         index_t inner, bool small_first, bool reference) {
        const BinaryOp op = parse_binary(op_name);
        const char* name = binary_name(op);
        return float_dispatch(big, name, "big", [&](auto t) -> py::array {
          using T = decltype(t);
          check_dtype<T>(name, big, "big operand", small, "broadcast operand");
          const BroadcastShape b = broadcast_shape(name, big, "big operand", outer, channels, inner, &small);
          carray<T> x(big), v(small);
          auto out = new_array<T>(shape_of(x));
          const T* xp = x.data();
          const T* vp = v.data();
          T* op_out = out.mutable_data();
          {
            py::gil_scoped_release nogil;
            (reference ? &binary_broadcast_ref<T> : &binary_broadcast_cpu<T>)(op, op_out, xp, vp, b, small_first);
          }
          return out;
        });
      },
      py::arg("op"), py::arg("big"), py::arg("small"), py::arg("outer"), py::arg("channels"), py::arg("inner"),
      py::arg("small_first") = false, py::arg("reference") = false,
      "big (op) small[c] over big viewed as (outer, channels, inner) (small (op) big when small_first); "
      "csrc/elementwise.h.");
  m.def(
      "broadcast_sum",
      [](const py::array& grad, index_t outer, index_t channels, index_t inner, const py::object& other,
         bool reference) {
        return float_dispatch(grad, "broadcast_sum", "grad", [&](auto t) -> py::array {
          using T = decltype(t);
          const BroadcastShape b = broadcast_shape("broadcast_sum", grad, "grad", outer, channels, inner, nullptr);
          carray<T> g(grad);
          carray<T> x;  // other, when given: grad's shape and dtype
          if (!other.is_none()) {
            const py::array o = py::reinterpret_borrow<py::array>(other);
            check_same<T>("broadcast_sum", grad, "grad", o, "other");
            x = carray<T>(o);
          }
          auto s = new_array<T>({channels});
          const T* gp = g.data();
          const T* xp = other.is_none() ? nullptr : x.data();
          T* sp = s.mutable_data();
          {
            py::gil_scoped_release nogil;
            (reference ? &broadcast_sum_ref<T> : &broadcast_sum_cpu<T>)(sp, gp, xp, b);
          }
          return s;
        });
      },
      py::arg("grad"), py::arg("outer"), py::arg("channels"), py::arg("inner"), py::arg("other") = py::none(),
      py::arg("reference") = false,
      "s[c] = sum over o, i of grad[o, c, i] (times other[o, c, i] when given), grad viewed as "
      "(outer, channels, inner): the gradient of a broadcast operand (csrc/elementwise.h).");
}
