#pragma once
// The token plug point: which tokens of a prefill take part in attention (ZipVL-style sparse prefill).
// The runtime asks the selector once per layer at prefill, before the KV cache computes attention, and passes the
// selection to the cache through AttnBatch::selection.
#include "harness/runtime/kv_cache.h"

namespace bp::rt {

class TokenSelector {
 public:
  virtual ~TokenSelector() = default;
  // q, k unrotated as in AttnBatch. Return false to let every token take part; true after filling *out.
  virtual bool select(const AttnBatch& b, const Rope& rope, TokenSelection* out) = 0;
  virtual nlohmann::json stats() const { return nlohmann::json::object(); }
};

}  // namespace bp::rt
