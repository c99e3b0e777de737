#include "harness/runtime/kv_cache_base.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels/common/buffer_capacity.h"
#include "kernels/common/softmax_math.h"
#include "kernels/cpu/attention_f32.h"
#include "kernels/cpu/attention_probs.h"
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

  // The method says now whether it will look at this call's attention: the attention pass then keeps every row's
  // final softmax statistics, which the observation needs (and nothing extra is computed otherwise).
  const ObserveRequest req = observe(b);
  const bool keep_stats = req.mode != ObserveRequest::Mode::None;
  if (keep_stats) {
    row_max_.assign((size_t)n * Hq, -INFINITY);
    row_sum_.assign((size_t)n * Hq, 0.0f);
  } else {
    row_max_.clear();
    row_sum_.clear();
  }

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
            if (keep_stats) {
              row_max_[(size_t)(i0 + i) * Hq + qh] = mx;
              row_sum_[(size_t)(i0 + i) * Hq + qh] = sm;
            }
            float* out = b.out + ((size_t)(i0 + i) * Hq + qh) * D;
            const float inv = sm > 0.0f ? 1.0f / sm : 0.0f;
            for (int d = 0; d < D; ++d) out[d] = acc[d] * inv;
          }
        }
      }
    });
  }

  // 3. Observation, only when the method asks.
  if (keep_stats) compute_observation(b, q_rot_.data(), k_rot_.data(), req);

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
  // The call's scratch (rotated queries and keys, row statistics: as large as a whole prompt after a prefill) is
  // freed here, so that between calls the cache holds only its storage (bytes_allocated() counts storage only).
  kern::clear_and_release(q_rot_);
  kern::clear_and_release(k_rot_);
  kern::clear_and_release(row_max_);
  kern::clear_and_release(row_sum_);
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
          if (!row_max_.empty()) {
            row_max_[(size_t)i * Hq + kvh * G + h] = st_max[h];
            row_sum_[(size_t)i * Hq + kvh * G + h] = st_sum[h];
          }
          float* out = b.out + ((size_t)i * Hq + kvh * G + h) * D;
          const float inv = st_sum[h] > 0.0f ? 1.0f / st_sum[h] : 0.0f;
          for (int d = 0; d < D; ++d) out[d] = st_acc[(size_t)h * D + d] * inv;
        }
      }
    }
  });
}

// Normalised probabilities p(row, key) = exp(s - max) / sum over stored + new keys (causal for new keys), with the
// row statistics the attention pass kept, summed over the query heads of each KV group. Done only for the requested
// rows: stored keys through the method's score_stored(), new keys through the vector probability kernel over runs
// of consecutive rows.
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
  const int chunk = 32;
  const int n_chunks = (R + chunk - 1) / chunk;

  for (int kvh = 0; kvh < Hkv; ++kvh) {
    const int64_t S = stored_len(b.layer, kvh);
    const int64_t width = S + n;
    std::vector<float> out(colsum ? (size_t)width : (size_t)R * width, 0.0f);
    // ColumnSum: one partial per chunk of rows, added in chunk order (deterministic for any thread count).
    std::vector<std::vector<float>> partial(colsum ? n_chunks : 0);
    struct Scratch {
      std::vector<float> qg, sc, mx, sm;
    };
    std::vector<Scratch> scratch(g_.threads);
    kern::parallel_dynamic(g_.threads, n_chunks, [&](int64_t c, int tid) {
      auto& [qg, sc, mx, sm] = scratch[tid];
      const int r0 = (int)c * chunk, r1 = std::min(R, r0 + chunk);
      float* target = colsum ? (partial[c].assign(width, 0.0f), partial[c].data()) : nullptr;
      // Stored keys: the method's scores, one query token (all group heads) at a time.
      if (S > 0) {
        qg.resize((size_t)G * D);
        sc.resize((size_t)G * S);
        for (int rr = r0; rr < r1; ++rr) {
          const int i = rows[rr];
          for (int h = 0; h < G; ++h)
            std::copy_n(q_rot + ((size_t)i * Hq + kvh * G + h) * D, D, qg.data() + (size_t)h * D);
          score_stored(b.layer, kvh, qg.data(), G, sc.data());
          float* dst = colsum ? target : out.data() + (size_t)rr * width;
          for (int h = 0; h < G; ++h) {
            const size_t st = (size_t)i * Hq + kvh * G + h;
            if (row_sum_[st] > 0.0f)  // a row that attended nothing (outside a token selection) adds nothing
              kern::add_probs_from_scores(sc.data() + (size_t)h * S, (int)S, row_max_[st], row_sum_[st], dst);
          }
        }
      }
      // New keys: runs of consecutive query rows share one call of the vector kernel per group head.
      for (int rr = r0; rr < r1;) {
        int re = rr + 1;
        while (re < r1 && rows[re] == rows[re - 1] + 1) ++re;
        const int i0 = rows[rr], m = re - rr;
        mx.resize(m);
        sm.resize(m);
        for (int h = 0; h < G; ++h) {
          const int qh = kvh * G + h;
          for (int r = 0; r < m; ++r) {
            mx[r] = row_max_[(size_t)(i0 + r) * Hq + qh];
            sm[r] = row_sum_[(size_t)(i0 + r) * Hq + qh];
            if (!(sm[r] > 0.0f)) {  // a row that attended nothing: every probability is 0
              mx[r] = INFINITY;
              sm[r] = 1.0f;
            }
          }
          kern::AttnProbArgs a;
          a.q = q_rot + ((size_t)i0 * Hq + qh) * D;
          a.q_stride = (int64_t)Hq * D;
          a.m = m;
          a.k = k_rot + (size_t)kvh * D;
          a.k_stride = (int64_t)Hkv * D;
          a.T = i0 + m;  // keys up to the run's last row
          a.head_dim = D;
          a.causal_offset = i0;
          a.row_max = mx.data();
          a.row_sum = sm.data();
          if (colsum) {
            a.col_sum = target + S;
          } else {
            a.probs = out.data() + (size_t)rr * width + S;
            a.probs_stride = width;
          }
          kern::attention_probs_f32(a);
        }
        rr = re;
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
