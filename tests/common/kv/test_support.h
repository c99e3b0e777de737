#pragma once
// Test support for KV methods (header-only; included by the method tests, never by the library): a tiny synthetic
// geometry with a real Rope, random batches, a driver for KvCache::attend, definition-level quantizers written from
// kernels/common/quant_math.h's rule (not through the kernels), and softmax attention in double.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "harness/runtime/kv_cache.h"
#include "harness/runtime/model_config.h"
#include "harness/runtime/rope.h"

namespace bp::rt::kv::testing {

struct TinyModel {
  ModelConfig cfg;
  std::unique_ptr<Rope> rope;
  KvGeometry geometry(int threads = 1) const {
    KvGeometry g;
    g.n_layers = cfg.n_layers;
    g.n_q_heads = cfg.n_heads;
    g.n_kv_heads = cfg.n_kv_heads;
    g.head_dim = cfg.head_dim;
    g.rope = rope.get();
    g.threads = threads;
    return g;
  }
};

inline TinyModel tiny_model(int layers = 2, int hq = 4, int hkv = 2, int D = 64) {
  TinyModel m;
  m.cfg.architecture = "llama";
  m.cfg.n_layers = layers;
  m.cfg.n_heads = hq;
  m.cfg.n_kv_heads = hkv;
  m.cfg.head_dim = D;
  m.cfg.d_model = hq * D;
  m.cfg.rope_dim = D;
  m.cfg.rope_theta = 10000.0f;
  m.rope = std::make_unique<Rope>(m.cfg);
  return m;
}

// New tokens of one layer: q [n][Hq][D], k/v [n][Hkv][D] (unrotated, as the runtime hands them), out [n][Hq][D].
struct Batch {
  int n = 0;
  std::vector<int32_t> pos;
  std::vector<float> q, k, v, out;
};

// Random batch at positions p0..p0+n-1. Keys get a few outlier channels (as real keys do) so per-channel and
// per-token quantization differ.
inline Batch random_batch(const KvGeometry& g, int64_t p0, int n, std::mt19937& rng) {
  Batch b;
  b.n = n;
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (int i = 0; i < n; ++i) b.pos.push_back((int32_t)(p0 + i));
  b.q.resize((size_t)n * g.n_q_heads * g.head_dim);
  b.k.resize((size_t)n * g.n_kv_heads * g.head_dim);
  b.v.resize(b.k.size());
  b.out.assign(b.q.size(), 0.0f);
  for (auto& x : b.q) x = nd(rng);
  for (size_t i = 0; i < b.k.size(); ++i) {
    const int d = (int)(i % g.head_dim);
    b.k[i] = nd(rng) * (d % 16 == 3 ? 6.0f : 1.0f) + (d % 16 == 5 ? 3.0f : 0.0f);
  }
  for (auto& x : b.v) x = nd(rng);
  return b;
}

// Runs one attend() call; q/k are copied first because the cache rotates them in place. `selection`: the tokens
// that take part (nullptr: all).
inline void run(KvCache& c, int layer, Phase phase, Batch& b, const TokenSelection* selection = nullptr) {
  std::vector<float> q = b.q, k = b.k;
  AttnBatch a;
  a.layer = layer;
  a.phase = phase;
  a.n = b.n;
  a.pos = b.pos.data();
  a.q = q.data();
  a.k = k.data();
  a.v = b.v.data();
  a.out = b.out.data();
  a.selection = selection;
  c.attend(a);
}

// Rotated copy of x [n][heads][D] at positions pos.
inline std::vector<float> rotated(const Rope& rope, const std::vector<float>& x, int n, int heads, int D,
                                  const std::vector<int32_t>& pos) {
  std::vector<float> r = x;
  for (int i = 0; i < n; ++i) rope.rotate(r.data() + (size_t)i * heads * D, heads, pos[i]);
  return r;
}

// IEEE half rounding by the compiler's _Float16 (independent of the kernels' soft conversion).
inline float f16(float x) {
  const float lim = 65504.0f;
  x = std::min(lim, std::max(-lim, x));
  return (float)(_Float16)x;
}

// Dequantized values of one quantization group (n elements at x[i·stride]) by the definition: asymmetric
// scale = fp16((hi - lo) / (2^b - 1)), min = fp16(lo); symmetric scale = fp16(amax / (2^(b-1) - 1)),
// min = -2^(b-1)·scale; code = clamp(rint((x - min) · (1/scale)), 0, 2^b - 1); x̂ = code·scale + min.
inline void ref_quant_group(const float* x, int n, int64_t stride, int bits, bool symmetric, float* out,
                            int64_t out_stride) {
  float lo = INFINITY, hi = -INFINITY;
  for (int i = 0; i < n; ++i) {
    lo = std::min(lo, x[i * stride]);
    hi = std::max(hi, x[i * stride]);
  }
  const int qmax = (1 << bits) - 1;
  float scale, mn;
  if (symmetric) {
    const float amax = std::max(-lo, hi);
    scale = f16(amax > 0 ? amax / (float)((1 << (bits - 1)) - 1) : 0.0f);
    mn = -(float)(1 << (bits - 1)) * scale;
  } else {
    scale = f16(hi > lo ? (hi - lo) / (float)qmax : 0.0f);
    mn = f16(lo);
  }
  const float inv = scale > 0 ? 1.0f / scale : 0.0f;
  for (int i = 0; i < n; ++i) {
    float c = std::rint((x[i * stride] - mn) * inv);
    c = std::min((float)qmax, std::max(0.0f, c));
    out[i * out_stride] = std::fma(c, scale, mn);
  }
}

// Softmax attention in double for the batch's query rows: over `sk`/`sv` (stored tokens of each KV head as the
// reference says they are held, rows [S][D], keys rotated) and then the batch's own tokens causally (k_rot, v
// exact). Returns [n][Hq][D].
inline std::vector<double> reference_attention(const KvGeometry& g, const std::vector<float>& q_rot, int n,
                                               const std::vector<std::vector<float>>& sk,
                                               const std::vector<std::vector<float>>& sv,
                                               const std::vector<float>& k_rot, const std::vector<float>& v) {
  const int Hq = g.n_q_heads, Hkv = g.n_kv_heads, D = g.head_dim, G = g.group();
  const double scale = 1.0 / std::sqrt((double)D);
  std::vector<double> out((size_t)n * Hq * D, 0.0);
  for (int i = 0; i < n; ++i)
    for (int qh = 0; qh < Hq; ++qh) {
      const int h = qh / G;
      const float* q = q_rot.data() + ((size_t)i * Hq + qh) * D;
      const int64_t S = (int64_t)sk[h].size() / D;
      std::vector<double> s;
      std::vector<const float*> vals;
      for (int64_t t = 0; t < S; ++t) {
        double dot = 0;
        for (int d = 0; d < D; ++d) dot += (double)q[d] * sk[h][t * D + d];
        s.push_back(dot * scale);
        vals.push_back(sv[h].data() + t * D);
      }
      for (int j = 0; j <= i; ++j) {
        const float* k = k_rot.data() + ((size_t)j * Hkv + h) * D;
        double dot = 0;
        for (int d = 0; d < D; ++d) dot += (double)q[d] * k[d];
        s.push_back(dot * scale);
        vals.push_back(v.data() + ((size_t)j * Hkv + h) * D);
      }
      const double mx = *std::max_element(s.begin(), s.end());
      double sum = 0;
      for (double& x : s) sum += (x = std::exp(x - mx));
      double* o = out.data() + ((size_t)i * Hq + qh) * D;
      for (size_t t = 0; t < s.size(); ++t)
        for (int d = 0; d < D; ++d) o[d] += s[t] / sum * vals[t][d];
    }
  return out;
}

inline double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs((double)a[i] - b[i]));
  return m;
}

