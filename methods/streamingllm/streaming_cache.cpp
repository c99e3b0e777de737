#include "methods/streamingllm/streaming_cache.h"

#include <algorithm>
#include <cmath>

#include "harness/runtime/kv/partial.h"
#include "kernels/cpu/attention_f32.h"

namespace bp::methods::streamingllm {

namespace {
constexpr int64_t kBlock = 128;  // stored tokens converted + rotated at a time (bounds the F32 scratch)
}  // namespace

StreamingCache::StreamingCache(const rt::KvGeometry& g, const rt::kv::TokenFormat& format, const Config& c)
    : TokenStoreCache(g, format), cfg_(c), ring_head_((size_t)g.n_layers, 0) {}

std::vector<SlotRun> StreamingCache::runs(int layer) const {
  return held_runs(stored_len(layer, 0), cfg_.sinks, ring_head_[(size_t)layer]);
}

int64_t StreamingCache::position_of_slot(int layer, int64_t t) const {
  for (const SlotRun& r : runs(layer))
    if (t >= r.slot && t < r.slot + r.len) return r.pos + (t - r.slot);
  return -1;
}

void StreamingCache::attend_stored(int layer, int kv_head, const float* q, int m, float* max, float* sum,
                                   float* acc) const {
  const rt::kv::TokenStore& st = store_at(layer, kv_head);
  const int D = g_.head_dim;
  const rt::Rope& rope = *g_.rope;
  rt::kv::partial_clear(m, D, max, sum, acc);
  std::vector<float> K((size_t)kBlock * D), V((size_t)kBlock * D);
  rt::kv::Partial part;
  part.resize(m, D);
  for (const SlotRun& r : runs(layer)) {
    for (int64_t off = 0; off < r.len; off += kBlock) {
      const int64_t nb = std::min(kBlock, r.len - off);
      st.read(r.slot + off, nb, K.data(), V.data(), D);
      // In-cache positions were reserved by KvCacheBase::attend (all below the call's first query position).
      for (int64_t j = 0; j < nb; ++j) rope.rotate(K.data() + j * D, 1, r.pos + off + j);
      kern::AttnF32Args a;
      a.q = q;
      a.q_stride = D;
      a.m = m;
      a.k = K.data();
      a.v = V.data();
      a.kv_stride = D;
      a.T = (int)nb;
      a.head_dim = D;
      a.causal_offset = nb;  // no mask: every stored token precedes every query
      a.out_max = part.max.data();
      a.out_sum = part.sum.data();
      a.out_acc = part.acc.data();
      kern::attention_partial_f32(a);
      part.merge_into(m, D, max, sum, acc);
    }
  }
}

void StreamingCache::score_stored(int layer, int kv_head, const float* q, int m, float* scores) const {
  const rt::kv::TokenStore& st = store_at(layer, kv_head);
  const int D = g_.head_dim;
  const int64_t T = st.size();
  std::vector<float> K((size_t)kBlock * D);
  for (const SlotRun& r : runs(layer)) {
    for (int64_t off = 0; off < r.len; off += kBlock) {
      const int64_t nb = std::min(kBlock, r.len - off);
      st.read(r.slot + off, nb, K.data(), nullptr, D);
      for (int64_t j = 0; j < nb; ++j) {
        float* k = K.data() + j * D;
        g_.rope->rotate(k, 1, r.pos + off + j);
        for (int i = 0; i < m; ++i) {
          float dot = 0.0f;
          for (int d = 0; d < D; ++d) dot += q[(size_t)i * D + d] * k[d];
          scores[(size_t)i * T + r.slot + off + j] = dot;  // storage (slot) order, as Observation expects
        }
      }
    }
  }
}

void StreamingCache::store(const rt::StoreBatch& s) {
  const int Hkv = g_.n_kv_heads, D = g_.head_dim, n = s.n;
  const int64_t S = cfg_.sinks, W = cfg_.window;
  const int64_t stride = (int64_t)Hkv * D;
  const StorePlan p = plan_store(stored_len(s.layer, 0), n, S, W);
  int64_t& head = ring_head_[(size_t)s.layer];
  if (p.n_sink > 0)
    for (int h = 0; h < Hkv; ++h)
      store_at(s.layer, h).append(s.k + (size_t)h * D, s.v + (size_t)h * D, stride, p.n_sink);
  if (p.append > 0)
    for (int h = 0; h < Hkv; ++h)
      store_at(s.layer, h).append(s.k + (size_t)p.first * stride + (size_t)h * D,
                                  s.v + (size_t)p.first * stride + (size_t)h * D, stride, p.append);
  for (int64_t i = p.first + p.append; i < n; ++i) {
    for (int h = 0; h < Hkv; ++h)
      store_at(s.layer, h).overwrite(S + head, s.k + (size_t)i * stride + (size_t)h * D,
                                     s.v + (size_t)i * stride + (size_t)h * D);
    head = (head + 1) % W;
  }
  if (s.layer == 0) {
    arrived_ += n;
    evicted_ += p.evicted;
  }
}

void StreamingCache::reset() {
  TokenStoreCache::reset();
  std::fill(ring_head_.begin(), ring_head_.end(), 0);
  arrived_ = evicted_ = 0;
}

nlohmann::json streaming_stats(const Config& c, int64_t evicted, int64_t held, int64_t arrived) {
  nlohmann::json j;
  j["sinks"] = c.sinks;
  j["window"] = c.window;
  j["evicted_tokens"] = evicted;
  j["kept_fraction"] = arrived > 0 ? (double)held / (double)arrived : 1.0;
  return j;
}

nlohmann::json StreamingCache::stats() const { return streaming_stats(cfg_, evicted_, stored_len(0, 0), arrived_); }

}  // namespace bp::methods::streamingllm
