#include "harness/runtime/cuda/device_packed_kv_cache.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "kernels/cuda/kv_cuda.h"
#include "kernels/cuda/model_ops.h"

namespace bp::rt::cuda {

namespace kc = bp::kern::cuda;

DevicePackedKvCache::DevicePackedKvCache(const DeviceGeometry& g, int bits, int group, bool symmetric)
    : DeviceKvCacheBase(g), len_(g.n_layers, 0), sides_((size_t)g.n_layers * g.n_kv_heads * 2) {
  for (kern::KvLayout* L : {&klay_, &vlay_}) {
    L->head_dim = g.head_dim;
    L->bits = bits;
    L->axis = kern::KvAxis::PerToken;
    L->group = group;
    L->symmetric = symmetric;
  }
  klay_.role = kern::KvRole::Keys;
  vlay_.role = kern::KvRole::Values;
  for (const kern::KvLayout* L : {&klay_, &vlay_})
    if (const char* e = kern::kv_layout_error(*L)) throw std::invalid_argument(std::string("KV layout: ") + e);
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

void DevicePackedKvCache::reset() { std::fill(len_.begin(), len_.end(), 0); }

kern::PackedKvMut DevicePackedKvCache::view(const Side& s, const kern::KvLayout& L, int64_t tokens) const {
  kern::PackedKvMut v;
  v.layout = L;
  v.tokens = tokens;
  v.codes = s.codes.as<uint8_t>();
  v.scales = s.scales.as<uint16_t>();
  v.mins = L.symmetric ? nullptr : s.mins.as<uint16_t>();
  return v;
}

// Grows a side to hold `need` tokens. Both layouts keep every existing byte at its offset when tokens are added
// (key tiles and value rows are appended), so growing is a copy of the old arrays into larger ones.
void DevicePackedKvCache::grow(Side& s, const kern::KvLayout& L, int64_t need, void* stream) {
  if (need <= s.cap) return;
  const int64_t cap = std::max<int64_t>(need, std::max<int64_t>(256, s.cap * 2));
  const kern::KvStoreBytes nb = kern::kv_store_bytes(L, cap), ob = kern::kv_store_bytes(L, s.cap);
  kc::DeviceBuffer codes(nb.codes), scales(nb.scales), mins(std::max<size_t>(nb.mins, 1));
  kc::zero(codes.get(), nb.codes, stream);
  if (s.cap > 0) {
    kc::memcpy_d2d(codes.get(), s.codes.get(), ob.codes, stream);
    kc::memcpy_d2d(scales.get(), s.scales.get(), ob.scales, stream);
    if (ob.mins) kc::memcpy_d2d(mins.get(), s.mins.get(), ob.mins, stream);
    kc::stream_sync(stream);
  }
  s.codes = std::move(codes);
  s.scales = std::move(scales);
  s.mins = std::move(mins);
  s.cap = cap;
}

void DevicePackedKvCache::attend_stored(int layer, int kv_head, const float* q, int64_t q_stride, int m, float* max,
                                        float* sum, float* acc, void* stream) const {
  kern::PackedAttnArgs a;
  a.q = q;
  a.q_stride = q_stride;
  a.m = m;
  a.k = view(side(layer, kv_head, true), klay_, len_[layer]).view();
  a.v = view(side(layer, kv_head, false), vlay_, len_[layer]).view();
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
    Side& ks = side(layer, h, true);
    Side& vs = side(layer, h, false);
    grow(ks, klay_, total, stream);
    grow(vs, vlay_, total, stream);
    kc::stream_sync(stream);
    kc::kv_quantize(view(ks, klay_, total), k + (size_t)h * D, (int64_t)Hkv * D, old, n);
    kc::kv_quantize(view(vs, vlay_, total), v + (size_t)h * D, (int64_t)Hkv * D, old, n);
  }
  len_[layer] = total;
}

}  // namespace bp::rt::cuda