// What the reference says one (layer, KV head) holds after T tokens: given their exact rows (rotated keys k, values
// v, [T][D]), writes the rows attention should see (dequantized by the method's definition) into sk / sv.
using HeldFn = std::function<void(const std::vector<float>& k, const std::vector<float>& v, int64_t T,
                                  std::vector<float>& sk, std::vector<float>& sv)>;

// Drives `cache` through calls of the given sizes (the first `prefill_calls` as Prefill, the rest as Decode) on
// every layer, comparing each call's outputs with reference_attention over the reference's held rows. Returns the
// worst absolute difference over all calls.
inline double drive_and_compare(KvCache& cache, const TinyModel& tm, const std::vector<int>& calls,
                                const HeldFn& held, uint64_t seed = 1, int prefill_calls = 1) {
  const KvGeometry g = tm.geometry();
  const int Hkv = g.n_kv_heads, D = g.head_dim;
  std::mt19937 rng((uint32_t)seed);
  // Exact history per (layer, head): rotated keys and values.
  std::vector<std::vector<float>> hk((size_t)g.n_layers * Hkv), hv(hk.size());
  double worst = 0;
  int64_t pos = 0;
  for (size_t c = 0; c < calls.size(); ++c) {
    const int n = calls[c];
    for (int layer = 0; layer < g.n_layers; ++layer) {
      Batch b = random_batch(g, pos, n, rng);
      run(cache, layer, (int)c < prefill_calls ? Phase::Prefill : Phase::Decode, b);
      const std::vector<float> q_rot = rotated(*tm.rope, b.q, n, g.n_q_heads, D, b.pos);
      const std::vector<float> k_rot = rotated(*tm.rope, b.k, n, Hkv, D, b.pos);
      std::vector<std::vector<float>> sk(Hkv), sv(Hkv);
      for (int h = 0; h < Hkv; ++h) {
        const auto& K = hk[(size_t)layer * Hkv + h];
        held(K, hv[(size_t)layer * Hkv + h], (int64_t)K.size() / D, sk[h], sv[h]);
      }
      worst = std::max(worst, max_abs_diff(b.out, reference_attention(g, q_rot, n, sk, sv, k_rot, b.v)));
      for (int h = 0; h < Hkv; ++h)
        for (int i = 0; i < n; ++i) {
          auto& K = hk[(size_t)layer * Hkv + h];
          auto& V = hv[(size_t)layer * Hkv + h];
          K.insert(K.end(), k_rot.begin() + ((size_t)i * Hkv + h) * D, k_rot.begin() + ((size_t)i * Hkv + h + 1) * D);
          V.insert(V.end(), b.v.begin() + ((size_t)i * Hkv + h) * D, b.v.begin() + ((size_t)i * Hkv + h + 1) * D);
        }
    }
    pos += n;
  }
  return worst;
}

}  // namespace bp::rt::kv::testing
