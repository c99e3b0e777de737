#include "harness/runtime/kv_cache.h"

namespace bp::rt {

KvBytes& KvBytes::operator+=(const KvBytes& o) {
  payload += o.payload;
  scales += o.scales;
  zeros += o.zeros;
  indices += o.indices;
  window += o.window;
  scores += o.scores;
  other += o.other;
  return *this;
}

nlohmann::json KvBytes::to_json() const {
  return {{"payload", payload}, {"scales", scales}, {"zeros", zeros}, {"indices", indices},
          {"window", window},   {"scores", scores}, {"other", other},  {"total", total()}};
}

}  // namespace bp::rt
