#include "harness/runtime/kv_cache_base.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels/common/softmax_math.h"
#include "kernels/cpu/attention_f32.h"
#include "kernels/cpu/thread_pool.h"

namespace bp::rt {

namespace {
constexpr int kRowBlock = 64;  // new-token query rows per parallel work item
}  // namespace

KvCacheBase::KvCacheBase(const KvGeometry& g) : g_(g) {
  if (g.n_layers <= 0 || g.n_q_heads <= 0 || g.n_kv_heads <= 0 || g.head_dim <= 0 || g.n_q_heads % g.n_kv_heads)
    throw std::invalid_argument("KvCacheBase: invalid geometry");
  if (!g.rope) throw std::invalid_argument("KvCacheBase: geometry without rope");
}

void KvCacheBase::attend(AttnBatch& b) {
  const int n = b.n, Hq = g_.n_q_heads, Hkv = g_.n_kv_heads, D = g_.head_dim, G = g_.group();
  const float scale = 1.0f / std::sqrt((float)D);
  const Rope& rope = *g_.rope;

  // 1. Positions: rotate queries (and scale them once) and keys at the positions the method assigns.
  int64_t max_pos = 0;
  for (int i = 0; i < n; ++i) max_pos = std::max({max_pos, query_position(b, i), key_position(b, i)});
  rope.reserve(max_pos + 1);
  q_rot_.resize((size_t)n * Hq * D);
  k_rot_.resize((size_t)n * Hkv * D);
  std::copy(b.q, b.q + (size_t)n * Hq * D, q_rot_.begin());
  std::copy(b.k, b.k + (size_t)n * Hkv * D, k_rot_.begin());
  kern::parallel_chunks(g_.threads, n, [&](int64_t a, int64_t e) {
    for (int64_t i = a; i < e; ++i) {
      rope.rotate(q_rot_.data() + (size_t)i * Hq * D, Hq, query_position(b, i));
      rope.rotate(k_rot_.data() + (size_t)i * Hkv * D, Hkv, key_position(b, i));
      float* q = q_rot_.data() + (size_t)i * Hq * D;
      for (int d = 0; d < Hq * D; ++d) q[d] *= scale;
    }
  });

  if (b.selection) {
    attend_selected(b);
  } else {
    // 2. Attention = merge(stored partial from the method's kernel, new-token partial in F32).
    const int row_blocks = (n + kRowBlock - 1) / kRowBlock;
    const int items = Hkv * row_blocks;
    // Dynamic scheduling only balances the causal triangle; each item's arithmetic is fixed, so results do not
    // depend on the thread count or the schedule.
    struct Scratch {
      std::vector<float> qg, st_max, st_sum, st_acc, nw_max, nw_sum, nw_acc;
    };
    std::vector<Scratch> scratch(g_.threads);
    kern::parallel_dynamic(g_.threads, items, [&](int64_t item_, int tid) {
      {
        auto& [qg, st_max, st_sum, st_acc, nw_max, nw_sum, nw_acc] = scratch[tid];
        const int item = (int)item_;
        const int kvh = item % Hkv, rb = item / Hkv;
        const int i0 = rb * kRowBlock, i1 = std::min(n, i0 + kRowBlock), rows = i1 - i0;
        const int m = rows * G;  // rows ordered [token][group head]
        st_max.assign(m, -INFINITY);
        st_sum.assign(m, 0.0f);
        st_acc.assign((size_t)m * D, 0.0f);
        if (stored_len(b.layer, kvh) > 0) {
          qg.resize((size_t)m * D);
          for (int i = 0; i < rows; ++i)
            for (int h = 0; h < G; ++h)
              std::copy_n(q_rot_.data() + ((size_t)(i0 + i) * Hq + kvh * G + h) * D, D,
                          qg.data() + ((size_t)i * G + h) * D);
          attend_stored(b.layer, kvh, qg.data(), m, st_max.data(), st_sum.data(), st_acc.data());
        }
        nw_max.resize(rows);
        nw_sum.resize(rows);
        nw_acc.resize((size_t)rows * D);
        for (int h = 0; h < G; ++h) {
          const int qh = kvh * G + h;
          kern::AttnF32Args a;
          a.q = q_rot_.data() + ((size_t)i0 * Hq + qh) * D;
          a.q_stride = (int64_t)Hq * D;
          a.m = rows;
          a.k = k_rot_.data() + (size_t)kvh * D;
          a.v = b.v + (size_t)kvh * D;
          a.kv_stride = (int64_t)Hkv * D;
          a.T = i1;
          a.head_dim = D;
          a.causal_offset = i0;
          a.out_max = nw_max.data();
          a.out_sum = nw_sum.data();
          a.out_acc = nw_acc.data();
          kern::attention_partial_f32(a);
          for (int i = 0; i < rows; ++i) {
            const int r = i * G + h;
            float mx = st_max[r], sm = st_sum[r];
            float* acc = st_acc.data() + (size_t)r * D;
            kern::merge_partial_row(mx, sm, acc, nw_max[i], nw_sum[i], nw_acc.data() + (size_t)i * D, D);
            float* out = b.out + ((size_t)(i0 + i) * Hq + qh) * D;
            const float inv = sm > 0.0f ? 1.0f / sm : 0.0f;
            for (int d = 0; d < D; ++d) out[d] = acc[d] * inv;
          }
        }
      }
    });
  }

  // 3. Observation, only when the method asks.
  ObserveRequest req = observe(b);
  if (req.mode != ObserveRequest::Mode::None) compute_observation(b, q_rot_.data(), k_rot_.data(), req);

  // 4. Storage.
  StoreBatch s;
  s.layer = b.layer;
  s.phase = b.phase;
  s.n = n;
  s.pos = b.pos;
  s.k = keys_stored_rotated() ? k_rot_.data() : b.k;
  s.v = b.v;
  // When keys are stored unrotated, b.k must still hold the caller's unrotated keys: it was never modified.
  store(s);
}

// Sparse prefill (TokenSelector): only the selected new tokens take part as keys; queries are either the selected
// tokens (others get a zero output, the residual stream passes them through) or every token.
void KvCacheBase::attend_selected(AttnBatch& b) {
  const int n = b.n, Hq = g_.n_q_heads, Hkv = g_.n_kv_heads, D = g_.head_dim, G = g_.group();
  const std::vector<int32_t>& sel = b.selection->tokens;
  for (size_t j = 0; j < sel.size(); ++j)
    if (sel[j] < 0 || sel[j] >= n || (j && sel[j] <= sel[j - 1]))
      throw std::invalid_argument("TokenSelection: indices must be ascending and within the batch");
  const int ns = (int)sel.size();
  std::vector<float> ks((size_t)ns * Hkv * D), vs((size_t)ns * Hkv * D);
  for (int j = 0; j < ns; ++j) {
    std::copy_n(k_rot_.data() + (size_t)sel[j] * Hkv * D, Hkv * D, ks.data() + (size_t)j * Hkv * D);
    std::copy_n(b.v + (size_t)sel[j] * Hkv * D, Hkv * D, vs.data() + (size_t)j * Hkv * D);
  }
  // Number of selected tokens at or before each new token (the causal prefix of the selected keys).
  std::vector<int> prefix(n);
  for (int i = 0, j = 0; i < n; ++i) {
    while (j < ns && sel[j] <= i) ++j;
    prefix[i] = j;
  }
  std::vector<char> is_sel(n, 0);
  for (int s : sel) is_sel[s] = 1;
  std::fill(b.out, b.out + (size_t)n * Hq * D, 0.0f);
  struct Scratch {
    std::vector<float> qg, st_max, st_sum, st_acc, acc;
  };
  std::vector<Scratch> scratch(g_.threads);
  kern::parallel_dynamic(g_.threads, n, [&](int64_t i_, int tid) {
    {
      auto& [qg, st_max, st_sum, st_acc, acc] = scratch[tid];
      qg.resize((size_t)G * D);
      st_max.resize(G);
      st_sum.resize(G);
      st_acc.resize((size_t)G * D);
      acc.resize(D);
      const int i = (int)i_;
      if (!b.selection->all_queries && !is_sel[i]) return;
      for (int kvh = 0; kvh < Hkv; ++kvh) {
        std::fill(st_max.begin(), st_max.end(), -INFINITY);
        std::fill(st_sum.begin(), st_sum.end(), 0.0f);
        std::fill(st_acc.begin(), st_acc.end(), 0.0f);
        for (int h = 0; h < G; ++h)
          std::copy_n(q_rot_.data() + ((size_t)i * Hq + kvh * G + h) * D, D, qg.data() + (size_t)h * D);
        if (stored_len(b.layer, kvh) > 0)
          attend_stored(b.layer, kvh, qg.data(), G, st_max.data(), st_sum.data(), st_acc.data());
        for (int h = 0; h < G; ++h) {
          float mx, sm;
          kern::AttnF32Args a;
          a.q = qg.data() + (size_t)h * D;
          a.q_stride = D;
          a.m = 1;
          a.k = ks.data() + (size_t)kvh * D;
          a.v = vs.data() + (size_t)kvh * D;
          a.kv_stride = (int64_t)Hkv * D;
          a.T = prefix[i];
          a.head_dim = D;
          a.causal_offset = prefix[i];
          a.out_max = &mx;
          a.out_sum = &sm;
          a.out_acc = acc.data();
          if (a.T > 0) kern::attention_partial_f32(a);
          else {
            mx = -INFINITY;
            sm = 0.0f;
          }
          kern::merge_partial_row(st_max[h], st_sum[h], st_acc.data() + (size_t)h * D, mx, sm, acc.data(), D);
          float* out = b.out + ((size_t)i * Hq + kvh * G + h) * D;
          const float inv = st_sum[h] > 0.0f ? 1.0f / st_sum[h] : 0.0f;
          for (int d = 0; d < D; ++d) out[d] = st_acc[(size_t)h * D + d] * inv;
        }
      }
    }
  });
}

// Normalised probabilities p(row, key) = exp(s - max) / sum over stored + new keys (causal for new keys), summed
// over the query heads of each KV group. A second pass over the scores, done only for the requested rows.
void KvCacheBase::compute_observation(const AttnBatch& b, const float* q_rot, const float* k_rot,
                                      const ObserveRequest& req) {
  const int n = b.n, Hq = g_.n_q_heads, Hkv = g_.n_kv_heads, D = g_.head_dim, G = g_.group();
  std::vector<int32_t> rows = req.rows;
  if (rows.empty())
    for (int i = 0; i < n; ++i) rows.push_back(i);
  for (int32_t r : rows)
    if (r < 0 || r >= n) throw std::invalid_argument("ObserveRequest: row outside the batch");
  const int R = (int)rows.size();
  const bool colsum = req.mode == ObserveRequest::Mode::ColumnSum;

  for (int kvh = 0; kvh < Hkv; ++kvh) {
    const int64_t S = stored_len(b.layer, kvh);
    const int64_t width = S + n;
    // Work is split into fixed row chunks; ColumnSum partials are added in chunk order (deterministic).
    const int chunk = 32;
    const int n_chunks = (R + chunk - 1) / chunk;
    std::vector<float> out(colsum ? (size_t)width : (size_t)R * width, 0.0f);
    std::vector<std::vector<float>> partial(colsum ? n_chunks : 0);
    struct Scratch {
      std::vector<float> qg, sc, p;
    };
    std::vector<Scratch> scratch(g_.threads);
    kern::parallel_dynamic(g_.threads, n_chunks, [&](int64_t c_, int tid) {
      {
        auto& [qg, sc, p] = scratch[tid];
        qg.resize((size_t)G * D);
        sc.resize((size_t)G * std::max<int64_t>(S, 1));
        p.resize((size_t)width);
        const int c = (int)c_;
        if (colsum) partial[c].assign(width, 0.0f);
        for (int rr = c * chunk; rr < std::min(R, (c + 1) * chunk); ++rr) {
          const int i = rows[rr];
          for (int h = 0; h < G; ++h)
            std::copy_n(q_rot + ((size_t)i * Hq + kvh * G + h) * D, D, qg.data() + (size_t)h * D);
          if (S > 0) score_stored(b.layer, kvh, qg.data(), G, sc.data());
          std::fill(p.begin(), p.end(), 0.0f);
          for (int h = 0; h < G; ++h) {
            // Scores for this head: stored, then new keys j <= i.
            const float* q = qg.data() + (size_t)h * D;
            float mx = -INFINITY;
            std::vector<float> s(S + i + 1);
            for (int64_t j = 0; j < S; ++j) s[j] = sc[(size_t)h * S + j];
            for (int j = 0; j <= i; ++j) {
              const float* k = k_rot + ((size_t)j * Hkv + kvh) * D;
              float dot = 0.0f;
              for (int d = 0; d < D; ++d) dot += q[d] * k[d];
              s[S + j] = dot;
            }
            for (float x : s) mx = std::max(mx, x);
            double sum = 0.0;
            for (float& x : s) {
              x = std::exp(x - mx);
              sum += x;
            }
            const float inv = (float)(1.0 / sum);
            for (size_t j = 0; j < s.size(); ++j) p[j] += s[j] * inv;
          }
          if (colsum) {
            for (int64_t j = 0; j < width; ++j) partial[c][j] += p[j];
          } else {
            std::copy(p.begin(), p.end(), out.begin() + (size_t)rr * width);
          }
        }
      }
    });
    if (colsum)
      for (int c = 0; c < n_chunks; ++c)
        for (int64_t j = 0; j < width; ++j) out[j] += partial[c][j];
    Observation o;
    o.layer = b.layer;
    o.kv_head = kvh;
    o.stored = S;
    o.n_new = n;
    o.rows = &rows;
    o.data = out.data();
    o.mode = req.mode;
    on_attention(o);
  }
}

}  // namespace bp::rt
