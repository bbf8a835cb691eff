// Validation and the (N, C, S) views of the norm family (norm.h): every rule once, for every backend.
#include <cmath>

#include "norm.h"

namespace pycnn {

namespace {

// (N, C, S) of an (N, C, *) input, overflow-checked.
NormParams ncs_view(const char* op, const Shape& x, double eps, const Shape& user_shape) {
  PYCNN_CHECK(x.size() >= 2, op, ": input must be (N, C, *) with at least 2 dims, got shape ", shape_str(x));
  for (index_t s : user_shape) PYCNN_CHECK(s >= 0, op, ": input has a negative size ", shape_str(user_shape));
  PYCNN_CHECK(std::isfinite(eps) && eps >= 0, op, ": eps must be a number >= 0, got ", eps, " (input shape ",
              shape_str(user_shape), ")");
  NormParams p;
  p.N = x[0], p.C = x[1], p.S = 1;
  for (size_t d = 2; d < x.size(); ++d) p.S = checked_mul(p.S, x[d], op, "the input size");
  checked_numel({p.N, p.C, p.S}, op, "the input size");
  p.eps = eps;
  return p;
}

// Each given tensor has `expected` (`what` says why).
void check_shapes(const char* op, const Shape& x, const NormTensorShapes& t, const Shape& expected,
                  const char* what) {
  const std::pair<const char*, const std::optional<Shape>*> named[] = {
      {"weight", &t.weight}, {"bias", &t.bias}, {"running_mean", &t.running_mean}, {"running_var", &t.running_var}};
  for (const auto& [name, shape] : named)
    PYCNN_CHECK(!*shape || **shape == expected, op, ": ", name, " has shape ", shape_str(**shape),
                " but input ", shape_str(x), " needs ", shape_str(expected), " (", what, ")");
}

}  // namespace

NormParams make_batch_norm_params(const char* op, const Shape& x, const NormTensorShapes& t, bool training,
                                  double eps) {
  NormParams p = ncs_view(op, x, eps, x);
  check_shapes(op, x, t, {p.C}, "one value per channel");
  PYCNN_CHECK(training || (t.running_mean && t.running_var), op,
              ": running_mean and running_var must be given when training=False (input shape ", shape_str(x), ")");
  // torch: exactly one value per channel has no batch variance; an empty batch is allowed (the
  // functional layer returns an empty output and leaves the running statistics alone)
  PYCNN_CHECK(!training || p.N * p.S != 1, op, ": expected more than 1 value per channel when training, got input shape ",
              shape_str(x));
  return p;
}

NormParams make_instance_norm_params(const char* op, const Shape& x, const NormTensorShapes& t,
                                     bool use_input_stats, double eps) {
  NormParams p = ncs_view(op, x, eps, x);
  check_shapes(op, x, t, {p.C}, "one value per channel");
  PYCNN_CHECK(use_input_stats || (t.running_mean && t.running_var), op,
              ": running_mean and running_var must be given when use_input_stats=False (input shape ",
              shape_str(x), ")");
  PYCNN_CHECK(!use_input_stats || p.S > 1, op, ": expected more than 1 spatial element when training, got input shape ",
              shape_str(x));
  p.C = p.N * p.C, p.N = 1;  // each (sample, channel) is a channel of one batch
  return p;
}

NormParams make_group_norm_params(const char* op, const Shape& x, index_t num_groups, const NormTensorShapes& t,
                                  double eps) {
  NormParams p = ncs_view(op, x, eps, x);
  PYCNN_CHECK(num_groups >= 1 && p.C % num_groups == 0, op, ": num_groups=", num_groups,
              " must be a positive int that divides the ", p.C, " channels of input ", shape_str(x));
  p.G = num_groups;
  check_shapes(op, x, t, {p.C}, "one value per channel");
  // torch's _verify_batch_size: a set of one value normalizes to 0 with no gradient
  PYCNN_CHECK(p.N * p.group_channels() * p.S != 1, op,
              ": expected more than 1 value per group, got input shape ", shape_str(x), " with num_groups=",
              num_groups);
  return p;
}

NormParams make_layer_norm_params(const char* op, const Shape& x, const Shape& ns, const NormTensorShapes& t,
                                  double eps) {
  PYCNN_CHECK(!ns.empty(), op, ": normalized_shape must be an int or a non-empty tuple of ints, got ()");
  const bool matches = x.size() >= ns.size() && Shape(x.end() - ns.size(), x.end()) == ns;
  std::string trailing = shape_str(ns).substr(1);  // "a, b)" or "a,)"
  if (ns.size() == 1) trailing = msg(ns[0], ")");
  PYCNN_CHECK(matches, op, ": normalized_shape=", shape_str(ns), " expects input of shape (*, ", trailing, ", got ",
              shape_str(x));
  check_shapes(op, x, t, ns, "normalized_shape");
  for (index_t s : x) PYCNN_CHECK(s >= 0, op, ": input has a negative size ", shape_str(x));
  index_t M = 1, D = 1;  // rows (the leading dims) and row length (normalized_shape's product)
  const size_t lead = x.size() - ns.size();
  for (size_t d = 0; d < x.size(); ++d) {
    index_t& n = d < lead ? M : D;
    n = checked_mul(n, x[d], op, "the input size");
  }
  return ncs_view(op, {M, D, 1}, eps, x);
}

NormParams make_pixel_norm_params(const char* op, const Shape& x, double eps) { return ncs_view(op, x, eps, x); }

}  // namespace pycnn
