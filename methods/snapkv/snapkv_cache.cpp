#include "methods/snapkv/snapkv_cache.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "harness/runtime/kv/keep_tokens.h"

namespace bp::methods::snapkv {

std::vector<float> pool1d(const std::vector<float>& x, int kernel, Pooling p) {
  const int64_t L = (int64_t)x.size(), pad = kernel / 2;
  std::vector<float> out((size_t)L);
  for (int64_t j = 0; j < L; ++j) {
    const int64_t a = std::max<int64_t>(0, j - pad), b = std::min<int64_t>(L - 1, j + pad);
    if (p == Pooling::Avg) {
      double s = 0.0;
      for (int64_t t = a; t <= b; ++t) s += x[(size_t)t];
      out[(size_t)j] = (float)(s / kernel);  // padding counts as zeros
    } else {
      float mx = x[(size_t)a];
      for (int64_t t = a + 1; t <= b; ++t) mx = std::max(mx, x[(size_t)t]);
      out[(size_t)j] = mx;
    }
  }
  return out;
}

std::vector<int32_t> top_k(const std::vector<float>& x, int64_t k) {
  std::vector<int32_t> idx(x.size());
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min<int64_t>(k, (int64_t)idx.size());
  if (k <= 0) return {};
  std::nth_element(idx.begin(), idx.begin() + (k - 1), idx.end(), [&](int32_t a, int32_t b) {
    return x[(size_t)a] != x[(size_t)b] ? x[(size_t)a] > x[(size_t)b] : a > b;
  });
  idx.resize((size_t)k);
  std::sort(idx.begin(), idx.end());
  return idx;
}

SnapKvCache::SnapKvCache(const rt::KvGeometry& g, const rt::kv::TokenFormat& format, const Config& c)
    : TokenStoreCache(g, format), cfg_(c), votes_((size_t)g.n_kv_heads) {}

int64_t snapkv_capacity(const Config& c, int64_t L) {
  // A ratio that rounds to zero still keeps one token (the last one, the window).
  return c.ratio ? std::max<int64_t>(1, (int64_t)std::floor(c.capacity_ratio * (double)L)) : c.capacity;
}

int snapkv_window_rows(const Config& c, int64_t L, int n) {
  return (int)std::min<int64_t>({(int64_t)c.window, (int64_t)n, snapkv_capacity(c, L)});
}

std::vector<uint8_t> snapkv_keep(const Config& c, const std::vector<float>& votes, int64_t L, int w, int64_t C) {
  const int64_t prefix = L - w;
  if ((int64_t)votes.size() < prefix) throw std::logic_error("snapkv: no attention observation for this prefill");
  const std::vector<float> prefix_votes(votes.begin(), votes.begin() + prefix);  // the window does not vote
  const std::vector<int32_t> top = top_k(pool1d(prefix_votes, c.kernel, c.pooling), C - w);
  std::vector<uint8_t> keep((size_t)L, 0);
  for (int32_t t : top) keep[(size_t)t] = 1;
  for (int64_t t = prefix; t < L; ++t) keep[(size_t)t] = 1;
  return keep;
}

int64_t SnapKvCache::capacity(int64_t L) const { return snapkv_capacity(cfg_, L); }

int SnapKvCache::window_rows(int64_t L, int n) const { return snapkv_window_rows(cfg_, L, n); }

rt::ObserveRequest SnapKvCache::observe(const rt::AttnBatch& b) const {
  rt::ObserveRequest r;
  if (b.phase != rt::Phase::Prefill) return r;
  const int64_t L = stored_len(b.layer, 0) + b.n;
  if (L <= capacity(L)) return r;
  const int w = window_rows(L, b.n);
  if (w <= 0) return r;
  r.mode = rt::ObserveRequest::Mode::ColumnSum;
  for (int i = b.n - w; i < b.n; ++i) r.rows.push_back(i);
  return r;
}

void SnapKvCache::on_attention(const rt::Observation& o) {
  votes_[(size_t)o.kv_head].assign(o.data, o.data + o.stored + o.n_new);
}

void SnapKvCache::store(const rt::StoreBatch& s) {
  const int Hkv = g_.n_kv_heads, D = g_.head_dim, n = s.n;
  const int64_t S = stored_len(s.layer, 0), L = S + n, C = capacity(L);
  const bool select = s.phase == rt::Phase::Prefill && L > C && window_rows(L, n) > 0;
  if (!select) {
    TokenStoreCache::store(s);
    return;
  }
  const int w = window_rows(L, n);
  for (int h = 0; h < Hkv; ++h) {
    std::vector<float>& votes = votes_[(size_t)h];
    if ((int64_t)votes.size() != L) throw std::logic_error("snapkv: no attention observation for this prefill");
    const std::vector<uint8_t> keep = snapkv_keep(cfg_, votes, L, w, C);
    rt::kv::keep_tokens(store_at(s.layer, h), s.k + (size_t)h * D, s.v + (size_t)h * D, (int64_t)Hkv * D, n, keep);
    std::vector<float>().swap(votes);
  }
  if (s.layer == 0) {
    selected_ = true;
    prompt_ = L;
    kept_ = stored_len(0, 0);
  }
}

size_t SnapKvCache::bytes_allocated() const {
  size_t b = grid_.allocated();
  for (const auto& v : votes_) b += v.capacity() * sizeof(float);
  return b;
}

void SnapKvCache::reset() {
  TokenStoreCache::reset();
  for (auto& v : votes_) std::vector<float>().swap(v);
  prompt_ = kept_ = 0;
  selected_ = false;
}

nlohmann::json snapkv_stats(bool selected, int64_t prompt_tokens, int64_t kept) {
  nlohmann::json j;
  j["selected"] = selected;
  j["prompt_tokens"] = prompt_tokens;
  j["kept_prompt_tokens"] = kept;
  j["kept_fraction"] = prompt_tokens > 0 ? (double)kept / (double)prompt_tokens : 1.0;
  return j;
}

nlohmann::json SnapKvCache::stats() const { return snapkv_stats(selected_, prompt_, kept_); }

}  // namespace bp::methods::snapkv
