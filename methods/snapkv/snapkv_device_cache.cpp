#include "methods/snapkv/snapkv_device_cache.h"

#if defined(BENCH_HAVE_CUDA)
namespace bp::methods::snapkv {

std::vector<int32_t> DeviceSnapKvCache::observe_rows(const rt::DeviceAttnBatch& b) const {
  std::vector<int32_t> rows;
  if (b.phase != rt::Phase::Prefill) return rows;
  const int64_t L = stored_len(b.layer, 0) + b.n;
  if (L <= snapkv_capacity(cfg_, L)) return rows;
  for (int i = b.n - snapkv_window_rows(cfg_, L, b.n); i < b.n; ++i) rows.push_back(i);
  return rows;
}

std::vector<std::vector<int32_t>> DeviceSnapKvCache::decide(int layer, int64_t S, int n) {
  const int64_t L = S + n, C = snapkv_capacity(cfg_, L);
  const int w = snapkv_window_rows(cfg_, L, n);
  if (phase() != rt::Phase::Prefill || L <= C || w <= 0) return {};
  std::vector<std::vector<int32_t>> keep((size_t)g_.n_kv_heads);
  for (int h = 0; h < g_.n_kv_heads; ++h) keep[(size_t)h] = kept_indices(snapkv_keep(cfg_, observation(h), L, w, C));
  if (layer == 0) {
    selected_ = true;
    prompt_ = L;
    kept_ = (int64_t)keep[0].size();
  }
  return keep;
}

void DeviceSnapKvCache::reset() {
  DeviceEvictingKvCache::reset();
  prompt_ = kept_ = 0;
  selected_ = false;
}

nlohmann::json DeviceSnapKvCache::stats() const { return snapkv_stats(selected_, prompt_, kept_); }

}  // namespace bp::methods::snapkv
#endif  // BENCH_HAVE_CUDA
