#include "harness/runtime/dense_kv_cache.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/common/softmax_math.h"
#include "kernels/cpu/attention_f32.h"

namespace bp::rt {

namespace {
constexpr int64_t kBlock = 256;  // tokens converted from F16 at a time (stays in L1/L2; no whole-cache F32 copy)

inline uint16_t to_half(float f) {
  _Float16 h = (_Float16)f;
  uint16_t b;
  std::memcpy(&b, &h, 2);
  return b;
}
inline float from_half(uint16_t b) {
  _Float16 h;
  std::memcpy(&h, &b, 2);
  return (float)h;
}
}  // namespace

DenseKvCache::DenseKvCache(const KvGeometry& g, DenseKvType type)
    : KvCacheBase(g), type_(type), len_(g.n_layers, 0), k_((size_t)g.n_layers * g.n_kv_heads),
      v_((size_t)g.n_layers * g.n_kv_heads) {}

KvBytes DenseKvCache::bytes() const {
  KvBytes b;
  for (const auto& x : k_) b.payload += x.size();
  for (const auto& x : v_) b.payload += x.size();
  return b;
}

void DenseKvCache::reset() {
  std::fill(len_.begin(), len_.end(), 0);
  for (auto& x : k_) x.clear();
  for (auto& x : v_) x.clear();
}

const float* DenseKvCache::rows_f32(const std::vector<uint8_t>& buf, int64_t t0, int64_t t1,
                                    std::vector<float>& tmp) const {
  const int D = g_.head_dim;
  if (type_ == DenseKvType::F32) return reinterpret_cast<const float*>(buf.data()) + t0 * D;
  tmp.resize((size_t)(t1 - t0) * D);
  const uint16_t* src = reinterpret_cast<const uint16_t*>(buf.data()) + t0 * D;
  for (size_t i = 0; i < tmp.size(); ++i) tmp[i] = from_half(src[i]);
  return tmp.data();
}

void DenseKvCache::attend_stored(int layer, int kv_head, const float* q, int m, float* max, float* sum,
                                 float* acc) const {
  const int D = g_.head_dim;
  const int64_t T = len_[layer];
  const auto& kb = kbuf(layer, kv_head);
  const auto& vb = vbuf(layer, kv_head);
  std::vector<float> kt, vt, bm(m), bs(m), ba((size_t)m * D);
  for (int i = 0; i < m; ++i) {
    max[i] = -INFINITY;
    sum[i] = 0.0f;
  }
  std::fill(acc, acc + (size_t)m * D, 0.0f);
  const int64_t step = type_ == DenseKvType::F32 ? T : kBlock;
  for (int64_t t0 = 0; t0 < T; t0 += step) {
    const int64_t t1 = std::min(T, t0 + step);
    kern::AttnF32Args a;
    a.q = q;
    a.q_stride = D;
    a.m = m;
    a.k = rows_f32(kb, t0, t1, kt);
    a.v = rows_f32(vb, t0, t1, vt);
    a.kv_stride = D;
    a.T = (int)(t1 - t0);
    a.head_dim = D;
    a.causal_offset = a.T;  // every stored token is visible
    a.out_max = bm.data();
    a.out_sum = bs.data();
    a.out_acc = ba.data();
    kern::attention_partial_f32(a);
    for (int i = 0; i < m; ++i)
      kern::merge_partial_row(max[i], sum[i], acc + (size_t)i * D, bm[i], bs[i], ba.data() + (size_t)i * D, D);
  }
}

void DenseKvCache::score_stored(int layer, int kv_head, const float* q, int m, float* scores) const {
  const int D = g_.head_dim;
  const int64_t T = len_[layer];
  std::vector<float> kt;
  const float* k = rows_f32(kbuf(layer, kv_head), 0, T, kt);
  for (int i = 0; i < m; ++i)
    for (int64_t t = 0; t < T; ++t) {
      float dot = 0.0f;
      for (int d = 0; d < D; ++d) dot += q[(size_t)i * D + d] * k[t * D + d];
      scores[(size_t)i * T + t] = dot;
    }
}

void DenseKvCache::store(const StoreBatch& s) {
  const int D = g_.head_dim, Hkv = g_.n_kv_heads;
  for (int h = 0; h < Hkv; ++h) {
    auto& kb = kbuf(s.layer, h);
    auto& vb = vbuf(s.layer, h);
    const size_t old = kb.size();
    kb.resize(old + (size_t)s.n * D * elem());
    vb.resize(old + (size_t)s.n * D * elem());
    for (int i = 0; i < s.n; ++i) {
      const float* k = s.k + ((size_t)i * Hkv + h) * D;
      const float* v = s.v + ((size_t)i * Hkv + h) * D;
      if (type_ == DenseKvType::F32) {
        std::memcpy(kb.data() + old + (size_t)i * D * 4, k, D * 4);
        std::memcpy(vb.data() + old + (size_t)i * D * 4, v, D * 4);
      } else {
        uint16_t* kd = reinterpret_cast<uint16_t*>(kb.data() + old) + (size_t)i * D;
        uint16_t* vd = reinterpret_cast<uint16_t*>(vb.data() + old) + (size_t)i * D;
        for (int d = 0; d < D; ++d) {
          kd[d] = to_half(k[d]);
          vd[d] = to_half(v[d]);
        }
      }
    }
  }
  len_[s.layer] += s.n;
}

}  // namespace bp::rt
