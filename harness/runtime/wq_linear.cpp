#include "harness/runtime/wq_linear.h"

namespace bp::rt {

std::string WqLinear::format() const {
  const kern::WqFormat& f = w_.format();
  return "int" + std::to_string(f.bits) + (f.group == 0 ? "-row" : "-g" + std::to_string(f.group)) +
         (f.symmetric ? "-sym" : "-asym");
}

}  // namespace bp::rt
