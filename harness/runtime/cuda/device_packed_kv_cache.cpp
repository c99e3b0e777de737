#include "harness/runtime/cuda/device_packed_kv_cache.h"

#include <algorithm>

#include "kernels/cuda/kv_cuda.h"
#include "kernels/cuda/model_ops.h"

namespace bp::rt::cuda {

namespace kc = bp::kern::cuda;

DevicePackedKvCache::DevicePackedKvCache(const DeviceGeometry& g, int bits, int group, bool symmetric)
    : DeviceKvCacheBase(g),
      klay_(kern::make_kv_layout(kern::KvRole::Keys, g.head_dim, bits, kern::KvAxis::PerToken, group, symmetric)),
      vlay_(kern::make_kv_layout(kern::KvRole::Values, g.head_dim, bits, kern::KvAxis::PerToken, group, symmetric)),
      len_(g.n_layers, 0) {
  sides_.reserve((size_t)g.n_layers * g.n_kv_heads * 2);
  for (int i = 0; i < g.n_layers * g.n_kv_heads; ++i) {
    sides_.emplace_back(klay_);  // validates the layouts
    sides_.emplace_back(vlay_);
  }
}

KvBytes DevicePackedKvCache::bytes() const {
  KvBytes b;
  for (int l = 0; l < g_.n_layers; ++l)
    for (const kern::KvLayout* L : {&klay_, &vlay_}) {
      const kern::KvStoreBytes s = kern::kv_store_bytes(*L, len_[l]);
      b.payload += s.codes * g_.n_kv_heads;
      b.scales += s.scales * g_.n_kv_heads;
      b.zeros += s.mins * g_.n_kv_heads;
    }
  return b;
}

size_t DevicePackedKvCache::bytes_allocated() const {
  size_t b = 0;
  for (const DevicePackedStore& s : sides_) b += s.allocated();
  return b;
}

void DevicePackedKvCache::reset() { std::fill(len_.begin(), len_.end(), 0); }

void DevicePackedKvCache::attend_stored(int layer, int kv_head, const float* q, int64_t q_stride, int m, float* max,
                                        float* sum, float* acc, void* stream) const {
  kern::PackedAttnArgs a;
  a.q = q;
  a.q_stride = q_stride;
  a.m = m;
  a.k = side(layer, kv_head, true).view(len_[layer]);
  a.v = side(layer, kv_head, false).view(len_[layer]);
  a.t0 = 0;
  a.t1 = len_[layer];
  a.out_max = max;
  a.out_sum = sum;
  a.out_acc = acc;
  kc::stream_sync(stream);  // the packed kernels run on the legacy default stream
  kc::packed_attention(a);
}

void DevicePackedKvCache::store(int layer, const float* k, const float* v, int n, void* stream) {
  const int64_t old = len_[layer], total = old + n;
  const int D = g_.head_dim, Hkv = g_.n_kv_heads;
  for (int h = 0; h < Hkv; ++h) {
    DevicePackedStore& ks = side(layer, h, true);
    DevicePackedStore& vs = side(layer, h, false);
    ks.reserve(total, stream);
    vs.reserve(total, stream);
    kc::stream_sync(stream);
    kc::kv_quantize(ks.mut(total), k + (size_t)h * D, (int64_t)Hkv * D, old, n);
    kc::kv_quantize(vs.mut(total), v + (size_t)h * D, (int64_t)Hkv * D, old, n);
  }
  len_[layer] = total;
}

}  // namespace bp::rt::cuda
