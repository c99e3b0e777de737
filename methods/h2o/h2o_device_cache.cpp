#include "methods/h2o/h2o_device_cache.h"

#if defined(BENCH_HAVE_CUDA)
#include <algorithm>

#include "harness/runtime/kv/keep_tokens.h"

namespace bp::methods::h2o {

DeviceH2oCache::DeviceH2oCache(const rt::DeviceGeometry& g, const Config& c)
    : DeviceEvictingKvCache(g), cfg_(c), heads_((size_t)g.n_layers * g.n_kv_heads), prompt_((size_t)g.n_layers, 0) {}

std::vector<int32_t> DeviceH2oCache::observe_rows(const rt::DeviceAttnBatch& b) const {
  std::vector<int32_t> rows((size_t)b.n);
  for (int i = 0; i < b.n; ++i) rows[(size_t)i] = i;
  return rows;
}

std::vector<std::vector<int32_t>> DeviceH2oCache::decide(int layer, int64_t S, int n) {
  if (phase() == rt::Phase::Prefill) prompt_[(size_t)layer] += n;
  const Budget b = h2o_budget(cfg_, prompt_[(size_t)layer]);
  std::vector<std::vector<int32_t>> keep((size_t)g_.n_kv_heads);
  for (int h = 0; h < g_.n_kv_heads; ++h) {
    H2oTokens& t = head(layer, h);
    const std::vector<float>& obs = observation(h);
    keep[(size_t)h] = kept_indices(h2o_decide(t, obs, new_positions(), n, b));  // the order the device store keeps
    const std::vector<int32_t>& src = keep[(size_t)h];
    t.pos = rt::kv::remap_side(src, t.pos, new_positions());
    t.score = rt::kv::remap_side(src, t.score, obs.data() + S);
    arrived_ += n;
    evicted_ += S + n - (int64_t)src.size();
  }
  return keep;
}

rt::KvBytes DeviceH2oCache::bytes() const {
  rt::KvBytes b = DeviceEvictingKvCache::bytes();
  for (const H2oTokens& t : heads_) {
    b.scores += t.score.size() * sizeof(float);
    b.indices += t.pos.size() * sizeof(int32_t);
  }
  return b;
}

size_t DeviceH2oCache::bytes_allocated() const {
  size_t b = DeviceEvictingKvCache::bytes_allocated();
  for (const H2oTokens& t : heads_) b += t.score.capacity() * sizeof(float) + t.pos.capacity() * sizeof(int32_t);
  return b;
}

void DeviceH2oCache::reset() {
  DeviceEvictingKvCache::reset();
  for (H2oTokens& t : heads_) t = H2oTokens{};
  std::fill(prompt_.begin(), prompt_.end(), 0);
  arrived_ = evicted_ = 0;
}

nlohmann::json DeviceH2oCache::stats() const {
  const int64_t prompt = prompt_.empty() ? 0 : prompt_[0];
  int64_t held = 0;
  for (const H2oTokens& t : heads_) held += (int64_t)t.pos.size();
  return h2o_stats(h2o_budget(cfg_, prompt), prompt, evicted_, held, arrived_);
}

}  // namespace bp::methods::h2o
#endif  // BENCH_HAVE_CUDA
