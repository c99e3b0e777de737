#include "methods/zipcache/zipcache_cache.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

#include "harness/runtime/kv/partial.h"
#include "harness/runtime/kv/rows_attention.h"
#include "kernels/common/buffer_capacity.h"
#include "kernels/cpu/packed_attention.h"

namespace bp::methods::zipcache {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// floor(x) with a guard against 0.95·100 = 94.99999...
int64_t floor_count(double x) { return (int64_t)std::floor(x + 1e-9); }

}  // namespace

void zipcache_add_store_bytes(rt::KvBytes& b, const kern::KvLayout& L, int64_t tokens) {
  const kern::KvStoreBytes x = kern::kv_store_bytes(L, tokens);
  b.payload += x.codes;
  b.scales += x.scales;
  b.zeros += x.mins;
}

void zipcache_add_head_bytes(rt::KvBytes& b, int64_t compressed, int head_dim, size_t buffer_bytes) {
  if (compressed > 0) {
    b.scales += (size_t)head_dim * 2;                   // the shared value normalizer c_d (FP16)
    b.indices += (size_t)((compressed + 63) / 64) * 8;  // the class bitmap, 64-bit words
  }
  b.window += buffer_bytes;
}

std::vector<int32_t> probe_rows(int n, double recent, double random, uint64_t seed, int layer) {
  std::vector<int32_t> rows;
  if (n <= 0) return rows;
  // The reference: recent rows from int(n - 0.05·n), random ones among the rows before.
  int start = (int)floor_count((double)n * (1.0 - recent));
  start = std::clamp(start, 0, n - 1);  // the last row is always a probe (every token is then seen by one)
  const int n_random = (int)std::min<int64_t>(start, floor_count(random * n));
  std::vector<int32_t> pool(start);
  std::iota(pool.begin(), pool.end(), 0);
  std::mt19937_64 rng(splitmix64(seed ^ splitmix64(0xC0FFEEull + (uint64_t)layer)));
  for (int i = 0; i < n_random; ++i) {  // partial Fisher-Yates: n_random distinct rows
    const int j = i + (int)(rng() % (uint64_t)(start - i));
    std::swap(pool[i], pool[j]);
    rows.push_back(pool[i]);
  }
  for (int r = start; r < n; ++r) rows.push_back(r);
  std::sort(rows.begin(), rows.end());
  return rows;
}

std::vector<double> saliency(const float* colsum, int64_t stored, int n, const std::vector<int32_t>& rows,
                             Normalization norm) {
  const int64_t T = stored + n;
  std::vector<double> s((size_t)T);
  for (int64_t j = 0; j < T; ++j) {
    double cnt = 1.0;
    if (norm == Normalization::Paper) {
      // Probe rows that see token j: all of them for stored tokens, rows i >= j among the new ones.
      cnt = j < stored ? (double)rows.size()
                       : (double)(rows.end() - std::lower_bound(rows.begin(), rows.end(), (int32_t)(j - stored)));
    } else if (norm == Normalization::Reference) {
      cnt = (double)(T - j);
    }
    s[j] = cnt > 0 ? (double)colsum[j] / cnt : 0.0;
  }
  return s;
}

std::vector<int32_t> lowest(const std::vector<double>& score, int64_t low) {
  std::vector<int32_t> order(score.size());
  std::iota(order.begin(), order.end(), 0);
  low = std::clamp<int64_t>(low, 0, (int64_t)score.size());
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return score[a] < score[b]; });
  order.resize((size_t)low);
  std::sort(order.begin(), order.end());
  return order;
}

std::vector<uint8_t> zipcache_classes(const Config& c, bool prefill, const std::vector<float>& raw, int64_t stored,
                                      int n, const std::vector<int32_t>& rows, const std::vector<uint8_t>& old_high) {
  const int64_t T = stored + n;
  if ((int64_t)raw.size() != T) throw std::logic_error("zipcache: attention observation missing for a compression step");
  std::vector<uint8_t> high((size_t)T, 1);
  if (prefill) {
    // Saliency over every token; the lowest (1 - ratio)·T go to the low class.
    const std::vector<double> sal = saliency(raw.data(), stored, n, rows, c.normalization);
    for (int32_t t : lowest(sal, floor_count((1.0 - c.saliency_ratio) * (double)T))) high[(size_t)t] = 0;
    return high;
  }
  // Older tokens keep their class; the buffered + new ones are ranked by the current query's raw attention.
  const int64_t C = (int64_t)old_high.size();
  std::copy(old_high.begin(), old_high.end(), high.begin());
  const std::vector<double> tail(raw.begin() + C, raw.end());
  const int64_t low = floor_count((double)tail.size() * c.unimportant_count / (double)c.streaming_gap);
  for (int32_t t : lowest(tail, low)) high[(size_t)(C + t)] = 0;
  return high;
}

