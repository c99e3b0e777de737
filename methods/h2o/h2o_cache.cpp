#include "methods/h2o/h2o_cache.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "harness/runtime/kv/keep_tokens.h"
#include "kernels/common/buffer_capacity.h"

namespace bp::methods::h2o {

std::vector<uint8_t> h2o_keep(const std::vector<int32_t>& pos, const std::vector<float>& score, const Budget& b) {
  const int64_t total = (int64_t)pos.size();
  std::vector<uint8_t> keep((size_t)total, 1);
  if (!b.known || total <= b.total()) return keep;
  std::fill(keep.begin(), keep.end(), 0);
  std::vector<int32_t> idx((size_t)total);
  std::iota(idx.begin(), idx.end(), 0);
  // Recent window: the r largest positions (positions are distinct).
  const int64_t r = std::min(b.recent, total);
  if (r > 0) {
    std::nth_element(idx.begin(), idx.begin() + (r - 1), idx.end(),
                     [&](int32_t a, int32_t c) { return pos[(size_t)a] > pos[(size_t)c]; });
    for (int64_t j = 0; j < r; ++j) keep[(size_t)idx[(size_t)j]] = 1;
  }
  // Heavy hitters among the rest: highest score, ties to the later position.
  std::vector<int32_t> rest;
  rest.reserve((size_t)(total - r));
  for (int32_t t = 0; t < (int32_t)total; ++t)
    if (!keep[(size_t)t]) rest.push_back(t);
  const int64_t h = std::min<int64_t>(b.heavy, (int64_t)rest.size());
  if (h > 0) {
    std::nth_element(rest.begin(), rest.begin() + (h - 1), rest.end(), [&](int32_t a, int32_t c) {
      const float sa = score[(size_t)a], sc = score[(size_t)c];
      return sa != sc ? sa > sc : pos[(size_t)a] > pos[(size_t)c];
    });
    for (int64_t j = 0; j < h; ++j) keep[(size_t)rest[(size_t)j]] = 1;
  }
  return keep;
}

H2oCache::H2oCache(const rt::KvGeometry& g, const rt::kv::TokenFormat& format, const Config& c)
    : TokenStoreCache(g, format),
      cfg_(c),
      heads_((size_t)g.n_layers * g.n_kv_heads),
      observed_((size_t)g.n_kv_heads),
      prompt_((size_t)g.n_layers, 0) {}

Budget h2o_budget(const Config& c, int64_t P) {
  Budget b;
  if (!c.ratio) {
    b.known = true;
    b.heavy = c.heavy_tokens;
    b.recent = c.recent_tokens;
    return b;
  }
  if (P == 0) return b;
  b.known = true;
  // int(ratio · P) as the reference; a part that is asked for keeps at least one token.
  auto part = [&](double ratio) -> int64_t {
    if (ratio <= 0.0) return 0;
    return std::max<int64_t>(1, (int64_t)std::floor(ratio * (double)P));
  };
  b.heavy = part(c.heavy_ratio);
  b.recent = part(c.recent_ratio);
  return b;
}

std::vector<uint8_t> h2o_decide(H2oTokens& t, const std::vector<float>& obs, const int32_t* new_pos, int n,
                                const Budget& b) {
  const int64_t S = (int64_t)t.pos.size();
  if ((int64_t)obs.size() != S + n) throw std::logic_error("h2o: no attention observation for this call");
  // Accumulate: stored tokens add this call's column sums; new tokens start with theirs.
  for (int64_t j = 0; j < S; ++j) t.score[(size_t)j] += obs[(size_t)j];
  std::vector<int32_t> all_pos = t.pos;
  all_pos.insert(all_pos.end(), new_pos, new_pos + n);
  std::vector<float> all_score = t.score;
  all_score.insert(all_score.end(), obs.begin() + S, obs.end());
  return h2o_keep(all_pos, all_score, b);
}

Budget H2oCache::budget(int layer) const { return h2o_budget(cfg_, prompt_[(size_t)layer]); }

rt::ObserveRequest H2oCache::observe(const rt::AttnBatch&) const {
  rt::ObserveRequest r;
  r.mode = rt::ObserveRequest::Mode::ColumnSum;  // every row of the call (empty rows = all)
  return r;
}

void H2oCache::on_attention(const rt::Observation& o) {
  observed_[(size_t)o.kv_head].assign(o.data, o.data + o.stored + o.n_new);
}

void H2oCache::store(const rt::StoreBatch& s) {
  const int Hkv = g_.n_kv_heads, D = g_.head_dim, n = s.n;
  if (s.phase == rt::Phase::Prefill) prompt_[(size_t)s.layer] += n;
  const Budget b = budget(s.layer);
  std::vector<int32_t> new_pos(s.pos, s.pos + n);
  for (int h = 0; h < Hkv; ++h) {
    rt::kv::TokenStore& st = store_at(s.layer, h);
    Head& hd = head(s.layer, h);
    const int64_t S = st.size();
    const std::vector<float>& obs = observed_[(size_t)h];
    const std::vector<uint8_t> keep = h2o_decide(hd, obs, new_pos.data(), n, b);
    const std::vector<int32_t> src =
        rt::kv::keep_tokens(st, s.k + (size_t)h * D, s.v + (size_t)h * D, (int64_t)Hkv * D, n, keep);
    hd.pos = rt::kv::remap_side(src, hd.pos, new_pos.data());
    hd.score = rt::kv::remap_side(src, hd.score, obs.data() + S);
    arrived_ += n;
    evicted_ += S + n - (int64_t)src.size();
    // This call's column sums are used up: free them (stored + new floats per head) rather than hold them to the
    // next call.
    kern::clear_and_release(observed_[(size_t)h]);
  }
}

rt::KvBytes H2oCache::bytes() const {
  rt::KvBytes b = grid_.bytes();
  for (const Head& h : heads_) {
    b.scores += h.score.size() * sizeof(float);
    b.indices += h.pos.size() * sizeof(int32_t);
  }
  return b;
}

size_t H2oCache::bytes_allocated() const {
  size_t b = grid_.allocated();
  for (const Head& h : heads_) b += kern::allocated_bytes(h.score) + kern::allocated_bytes(h.pos);
  for (const auto& o : observed_) b += kern::allocated_bytes(o);
  return b;
}

void H2oCache::reset() {
  TokenStoreCache::reset();
  for (Head& h : heads_) h = Head{};
  for (auto& o : observed_) kern::clear_and_release(o);
  std::fill(prompt_.begin(), prompt_.end(), 0);
  arrived_ = evicted_ = 0;
}

nlohmann::json h2o_stats(const Budget& b, int64_t prompt_tokens, int64_t evicted, int64_t held, int64_t arrived) {
  nlohmann::json j;
  j["heavy"] = b.heavy;
  j["recent"] = b.recent;
  j["prompt_tokens"] = prompt_tokens;
  j["evicted_token_heads"] = evicted;
  j["kept_fraction"] = arrived > 0 ? (double)held / (double)arrived : 1.0;
  return j;
}

nlohmann::json H2oCache::stats() const {
  int64_t held = 0;
  for (const Head& h : heads_) held += (int64_t)h.pos.size();
  return h2o_stats(budget(0), prompt_.empty() ? 0 : prompt_[0], evicted_, held, arrived_);
}

}  // namespace bp::methods::h2o
