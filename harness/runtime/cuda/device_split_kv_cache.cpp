#include "harness/runtime/cuda/device_split_kv_cache.h"

#include <algorithm>
#include <stdexcept>

#include "kernels/cuda/kv_cuda.h"
#include "kernels/cuda/model_ops.h"

namespace bp::rt::cuda {

namespace kc = bp::kern::cuda;

DeviceSplitKvCache::DeviceSplitKvCache(const DeviceGeometry& g, const kern::KvLayout& key_layout,
                                       const kern::KvLayout& value_layout)
    : DeviceKvCacheBase(g),
      klay_(key_layout),
      vlay_(value_layout),
      total_(g.n_layers, 0),
      kpacked_(g.n_layers, 0),
      vpacked_(g.n_layers, 0) {
  if (key_layout.role != kern::KvRole::Keys || value_layout.role != kern::KvRole::Values ||
      key_layout.head_dim != g.head_dim || value_layout.head_dim != g.head_dim)
    throw std::invalid_argument("DeviceSplitKvCache: needs a key and a value layout of the model's head_dim");
  for (const kern::KvLayout* L : {&klay_, &vlay_})
    if (L->axis == kern::KvAxis::PerChannel && L->group == 0)
      throw std::invalid_argument("DeviceSplitKvCache: a per-channel side needs a token group");
  sides_.reserve((size_t)g.n_layers * g.n_kv_heads * 2);
  for (int i = 0; i < g.n_layers * g.n_kv_heads; ++i) {
    sides_.push_back(Side{DevicePackedStore(klay_), DeviceHalfRows(g.head_dim)});
    sides_.push_back(Side{DevicePackedStore(vlay_), DeviceHalfRows(g.head_dim)});
  }
}

KvBytes DeviceSplitKvCache::bytes() const {
  KvBytes b;
  const size_t row = (size_t)g_.head_dim * 2;
  for (int l = 0; l < g_.n_layers; ++l) {
    const kern::KvStoreBytes ks = kern::kv_store_bytes(klay_, kpacked_[l]), vs = kern::kv_store_bytes(vlay_, vpacked_[l]);
    b.payload += (ks.codes + vs.codes) * g_.n_kv_heads;
    b.scales += (ks.scales + vs.scales) * g_.n_kv_heads;
    b.zeros += (ks.mins + vs.mins) * g_.n_kv_heads;
    b.window += (size_t)((total_[l] - kpacked_[l]) + (total_[l] - vpacked_[l])) * row * g_.n_kv_heads;
  }
  return b;
}

size_t DeviceSplitKvCache::bytes_allocated() const {
  size_t b = 0;
  for (const Side& s : sides_) b += s.packed.allocated() + s.fp16.allocated();
  return b;
}

void DeviceSplitKvCache::reset() {
  std::fill(total_.begin(), total_.end(), 0);
  std::fill(kpacked_.begin(), kpacked_.end(), 0);
  std::fill(vpacked_.begin(), vpacked_.end(), 0);
  for (Side& s : sides_) s.fp16.clear();
}

nlohmann::json DeviceSplitKvCache::stats() const {
  int64_t kp = 0, kf = 0, vp = 0, vf = 0;
  for (int l = 0; l < g_.n_layers; ++l) {
    kp += kpacked_[l] * g_.n_kv_heads;
    kf += (total_[l] - kpacked_[l]) * g_.n_kv_heads;
    vp += vpacked_[l] * g_.n_kv_heads;
    vf += (total_[l] - vpacked_[l]) * g_.n_kv_heads;
  }
  return {{"keys_packed_tokens", kp}, {"keys_fp16_tokens", kf}, {"values_packed_tokens", vp},
          {"values_fp16_tokens", vf}};
}

kern::SplitRowsRef DeviceSplitKvCache::rows(const Side& s, int64_t packed) const {
  kern::SplitRowsRef r;
  r.packed = s.packed.view(packed);
  r.f16 = s.fp16.size() > 0 ? s.fp16.rows() : nullptr;
  r.f16_stride = g_.head_dim;
  r.f16_rows = s.fp16.size();
  return r;
}

void DeviceSplitKvCache::attend_stored(int layer, int kv_head, const float* q, int64_t q_stride, int m, float* max,
                                       float* sum, float* acc, void* stream) const {
  kc::stream_sync(stream);  // the split kernel runs on the legacy default stream
  kc::split_attention(q, q_stride, m, rows(side(layer, kv_head, true), kpacked_[layer]),
                      rows(side(layer, kv_head, false), vpacked_[layer]), max, sum, acc);
}

void DeviceSplitKvCache::flush(Side& s, int64_t packed, int64_t n, void* stream) {
  if (n <= 0) return;
  const int D = g_.head_dim;
  const size_t need = (size_t)n * D * sizeof(float);
  if (scratch_.size() < need) scratch_ = kc::DeviceBuffer(std::max(need, scratch_.size() * 2));
  s.packed.reserve(packed + n, stream);
  kc::stream_sync(stream);  // the conversion and the quantizer run on the legacy default stream
  kc::f16_to_f32_array(s.fp16.rows(), scratch_.as<float>(), (size_t)n * D);
  kc::kv_quantize(s.packed.mut(packed + n), scratch_.as<float>(), D, packed, (int)n);
  s.fp16.erase_front(n, stream);
}

void DeviceSplitKvCache::store(int layer, const float* k, const float* v, int n, void* stream) {
  const int D = g_.head_dim, Hkv = g_.n_kv_heads;
  total_[layer] += n;
  const Flush f = settle(total_[layer] - kpacked_[layer], total_[layer] - vpacked_[layer]);
  if (f.keys < 0 || f.values < 0 || f.keys > total_[layer] - kpacked_[layer] ||
      f.values > total_[layer] - vpacked_[layer])
    throw std::logic_error("DeviceSplitKvCache: settle() asked to flush more rows than are FP16");
  for (const auto& [L, cnt] : {std::pair{&klay_, f.keys}, std::pair{&vlay_, f.values}})
    if (L->axis == kern::KvAxis::PerChannel && cnt % L->group != 0)
      throw std::logic_error("DeviceSplitKvCache: per-channel groups are quantized whole");
  for (int h = 0; h < Hkv; ++h) {
    Side& ks = side(layer, h, true);
    Side& vs = side(layer, h, false);
    ks.fp16.append(k + (size_t)h * D, (int64_t)Hkv * D, n, stream);
    vs.fp16.append(v + (size_t)h * D, (int64_t)Hkv * D, n, stream);
    flush(ks, kpacked_[layer], f.keys, stream);
    flush(vs, vpacked_[layer], f.values, stream);
  }
  kpacked_[layer] += f.keys;
  vpacked_[layer] += f.values;
}

}  // namespace bp::rt::cuda
