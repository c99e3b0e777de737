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

std::vector<StreamingCache::Run> StreamingCache::runs(int layer) const {
  const int64_t T = stored_len(layer, 0), S = std::min(cfg_.sinks, T), wc = T - S;
  const int64_t head = ring_head_[(size_t)layer];
  std::vector<Run> r;
  if (S > 0) r.push_back({0, 0, S});
  if (wc > head) r.push_back({S + head, S, wc - head});  // oldest window tokens first
  if (head > 0) r.push_back({S, S + wc - head, head});
  return r;
}

int64_t StreamingCache::position_of_slot(int layer, int64_t t) const {
  for (const Run& r : runs(layer))
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
  for (const Run& r : runs(layer)) {
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
  for (const Run& r : runs(layer)) {
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
  const int64_t T0 = stored_len(s.layer, 0), S = cfg_.sinks, W = cfg_.window;
  const int64_t stride = (int64_t)Hkv * D;
  // The first tokens ever received fill the sinks.
  const int64_t n_sink = std::max<int64_t>(0, std::min<int64_t>(S - T0, n));
  // Of the remaining new tokens only the last W can survive the call; earlier ones would be overwritten in it.
  const int64_t m = n - n_sink, first = n_sink + std::max<int64_t>(0, m - W);
  int64_t wc = std::max<int64_t>(0, T0 + n_sink - S);  // window tokens held
  int64_t& head = ring_head_[(size_t)s.layer];
  int64_t evicted = m - (n - first);  // new tokens that never enter the store
  if (n_sink > 0)
    for (int h = 0; h < Hkv; ++h)
      store_at(s.layer, h).append(s.k + (size_t)h * D, s.v + (size_t)h * D, stride, n_sink);
  // While the ring has room, survivors are appended (head stays 0); then each overwrites the oldest slot.
  const int64_t append = std::min(W - wc, n - first);
  if (append > 0)
    for (int h = 0; h < Hkv; ++h)
      store_at(s.layer, h).append(s.k + (size_t)first * stride + (size_t)h * D,
                                  s.v + (size_t)first * stride + (size_t)h * D, stride, append);
  wc += append;
  for (int64_t i = first + append; i < n; ++i) {
    for (int h = 0; h < Hkv; ++h)
      store_at(s.layer, h).overwrite(S + head, s.k + (size_t)i * stride + (size_t)h * D,
                                     s.v + (size_t)i * stride + (size_t)h * D);
    head = (head + 1) % W;
    ++evicted;
  }
  if (s.layer == 0) {
    arrived_ += n;
    evicted_ += evicted;
  }
}

void StreamingCache::reset() {
  TokenStoreCache::reset();
  std::fill(ring_head_.begin(), ring_head_.end(), 0);
  arrived_ = evicted_ = 0;
}

nlohmann::json StreamingCache::stats() const {
  nlohmann::json j;
  j["sinks"] = cfg_.sinks;
  j["window"] = cfg_.window;
  j["evicted_tokens"] = evicted_;
  j["kept_fraction"] = arrived_ > 0 ? (double)stored_len(0, 0) / (double)arrived_ : 1.0;
  return j;
}

}  // namespace bp::methods::streamingllm
