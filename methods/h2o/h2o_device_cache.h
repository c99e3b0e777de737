#pragma once
// H2O on the CUDA backend (FP16 storage): the CPU H2oCache's algorithm (h2o_cache.h) over the device eviction base
// (harness/runtime/cuda/device_evicting_kv_cache.h). Every call observes all its rows; the column sums come back to
// the host, where h2o_decide (shared with the CPU cache) accumulates the scores and picks the tokens, and the
// device store gathers the survivors. Positions and scores stay on the host (the decision is made there); they are
// counted as on the CPU: 4 B score + 4 B position per kept token-head.
#if defined(BENCH_HAVE_CUDA)
#include <vector>

#include "harness/runtime/cuda/device_evicting_kv_cache.h"
#include "methods/h2o/h2o_cache.h"

namespace bp::methods::h2o {

class DeviceH2oCache : public rt::cuda::DeviceEvictingKvCache {
 public:
  DeviceH2oCache(const rt::DeviceGeometry& g, const Config& c);
  rt::KvBytes bytes() const override;
  size_t bytes_allocated() const override;  // the rows' device buffers plus the host positions and scores
  void reset() override;
  nlohmann::json stats() const override;  // the CPU cache's keys

 protected:
  std::vector<int32_t> observe_rows(const rt::DeviceAttnBatch& b) const override;  // every row
  std::vector<std::vector<int32_t>> decide(int layer, int64_t S, int n) override;

 private:
  H2oTokens& head(int layer, int h) { return heads_[(size_t)layer * g_.n_kv_heads + h]; }

  Config cfg_;
  std::vector<H2oTokens> heads_;
  std::vector<int64_t> prompt_;        // per layer: tokens received in Prefill calls
  int64_t arrived_ = 0, evicted_ = 0;  // token-heads, over all layers
};

}  // namespace bp::methods::h2o
#endif  // BENCH_HAVE_CUDA
