#pragma once
// Narrowing a config number (double in JSON / F64 in GGUF) to the float the ModelConfig holds: a value outside
// float's finite range is bad input, not something to convert (the conversion would be undefined behaviour).
#include <fmt/format.h>

#include <cfloat>
#include <cmath>
#include <string>

#include "harness/common/error.h"

namespace bp::rt {

inline float float_field(double v, const std::string& file, const std::string& where) {
  if (!std::isfinite(v) || std::fabs(v) > static_cast<double>(FLT_MAX))
    throw InputError(file, where, fmt::format("expected a finite number within float range, got {}", v));
  return static_cast<float>(v);
}

}  // namespace bp::rt
