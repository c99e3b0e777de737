#pragma once
// Test support for the eviction methods (h2o, streamingllm, snapkv; header-only, included by their tests only):
// definition-level pieces a slow reference of each policy is built from, all in double and independent of the
// kernels: the held form of a token under a TokenFormat, RoPE in double, causal softmax attention over
// "held tokens + the batch's new tokens" that also returns the column sums of the probabilities of chosen rows
// (summed over the KV group's query heads), and which history tokens a cache's store really holds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "tests/common/kv/test_support.h"
#include "harness/runtime/kv/token_store.h"

namespace bp::rt::kv::testing {

// x[D] as a TokenStore of format f holds it (FP16 rounding, or per-token group quantization by the definition).
inline std::vector<float> held_row(const float* x, int D, const TokenFormat& f) {
  std::vector<float> out((size_t)D);
  if (!f.packed()) {
    for (int d = 0; d < D; ++d) out[(size_t)d] = f16(x[d]);
    return out;
  }
  const int G = f.group ? f.group : D;
  for (int g0 = 0; g0 < D; g0 += G) ref_quant_group(x + g0, G, 1, f.bits, f.symmetric, out.data() + g0, 1);
  return out;
}

// x rotated at position pos in double (rotate-half convention, angle = pos · inv_freq[j]).
inline std::vector<double> rope_double(const std::vector<float>& x, const Rope& rope, int64_t pos) {
  const int D = (int)x.size(), half = D / 2;
  std::vector<double> r(x.begin(), x.end());
  for (int j = 0; j < half; ++j) {
    const double a = (double)pos * (double)rope.inv_freq()[(size_t)j], c = std::cos(a), s = std::sin(a);
    r[(size_t)j] = x[(size_t)j] * c - (double)x[(size_t)j + half] * s;
    r[(size_t)j + half] = x[(size_t)j + half] * c + (double)x[(size_t)j] * s;
  }
  return r;
}

struct RefAttention {
  std::vector<double> out;               // [n][Hq][D]
  std::vector<std::vector<double>> col;  // per KV head: [S_h + n] Σ over `rows` and the group's heads of p(row, key)
};

// Softmax attention of the batch's queries (q_rot [n][Hq][D], rotated as the cache rotates them) over, per KV head
// h, the held keys keys[h] (rows of D, rotated as attention must see them) with values vals[h], then the batch's
// own keys (k_rot [n][Hkv][D]) and values causally. rows: the query rows whose probabilities are summed (empty =
// every row).
inline RefAttention ref_attention(const KvGeometry& g, const std::vector<float>& q_rot, int n,
                                  const std::vector<std::vector<std::vector<double>>>& keys,
                                  const std::vector<std::vector<std::vector<double>>>& vals,
                                  const std::vector<double>& k_rot, const std::vector<float>& v,
                                  std::vector<int> rows = {}) {
  const int Hq = g.n_q_heads, Hkv = g.n_kv_heads, D = g.head_dim, G = g.group();
  const double scale = 1.0 / std::sqrt((double)D);
  if (rows.empty())
    for (int i = 0; i < n; ++i) rows.push_back(i);
  std::vector<char> summed((size_t)n, 0);
  for (int r : rows) summed[(size_t)r] = 1;
  RefAttention R;
  R.out.assign((size_t)n * Hq * D, 0.0);
  R.col.resize((size_t)Hkv);
  for (int h = 0; h < Hkv; ++h) R.col[(size_t)h].assign(keys[(size_t)h].size() + n, 0.0);
  for (int i = 0; i < n; ++i)
    for (int qh = 0; qh < Hq; ++qh) {
      const int h = qh / G;
      const float* q = q_rot.data() + ((size_t)i * Hq + qh) * D;
      const size_t S = keys[(size_t)h].size();
      std::vector<double> s;
      std::vector<const double*> vd;
      std::vector<const float*> vf;
      for (size_t t = 0; t < S; ++t) {
        double dot = 0;
        for (int d = 0; d < D; ++d) dot += (double)q[d] * keys[(size_t)h][t][(size_t)d];
        s.push_back(dot * scale);
      }
      for (int j = 0; j <= i; ++j) {
        double dot = 0;
        for (int d = 0; d < D; ++d) dot += (double)q[d] * k_rot[((size_t)j * Hkv + h) * D + d];
        s.push_back(dot * scale);
      }
      const double mx = *std::max_element(s.begin(), s.end());
      double sum = 0;
      for (double& x : s) sum += (x = std::exp(x - mx));
      double* o = R.out.data() + ((size_t)i * Hq + qh) * D;
      for (size_t t = 0; t < s.size(); ++t) {
        const double p = s[t] / sum;
        if (summed[(size_t)i]) R.col[(size_t)h][t] += p;
        for (int d = 0; d < D; ++d)
          o[d] += p * (t < S ? vals[(size_t)h][t][(size_t)d] : (double)v[((size_t)(t - S) * Hkv + h) * D + d]);
      }
    }
  return R;
}

// Which tokens of a history a store holds: every stored value row is matched to the nearest history value row
// (history[t] = the exact value of token t, random, so rows are far apart). Returns the matched history indices,
// sorted, and the worst match distance in `worst` (a held row is its FP16/dequantized form, not exact).
inline std::vector<int> held_tokens(const TokenStore& st, const std::vector<std::vector<float>>& history,
                                    double* worst = nullptr) {
  const int D = st.head_dim();
  const int64_t T = st.size();
  std::vector<float> v((size_t)std::max<int64_t>(T, 1) * D);
  if (T) st.read(0, T, nullptr, v.data(), D);
  std::vector<int> out;
  double w = 0;
  for (int64_t t = 0; t < T; ++t) {
    int best = -1;
    double bd = std::numeric_limits<double>::infinity();
    for (size_t j = 0; j < history.size(); ++j) {
      double d2 = 0;
      for (int d = 0; d < D; ++d) {
        const double e = (double)v[(size_t)t * D + d] - history[j][(size_t)d];
        d2 += e * e;
      }
      if (d2 < bd) bd = d2, best = (int)j;
    }
    out.push_back(best);
    w = std::max(w, std::sqrt(bd));
  }
  std::sort(out.begin(), out.end());
  if (worst) *worst = w;
  return out;
}

// The store holds exactly the reference's tokens: `values[i]` is the exact value of the token with id `ids[i]`
// (position or arrival); every held row is matched to a value (held_tokens), the matched ids must equal `ids` as a
// set and the worst match distance stay below `max_dist`.
inline ::testing::AssertionResult holds_exactly(const TokenStore& st, const std::vector<std::vector<float>>& values,
                                                std::vector<int> ids, double max_dist) {
  double dist = 0;
  std::vector<int> got = held_tokens(st, values, &dist);
  for (int& x : got) x = ids[(size_t)x];
  std::sort(got.begin(), got.end());
  std::sort(ids.begin(), ids.end());
  if (got != ids) {
    ::testing::AssertionResult r = ::testing::AssertionFailure() << "held ids";
    for (int x : got) r << " " << x;
    r << " ; expected";
    for (int x : ids) r << " " << x;
    return r;
  }
  if (!(dist < max_dist)) return ::testing::AssertionFailure() << "match distance " << dist << " >= " << max_dist;
  return ::testing::AssertionSuccess();
}

}  // namespace bp::rt::kv::testing
