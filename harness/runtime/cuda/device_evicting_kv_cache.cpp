#include "harness/runtime/cuda/device_evicting_kv_cache.h"

#include <algorithm>
#include <stdexcept>

#include "kernels/common/buffer_capacity.h"
#include "kernels/cuda/kv_cuda.h"
#include "kernels/cuda/model_ops.h"

namespace bp::rt::cuda {

namespace kc = bp::kern::cuda;

namespace {
constexpr int64_t kRowQuantum = 4;  // rows per head per growth quantum (small: budgets can be a few dozen tokens)
}  // namespace

DeviceEvictingKvCache::DeviceEvictingKvCache(const DeviceGeometry& g)
    : DeviceKvCacheBase(g), layers_((size_t)g.n_layers), len_((size_t)g.n_layers, 0) {}

KvBytes DeviceEvictingKvCache::bytes() const {
  KvBytes b;
  for (int l = 0; l < g_.n_layers; ++l) b.payload += (size_t)len_[l] * g_.n_kv_heads * g_.head_dim * 2 * 2;
  return b;
}

size_t DeviceEvictingKvCache::bytes_allocated() const {
  size_t b = 0;
  for (const Layer& L : layers_) b += L.k.size() + L.v.size();
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
  const kc::DeviceBuffer& buf = keys ? L.k : L.v;
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

void DeviceEvictingKvCache::reallocate(Layer& L, int64_t cap, int64_t keep, void* stream) {
  const int Hkv = g_.n_kv_heads, D = g_.head_dim;
  const size_t bytes = (size_t)Hkv * cap * D * 2;
  kc::DeviceBuffer nk(bytes), nv(bytes);
  if (keep > 0)
    for (int h = 0; h < Hkv; ++h) {
      kc::memcpy_d2d(nk.as<uint16_t>() + (size_t)h * cap * D, rows(L, true, h), (size_t)keep * D * 2, stream);
      kc::memcpy_d2d(nv.as<uint16_t>() + (size_t)h * cap * D, rows(L, false, h), (size_t)keep * D * 2, stream);
    }
  kc::stream_sync(stream);  // the old buffers are freed below
  L.k = std::move(nk);
  L.v = std::move(nv);
  L.cap = cap;
}

void DeviceEvictingKvCache::compact(Layer& L, int64_t kept, void* stream) {
  const int Hkv = g_.n_kv_heads, D = g_.head_dim;
  const int64_t hs = L.cap * D;
  // Room for the next calls without a reallocation: 1/8 of the kept rows and a quantum (H2O evicts as many as a
  // decode step adds, so its store stays at the budget).
  const int64_t room = (int64_t)kern::round_up_elems((size_t)(kept + kept / 8 + 1), kRowQuantum);
  if (kern::should_shrink((size_t)L.cap, (size_t)kept, kRowQuantum) && room < L.cap) {
    // Far more buffer than kept rows (a prefill cut to the budget): gather straight into right-sized buffers.
    const size_t bytes = (size_t)Hkv * room * D * 2;
    kc::DeviceBuffer nk(bytes), nv(bytes);
    kc::gather_rows_f16(L.k.as<uint16_t>(), hs, idx_.as<int32_t>(), Hkv, (int)kept, D, nk.as<uint16_t>(), room * D,
                        stream);
    kc::gather_rows_f16(L.v.as<uint16_t>(), hs, idx_.as<int32_t>(), Hkv, (int)kept, D, nv.as<uint16_t>(), room * D,
                        stream);
    kc::stream_sync(stream);  // the old buffers are freed below
    L.k = std::move(nk);
    L.v = std::move(nv);
    L.cap = room;
    return;
  }
  // Same buffers: gather one side at a time into the scratch (a gather cannot run in place: rows move down while
  // other threads still read them), then copy each head's rows back.
  const size_t side_bytes = (size_t)Hkv * kept * D * 2;
  if (gather_.size() < side_bytes)
    gather_ = kc::DeviceBuffer(kern::grown_capacity(gather_.size(), side_bytes, (size_t)kRowQuantum * D * 2));
  for (kc::DeviceBuffer* side : {&L.k, &L.v}) {
    kc::gather_rows_f16(side->as<uint16_t>(), hs, idx_.as<int32_t>(), Hkv, (int)kept, D, gather_.as<uint16_t>(),
                        kept * D, stream);
    for (int h = 0; h < Hkv; ++h)
      kc::memcpy_d2d(side->as<uint16_t>() + (size_t)h * hs, gather_.as<uint16_t>() + (size_t)h * kept * D,
                     (size_t)kept * D * 2, stream);
  }
}

void DeviceEvictingKvCache::store(int layer, const float* k, const float* v, int n, void* stream) {
  Layer& L = layers_[(size_t)layer];
  const int Hkv = g_.n_kv_heads, D = g_.head_dim;
  const int64_t S = len_[layer];
  if (S + n > L.cap) reallocate(L, (int64_t)kern::grown_capacity((size_t)L.cap, (size_t)(S + n), kRowQuantum), S, stream);
  for (int h = 0; h < Hkv; ++h) {
    kc::to_f16_strided(k + (size_t)h * D, (int64_t)Hkv * D, n, D, L.k.as<uint16_t>() + ((size_t)h * L.cap + S) * D,
                       D, stream);
    kc::to_f16_strided(v + (size_t)h * D, (int64_t)Hkv * D, n, D, L.v.as<uint16_t>() + ((size_t)h * L.cap + S) * D,
                       D, stream);
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
  compact(L, kept, stream);
  kc::stream_sync(stream);  // idx is a host vector about to go out of scope
  len_[layer] = kept;
}

}  // namespace bp::rt::cuda
