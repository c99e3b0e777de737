#include "harness/runtime/cuda/device_kv_cache_base.h"

#include <cmath>
#include <stdexcept>

#include "kernels/cuda/model_ops.h"

namespace bp::rt::cuda {

namespace kc = bp::kern::cuda;

DeviceKvCacheBase::DeviceKvCacheBase(const DeviceGeometry& g) : g_(g) {
  if (g.n_layers <= 0 || g.n_q_heads <= 0 || g.n_kv_heads <= 0 || g.n_q_heads % g.n_kv_heads || !g.inv_freq)
    throw std::invalid_argument("DeviceKvCacheBase: invalid geometry");
}

void DeviceKvCacheBase::ensure_scratch(int n) {
  if (n <= cap_) return;
  cap_ = n;
  const size_t D = g_.head_dim;
  st_max_ = kc::DeviceBuffer(n * sizeof(float));
  st_sum_ = kc::DeviceBuffer(n * sizeof(float));
  st_acc_ = kc::DeviceBuffer(n * D * sizeof(float));
  nw_max_ = kc::DeviceBuffer(n * sizeof(float));
  nw_sum_ = kc::DeviceBuffer(n * sizeof(float));
  nw_acc_ = kc::DeviceBuffer(n * D * sizeof(float));
  // out_index[h][i] = i·Hq + h: the output row of query head h of new token i.
  const int Hq = g_.n_q_heads;
  std::vector<int32_t> idx((size_t)Hq * n);
  for (int h = 0; h < Hq; ++h)
    for (int i = 0; i < n; ++i) idx[(size_t)h * n + i] = i * Hq + h;
  out_index_ = kc::DeviceBuffer(idx.size() * sizeof(int32_t));
  out_index_.upload(idx.data(), idx.size() * sizeof(int32_t));
}

void DeviceKvCacheBase::attend(DeviceAttnBatch& b) {
  const int n = b.n, Hq = g_.n_q_heads, Hkv = g_.n_kv_heads, D = g_.head_dim, G = g_.group();
  ensure_scratch(n);
  kc::rope_rows(b.q, n, Hq, D, b.pos, g_.inv_freq, 1.0f / std::sqrt((float)D), b.stream);
  kc::rope_rows(b.k, n, Hkv, D, b.pos, g_.inv_freq, 1.0f, b.stream);
  for (int h = 0; h < Hq; ++h) {
    const int kvh = h / G;
    const float* q = b.q + (size_t)h * D;
    if (stored_len(b.layer, kvh) > 0) {
      attend_stored(b.layer, kvh, q, (int64_t)Hq * D, n, st_max_.as<float>(), st_sum_.as<float>(),
                    st_acc_.as<float>(), b.stream);
    } else {
      kc::zero(st_sum_.get(), n * sizeof(float), b.stream);  // an empty partial: sum 0 (max and acc unused)
      kc::zero(st_acc_.get(), (size_t)n * D * sizeof(float), b.stream);
    }
    kern::AttnF32Args a;
    a.q = q;
    a.q_stride = (int64_t)Hq * D;
    a.m = n;
    a.k = b.k + (size_t)kvh * D;
    a.v = b.v + (size_t)kvh * D;
    a.kv_stride = (int64_t)Hkv * D;
    a.T = n;
    a.head_dim = D;
    a.causal_offset = 0;
    a.out_max = nw_max_.as<float>();
    a.out_sum = nw_sum_.as<float>();
    a.out_acc = nw_acc_.as<float>();
    // The kernels engineer's F32 flash kernel runs on the legacy default stream, which orders with our blocking
    // stream in both directions.
    kc::stream_sync(b.stream);
    kc::attention_partial_f32(a);
    kc::merge_normalize(n, D, st_max_.as<float>(), st_sum_.as<float>(), st_acc_.as<float>(), nw_max_.as<float>(),
                        nw_sum_.as<float>(), nw_acc_.as<float>(), out_index_.as<int32_t>() + (size_t)h * n, b.out,
                        b.stream);
  }
  store(b.layer, b.k, b.v, n, b.stream);
}

}  // namespace bp::rt::cuda