nlohmann::json zipcache_stats(int64_t high, int64_t compressed, int64_t buffered, int64_t recompressions,
                              int n_layers, int64_t prefill_compressions, int probe_rows) {
  return {{"high_fraction", compressed ? (double)high / (double)compressed : 0.0},
          {"low_fraction", compressed ? 1.0 - (double)high / (double)compressed : 0.0},
          {"compressed_tokens", compressed},
          {"buffered_tokens", buffered},
          {"recompressions", recompressions},
          {"recompressions_per_layer", n_layers ? recompressions / n_layers : 0},
          {"prefill_compressions", prefill_compressions},
          {"probe_rows", probe_rows}};
}

ZipCache::ZipCache(const rt::KvGeometry& g, const Config& c) : KvCacheBase(g), cfg_(c) {
  heads_.reserve((size_t)g.n_layers * g.n_kv_heads);
  for (int i = 0; i < g.n_layers * g.n_kv_heads; ++i) {
    Head h;
    h.mixed = kern::MixedKvStore(g.head_dim, c.bits_high, c.bits_low, c.value_group);
    h.bk = rt::kv::HalfRows(g.head_dim);
    h.bv = rt::kv::HalfRows(g.head_dim);
    heads_.push_back(std::move(h));
  }
}

rt::KvBytes ZipCache::bytes() const {
  rt::KvBytes b;
  for (const Head& h : heads_) {
    for (bool keys : {true, false})
      for (bool high : {true, false}) {
        const kern::KvStore& s = h.mixed.store(keys, high);
        zipcache_add_store_bytes(b, s.layout(), s.tokens());
      }
    zipcache_add_head_bytes(b, h.mixed.tokens(), g_.head_dim, h.bk.bytes() + h.bv.bytes());
  }
  return b;
}

size_t ZipCache::bytes_allocated() const {
  size_t b = 0;
  for (const Head& h : heads_)
    b += h.mixed.bytes().total() + h.bk.allocated() + h.bv.allocated() + kern::allocated_bytes(h.raw) +
         kern::allocated_bytes(h.rows);
  return b;
}

void ZipCache::reset() {
  for (Head& h : heads_) {
    h.mixed = kern::MixedKvStore(g_.head_dim, cfg_.bits_high, cfg_.bits_low, cfg_.value_group);
    h.bk.clear();
    h.bv.clear();
    kern::clear_and_release(h.raw);
    kern::clear_and_release(h.rows);
  }
  recompressions_ = prefill_compressions_ = 0;
}

nlohmann::json ZipCache::stats() const {
  int64_t high = 0, compressed = 0, buffered = 0;
  for (const Head& h : heads_) {
    high += h.mixed.high_tokens();
    compressed += h.mixed.tokens();
    buffered += h.bk.size();
  }
  return zipcache_stats(high, compressed, buffered, recompressions_, g_.n_layers, prefill_compressions_,
                        last_probe_rows_);
}

int64_t ZipCache::stored_len(int layer, int kv_head) const {
  const Head& h = heads_[idx(layer, kv_head)];
  return h.mixed.tokens() + h.bk.size();
}

void ZipCache::attend_stored(int layer, int kv_head, const float* q, int m, float* max, float* sum,
                             float* acc) const {
  const Head& h = heads_[idx(layer, kv_head)];
  const int D = g_.head_dim;
  rt::kv::partial_clear(m, D, max, sum, acc);
  if (h.mixed.tokens() > 0) kern::mixed_attention(q, D, m, h.mixed.view(), max, sum, acc);
  if (!h.bk.empty()) {
    rt::kv::Partial p;
    p.resize(m, D);
    rt::kv::attend_rows(q, D, m, D, rt::kv::Rows::of_f16(h.bk.data(), D), rt::kv::Rows::of_f16(h.bv.data(), D),
                        h.bk.size(), p.max.data(), p.sum.data(), p.acc.data());
    p.merge_into(m, D, max, sum, acc);
  }
}

void ZipCache::score_stored(int layer, int kv_head, const float* q, int m, float* scores) const {
  const Head& h = heads_[idx(layer, kv_head)];
  const int D = g_.head_dim;
  const int64_t C = h.mixed.tokens(), S = C + h.bk.size();
  if (C > 0) kern::mixed_scores(q, D, m, h.mixed.view(), scores, S);
  if (!h.bk.empty()) rt::kv::score_rows(q, D, m, D, rt::kv::Rows::of_f16(h.bk.data(), D), h.bk.size(), scores + C, S);
}

bool ZipCache::decode_due(int layer, int n) const {
  return zipcache_decode_due(heads_[idx(layer, 0)].bk.size(), n, cfg_.streaming_gap);
}

