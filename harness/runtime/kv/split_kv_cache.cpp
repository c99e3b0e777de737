#include "harness/runtime/kv/split_kv_cache.h"

namespace bp::rt::kv {

SplitKvCache::SplitKvCache(const KvGeometry& g, const kern::KvLayout& key_layout, const kern::KvLayout& value_layout)
    : KvCacheBase(g) {
  s_.reserve((size_t)g.n_layers * g.n_kv_heads);
  for (int i = 0; i < g.n_layers * g.n_kv_heads; ++i) s_.emplace_back(key_layout, value_layout);
}

KvBytes SplitKvCache::bytes() const {
  KvBytes b;
  for (const auto& s : s_) b += s.bytes();
  return b;
}

size_t SplitKvCache::bytes_allocated() const {
  size_t b = 0;
  for (const auto& s : s_) b += s.allocated();
  return b;
}

void SplitKvCache::reset() {
  for (auto& s : s_) s.clear();
}

nlohmann::json SplitKvCache::stats() const {
  int64_t kp = 0, kf = 0, vp = 0, vf = 0;
  for (const auto& s : s_) {
    kp += s.keys().packed();
    kf += s.keys().fp16();
    vp += s.values().packed();
    vf += s.values().fp16();
  }
  return {{"keys_packed_tokens", kp}, {"keys_fp16_tokens", kf}, {"values_packed_tokens", vp},
          {"values_fp16_tokens", vf}};
}

void SplitKvCache::attend_stored(int layer, int kv_head, const float* q, int m, float* max, float* sum,
                                 float* acc) const {
  at(layer, kv_head).attend(q, m, max, sum, acc);
}

void SplitKvCache::score_stored(int layer, int kv_head, const float* q, int m, float* scores) const {
  const SplitKv& s = at(layer, kv_head);
  s.scores(q, m, scores, s.size());
}

void SplitKvCache::store(const StoreBatch& b) {
  const int Hkv = g_.n_kv_heads, D = g_.head_dim;
  for (int h = 0; h < Hkv; ++h) {
    SplitKv& s = s_[(size_t)b.layer * Hkv + h];
    s.append(b.k + (size_t)h * D, b.v + (size_t)h * D, (int64_t)Hkv * D, b.n);
    settle(s, b);
  }
}

}  // namespace bp::rt::kv
