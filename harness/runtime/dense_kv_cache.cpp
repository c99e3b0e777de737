#include "harness/runtime/dense_kv_cache.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/common/buffer_capacity.h"
#include "kernels/common/softmax_math.h"
#include "kernels/cpu/attention_f32.h"
#include "kernels/cpu/fp16_convert.h"
#include "kernels/cpu/packed_attention.h"

namespace bp::rt {

DenseKvCache::DenseKvCache(const KvGeometry& g, DenseKvType type)
    : KvCacheBase(g), type_(type), len_(g.n_layers, 0), k_((size_t)g.n_layers * g.n_kv_heads),
      v_((size_t)g.n_layers * g.n_kv_heads) {}

KvBytes DenseKvCache::bytes() const {
  KvBytes b;
  for (const auto& x : k_) b.payload += x.size();
  for (const auto& x : v_) b.payload += x.size();
  return b;
}

size_t DenseKvCache::bytes_allocated() const {
  size_t b = 0;
  for (const auto& x : k_) b += kern::allocated_bytes(x);
  for (const auto& x : v_) b += kern::allocated_bytes(x);
  return b;
}

void DenseKvCache::reset() {
  std::fill(len_.begin(), len_.end(), 0);
  for (auto& x : k_) kern::clear_and_release(x);
  for (auto& x : v_) kern::clear_and_release(x);
}

const float* DenseKvCache::rows_f32(const std::vector<uint8_t>& buf, int64_t t0, int64_t t1,
                                    std::vector<float>& tmp) const {
  const int D = g_.head_dim;
  if (type_ == DenseKvType::F32) return reinterpret_cast<const float*>(buf.data()) + t0 * D;
  tmp.resize((size_t)(t1 - t0) * D);
  kern::f16_to_f32_array(reinterpret_cast<const uint16_t*>(buf.data()) + t0 * D, tmp.data(), tmp.size());
  return tmp.data();
}

void DenseKvCache::attend_stored(int layer, int kv_head, const float* q, int m, float* max, float* sum,
                                 float* acc) const {
  const int D = g_.head_dim;
  const int T = (int)len_[layer];
  const auto& kb = kbuf(layer, kv_head);
  const auto& vb = vbuf(layer, kv_head);
  if (type_ == DenseKvType::F16) {
    // Reads the FP16 rows directly (no F32 copy of the cache).
    kern::AttnF16Args a;
    a.q = q;
    a.q_stride = D;
    a.m = m;
    a.k = reinterpret_cast<const uint16_t*>(kb.data());
    a.v = reinterpret_cast<const uint16_t*>(vb.data());
    a.kv_stride = D;
    a.T = T;
    a.head_dim = D;
    a.out_max = max;
    a.out_sum = sum;
    a.out_acc = acc;
    kern::attention_partial_f16(a);
    return;
  }
  kern::AttnF32Args a;
  a.q = q;
  a.q_stride = D;
  a.m = m;
  a.k = reinterpret_cast<const float*>(kb.data());
  a.v = reinterpret_cast<const float*>(vb.data());
  a.kv_stride = D;
  a.T = T;
  a.head_dim = D;
  a.causal_offset = T;  // every stored token is visible
  a.out_max = max;
  a.out_sum = sum;
  a.out_acc = acc;
  kern::attention_partial_f32(a);
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
    // Bounded growth (kernels/common/buffer_capacity.h) in quanta of 16 tokens: no 2x vector slack.
    const size_t quantum = (size_t)16 * D * elem();
    kern::resize_bounded(kb, old + (size_t)s.n * D * elem(), quantum);
    kern::resize_bounded(vb, old + (size_t)s.n * D * elem(), quantum);
    for (int i = 0; i < s.n; ++i) {
      const float* k = s.k + ((size_t)i * Hkv + h) * D;
      const float* v = s.v + ((size_t)i * Hkv + h) * D;
      if (type_ == DenseKvType::F32) {
        std::memcpy(kb.data() + old + (size_t)i * D * 4, k, D * 4);
        std::memcpy(vb.data() + old + (size_t)i * D * 4, v, D * 4);
      } else {
        kern::f32_to_f16_array(k, reinterpret_cast<uint16_t*>(kb.data() + old) + (size_t)i * D, D);
        kern::f32_to_f16_array(v, reinterpret_cast<uint16_t*>(vb.data() + old) + (size_t)i * D, D);
      }
    }
  }
  len_[s.layer] += s.n;
}

}  // namespace bp::rt
