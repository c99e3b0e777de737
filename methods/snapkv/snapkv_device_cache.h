#pragma once
// SnapKV on the CUDA backend (FP16 storage): the CPU SnapKvCache's algorithm (snapkv_cache.h) over the device
// eviction base (harness/runtime/cuda/device_evicting_kv_cache.h). A selecting prefill observes its last w' rows;
// the votes come back to the host, where snapkv_keep (shared with the CPU cache) pools them and picks the tokens,
// and the device store gathers the survivors. Decode tokens are appended without eviction.
#if defined(BENCH_HAVE_CUDA)
#include <vector>

#include "harness/runtime/cuda/device_evicting_kv_cache.h"
#include "methods/snapkv/snapkv_cache.h"

namespace bp::methods::snapkv {

class DeviceSnapKvCache : public rt::cuda::DeviceEvictingKvCache {
 public:
  DeviceSnapKvCache(const rt::DeviceGeometry& g, const Config& c) : DeviceEvictingKvCache(g), cfg_(c) {}
  void reset() override;
  nlohmann::json stats() const override;  // the CPU cache's keys

 protected:
  std::vector<int32_t> observe_rows(const rt::DeviceAttnBatch& b) const override;  // the window at a selection
  std::vector<std::vector<int32_t>> decide(int layer, int64_t S, int n) override;

 private:
  Config cfg_;
  int64_t prompt_ = 0, kept_ = 0;  // layer 0: prompt length at the last selection and tokens kept
  bool selected_ = false;
};

}  // namespace bp::methods::snapkv
#endif  // BENCH_HAVE_CUDA
