#include "harness/runtime/cuda/device_evicting_kv_cache.h"

#include <algorithm>
#include <stdexcept>

#include "kernels/cuda/kv_cuda.h"
#include "kernels/cuda/model_ops.h"

namespace bp::rt::cuda {

namespace kc = bp::kern::cuda;

DeviceEvictingKvCache::DeviceEvictingKvCache(const DeviceGeometry& g)
    : DeviceKvCacheBase(g), layers_((size_t)g.n_layers), len_((size_t)g.n_layers, 0) {}

KvBytes DeviceEvictingKvCache::bytes() const {
  KvBytes b;
  for (int l = 0; l < g_.n_layers; ++l) b.payload += (size_t)len_[l] * g_.n_kv_heads * g_.head_dim * 2 * 2;
  return b;
}

void DeviceEvictingKvCache::reset() { std::fill(len_.begin(), len_.end(), 0); }

std::vector<int32_t> DeviceEvictingKvCache::kept_indices(const std::vector<uint8_t>& keep) {
  std::vector<int32_t> idx;
  for (size_t j = 0; j < keep.size(); ++j)
    if (keep[j]) idx.push_back((int32_t)j);
  return idx;
}

const int32_t* DeviceEvictingKvCache::prepare(const DeviceAttnBatch& b) {
  phase_ = b.phase;
  pos_host_ = b.pos_host;
  return b.pos;
}

const uint16_t* DeviceEvictingKvCache::rows(const Layer& L, bool keys, int h) const {
  const kc::DeviceBuffer& buf = keys ? L.k[L.cur] : L.v[L.cur];
  return buf.as<uint16_t>() + (size_t)h * L.cap * g_.head_dim;
}

void DeviceEvictingKvCache::attend_stored(int layer, int kv_head, const float* q, int64_t q_stride, int m,
                                          float* max, float* sum, float* acc, void* stream) const {
  const Layer& L = layers_[(size_t)layer];
  kc::attention_partial_f16(q, q_stride, m, rows(L, true, kv_head), rows(L, false, kv_head), g_.head_dim,
                            (int)len_[layer], g_.head_dim, max, sum, acc, stream);
}

void DeviceEvictingKvCache::observe_stored(int layer, int kv_head, const float* q, int64_t q_stride,
                                           const int32_t* obs_rows, int m, const float* row_max,
                                           const float* row_sum, float* col, void* stream) const {
  kern::SplitRowsRef k;  // FP16 rows only
  k.packed.layout.role = kern::KvRole::Keys;
  k.packed.layout.head_dim = g_.head_dim;
  k.f16 = rows(layers_[(size_t)layer], true, kv_head);
  k.f16_stride = g_.head_dim;
  k.f16_rows = len_[layer];
  kc::stream_sync(stream);  // the observation kernels run on the legacy default stream
  kc::column_probs_split(q, q_stride, obs_rows, m, row_max, row_sum, k, col);
}

// Capacity for `tokens` rows per head in both buffers; the first `keep` rows of every head of the store move.
void DeviceEvictingKvCache::reserve(Layer& L, int64_t tokens, int64_t keep, void* stream) {
  if (tokens <= L.cap) return;
  const int64_t cap = std::max<int64_t>(tokens, std::max<int64_t>(256, L.cap * 2));
  const int Hkv = g_.n_kv_heads, D = g_.head_dim;
  const size_t bytes = (size_t)Hkv * cap * D * 2;
  kc::DeviceBuffer nk(bytes), nv(bytes);
  if (keep > 0)
    for (int h = 0; h < Hkv; ++h) {
      kc::memcpy_d2d(nk.as<uint16_t>() + (size_t)h * cap * D, rows(L, true, h), (size_t)keep * D * 2, stream);
      kc::memcpy_d2d(nv.as<uint16_t>() + (size_t)h * cap * D, rows(L, false, h), (size_t)keep * D * 2, stream);
    }
  kc::stream_sync(stream);  // the old buffers are freed below
  L.k[0] = std::move(nk);
  L.v[0] = std::move(nv);
  L.k[1] = kc::DeviceBuffer(bytes);
  L.v[1] = kc::DeviceBuffer(bytes);
  L.cur = 0;
  L.cap = cap;
}

void DeviceEvictingKvCache::store(int layer, const float* k, const float* v, int n, void* stream) {
  Layer& L = layers_[(size_t)layer];
  const int Hkv = g_.n_kv_heads, D = g_.head_dim;
  const int64_t S = len_[layer];
  reserve(L, S + n, S, stream);
  for (int h = 0; h < Hkv; ++h) {
    kc::to_f16_strided(k + (size_t)h * D, (int64_t)Hkv * D, n, D,
                       L.k[L.cur].as<uint16_t>() + ((size_t)h * L.cap + S) * D, D, stream);
    kc::to_f16_strided(v + (size_t)h * D, (int64_t)Hkv * D, n, D,
                       L.v[L.cur].as<uint16_t>() + ((size_t)h * L.cap + S) * D, D, stream);
  }
  const std::vector<std::vector<int32_t>> keep = decide(layer, S, n);
  if (keep.empty()) {
    len_[layer] = S + n;
    return;
  }
  if ((int)keep.size() != Hkv) throw std::logic_error("DeviceEvictingKvCache: decide() must give every KV head");
  std::vector<int32_t> idx;
  const int64_t kept = (int64_t)keep[0].size();
  for (const std::vector<int32_t>& i : keep) {
    if ((int64_t)i.size() != kept)
      throw std::logic_error("DeviceEvictingKvCache: KV heads of a layer must keep the same number of tokens");
    for (size_t j = 0; j < i.size(); ++j)
      if (i[j] < 0 || i[j] >= S + n || (j > 0 && i[j] <= i[j - 1]))
        throw std::logic_error("DeviceEvictingKvCache: kept indices must ascend within the S + n tokens");
    idx.insert(idx.end(), i.begin(), i.end());
  }
  if (kept == S + n) {  // nothing evicted: the store is already in order
    len_[layer] = S + n;
    return;
  }
  const size_t bytes = std::max<size_t>(idx.size() * sizeof(int32_t), 4);
  if (idx_.size() < bytes) idx_ = kc::DeviceBuffer(std::max(bytes, idx_.size() * 2));
  kc::memcpy_h2d(idx_.get(), idx.data(), idx.size() * sizeof(int32_t), stream);
  const int64_t hs = L.cap * D;
  kc::gather_rows_f16(L.k[L.cur].as<uint16_t>(), hs, idx_.as<int32_t>(), Hkv, (int)kept, D,
                      L.k[1 - L.cur].as<uint16_t>(), hs, stream);
  kc::gather_rows_f16(L.v[L.cur].as<uint16_t>(), hs, idx_.as<int32_t>(), Hkv, (int)kept, D,
                      L.v[1 - L.cur].as<uint16_t>(), hs, stream);
  kc::stream_sync(stream);  // idx is a host vector about to go out of scope
  L.cur = 1 - L.cur;
  len_[layer] = kept;
}

}  // namespace bp::rt::cuda