std::vector<uint8_t> ZipCache::classes_of(const Head& hd) const {
  const kern::MixedKv mv = hd.mixed.view();
  std::vector<uint8_t> high((size_t)mv.tokens);
  for (int64_t t = 0; t < mv.tokens; ++t) high[(size_t)t] = (mv.hi_mask[t / 64] >> (t % 64)) & 1u;
  return high;
}

rt::ObserveRequest ZipCache::observe(const rt::AttnBatch& b) const {
  rt::ObserveRequest r;
  if (b.phase == rt::Phase::Prefill) {
    r.mode = rt::ObserveRequest::Mode::ColumnSum;
    if (!cfg_.exact) r.rows = probe_rows(b.n, cfg_.probe_recent, cfg_.probe_random, cfg_.seed, b.layer);
  } else if (decode_due(b.layer, b.n)) {
    r.mode = rt::ObserveRequest::Mode::ColumnSum;
    r.rows = {b.n - 1};  // the current query
  }
  return r;
}

void ZipCache::on_attention(const rt::Observation& o) {
  Head& h = heads_[idx(o.layer, o.kv_head)];
  const int64_t T = o.stored + o.n_new;
  h.raw.assign(o.data, o.data + T);
  h.rows = *o.rows;
}

void ZipCache::rebuild(Head& hd, const rt::StoreBatch& s, int h, const std::vector<uint8_t>& high) {
  const int D = g_.head_dim, Hkv = g_.n_kv_heads;
  const int64_t C = hd.mixed.tokens(), B = hd.bk.size(), T = C + B + s.n;
  std::vector<float> K((size_t)T * D), V((size_t)T * D);
  if (C > 0) {
    // Dequantize each class and put its tokens back in time order (rank in class = popcount of the mask before).
    const kern::MixedKv mv = hd.mixed.view();
    const int64_t nh = mv.k_hi.tokens, nl = mv.k_lo.tokens;
    std::vector<float> kh((size_t)nh * D), vh((size_t)nh * D), kl((size_t)nl * D), vl((size_t)nl * D);
    if (nh) {
      kern::kv_dequantize(mv.k_hi, 0, (int)nh, kh.data(), D);
      kern::kv_dequantize(mv.v_hi, 0, (int)nh, vh.data(), D);
    }
    if (nl) {
      kern::kv_dequantize(mv.k_lo, 0, (int)nl, kl.data(), D);
      kern::kv_dequantize(mv.v_lo, 0, (int)nl, vl.data(), D);
    }
    int64_t ih = 0, il = 0;
    for (int64_t t = 0; t < C; ++t) {
      const bool hi = (mv.hi_mask[t / 64] >> (t % 64)) & 1u;
      const float* ks = hi ? kh.data() + ih * D : kl.data() + il * D;
      const float* vs = hi ? vh.data() + ih * D : vl.data() + il * D;
      (hi ? ih : il)++;
      std::copy_n(ks, D, K.data() + t * D);
      std::copy_n(vs, D, V.data() + t * D);
    }
  }
  hd.bk.read(0, B, K.data() + C * D, D);
  hd.bv.read(0, B, V.data() + C * D, D);
  for (int i = 0; i < s.n; ++i) {
    std::copy_n(s.k + ((size_t)i * Hkv + h) * D, D, K.data() + (C + B + i) * D);
    std::copy_n(s.v + ((size_t)i * Hkv + h) * D, D, V.data() + (C + B + i) * D);
  }
  hd.mixed.quantize(K.data(), V.data(), D, T, high.data());
  // The buffer and the observation are used up: freed, not kept as capacity until the next rebuild.
  hd.bk.clear();
  hd.bv.clear();
  kern::clear_and_release(hd.raw);
  kern::clear_and_release(hd.rows);
}

void ZipCache::store(const rt::StoreBatch& s) {
  const int Hkv = g_.n_kv_heads, D = g_.head_dim;
  const bool prefill = s.phase == rt::Phase::Prefill;
  const bool due = prefill || decode_due(s.layer, s.n);
  if (!due) {
    for (int h = 0; h < Hkv; ++h) {
      Head& hd = heads_[idx(s.layer, h)];
      hd.bk.append(s.k + (size_t)h * D, (int64_t)Hkv * D, s.n);
      hd.bv.append(s.v + (size_t)h * D, (int64_t)Hkv * D, s.n);
    }
    return;
  }
  for (int h = 0; h < Hkv; ++h) {
    Head& hd = heads_[idx(s.layer, h)];
    const int64_t stored = hd.mixed.tokens() + hd.bk.size();
    if (prefill && h == 0) last_probe_rows_ = (int)hd.rows.size();
    const std::vector<uint8_t> high =
        zipcache_classes(cfg_, prefill, hd.raw, stored, s.n, hd.rows, prefill ? std::vector<uint8_t>{} : classes_of(hd));
    rebuild(hd, s, h, high);
  }
  (prefill ? prefill_compressions_ : recompressions_)++;
}

}  // namespace bp::methods::zipcache
