#include "harness/runtime/cuda/device_dense_kv_cache.h"

#include <algorithm>

#include "kernels/common/buffer_capacity.h"
#include "kernels/cuda/model_ops.h"

namespace bp::rt::cuda {

namespace kc = bp::kern::cuda;

DeviceDenseKvCache::DeviceDenseKvCache(const DeviceGeometry& g)
    : DeviceKvCacheBase(g), len_(g.n_layers, 0), slots_((size_t)g.n_layers * g.n_kv_heads) {}

KvBytes DeviceDenseKvCache::bytes() const {
  KvBytes b;
  for (int l = 0; l < g_.n_layers; ++l) b.payload += (size_t)len_[l] * g_.n_kv_heads * g_.head_dim * 2 * 2;
  return b;
}

size_t DeviceDenseKvCache::bytes_allocated() const {
  size_t b = 0;
  for (const Slot& s : slots_) b += s.k.size() + s.v.size();
  return b;
}

void DeviceDenseKvCache::reset() { std::fill(len_.begin(), len_.end(), 0); }

void DeviceDenseKvCache::attend_stored(int layer, int kv_head, const float* q, int64_t q_stride, int m, float* max,
                                       float* sum, float* acc, void* stream) const {
  const Slot& s = slot(layer, kv_head);
  kc::attention_partial_f16(q, q_stride, m, s.k.as<uint16_t>(), s.v.as<uint16_t>(), g_.head_dim, (int)len_[layer],
                            g_.head_dim, max, sum, acc, stream);
}

void DeviceDenseKvCache::store(int layer, const float* k, const float* v, int n, void* stream) {
  const int D = g_.head_dim, Hkv = g_.n_kv_heads;
  const int64_t old = len_[layer], need = old + n;
  for (int h = 0; h < Hkv; ++h) {
    Slot& s = slot(layer, h);
    if (need > s.cap) {
      // Bounded growth (kernels/common/buffer_capacity.h: 1/8, in 16-token quanta), not doubling, so the allocated
      // bytes stay close to the held ones; the old contents move on the device.
      const int64_t cap = (int64_t)kern::grown_capacity((size_t)s.cap, (size_t)need, 16);
      kc::DeviceBuffer nk(cap * D * 2), nv(cap * D * 2);
      if (old > 0) {
        kc::stream_sync(stream);
        kc::memcpy_d2d(nk.get(), s.k.get(), old * D * 2, stream);
        kc::memcpy_d2d(nv.get(), s.v.get(), old * D * 2, stream);
        kc::stream_sync(stream);
      }
      s.k = std::move(nk);
      s.v = std::move(nv);
      s.cap = cap;
    }
    kc::to_f16_strided(k + (size_t)h * D, (int64_t)Hkv * D, n, D, s.k.as<uint16_t>() + old * D, D, stream);
    kc::to_f16_strided(v + (size_t)h * D, (int64_t)Hkv * D, n, D, s.v.as<uint16_t>() + old * D, D, stream);
  }
  len_[layer] = need;
}

}  // namespace bp::rt::cuda
