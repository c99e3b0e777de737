#include "harness/runtime/cuda/device_kv_cache_base.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels/cuda/model_ops.h"

namespace bp::rt::cuda {

namespace kc = bp::kern::cuda;

DeviceKvCacheBase::DeviceKvCacheBase(const DeviceGeometry& g) : g_(g) {
  if (g.n_layers <= 0 || g.n_q_heads <= 0 || g.n_kv_heads <= 0 || g.n_q_heads % g.n_kv_heads || !g.inv_freq)
    throw std::invalid_argument("DeviceKvCacheBase: invalid geometry");
  observed_.resize((size_t)g.n_kv_heads);
}

void DeviceKvCacheBase::observe_stored(int, int, const float*, int64_t, const int32_t*, int, const float*,
                                       const float*, float*, void*) const {
  throw std::logic_error("this device cache asked for observations but cannot observe its stored tokens");
}

// Query head h's m observed rows (obs_rows_): final statistics of every row, then probabilities over the stored and
// the new tokens added to the KV head's column sums (obs_ row kv_head, stride obs_stride).
void DeviceKvCacheBase::observe_head(const DeviceAttnBatch& b, int h, int m, int64_t obs_stride) {
  const int n = b.n, Hq = g_.n_q_heads, Hkv = g_.n_kv_heads, D = g_.head_dim, kvh = h / g_.group();
  const int64_t qs = (int64_t)Hq * D;
  const float* q = b.q + (size_t)h * D;
  const int32_t* rows = obs_rows_.as<int32_t>();
  kc::stream_sync(b.stream);  // the observation kernels run on the legacy default stream
  kc::merge_row_stats(n, st_max_.as<float>(), st_sum_.as<float>(), nw_max_.as<float>(), nw_sum_.as<float>(),
                      row_max_.as<float>(), row_sum_.as<float>());
  float* col = obs_.as<float>() + (size_t)kvh * obs_stride;
  const int64_t T = stored_len(b.layer, kvh);
  if (T > 0)
    observe_stored(b.layer, kvh, q, qs, rows, m, row_max_.as<float>(), row_sum_.as<float>(), col, b.stream);
  // New tokens: query row r sees new token j <= r; the keys are the rotated ones.
  kc::column_probs_f32(q, qs, rows, m, row_max_.as<float>(), row_sum_.as<float>(), b.k + (size_t)kvh * D,
                       (int64_t)Hkv * D, n, D, 0, col + T);
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
  if (!keys_stored_rotated()) pre_rope_k_ = kc::DeviceBuffer((size_t)n * g_.n_kv_heads * D * sizeof(float));
  row_max_ = kc::DeviceBuffer(n * sizeof(float));
  row_sum_ = kc::DeviceBuffer(n * sizeof(float));
  // out_index[h][i] = i·Hq + h: the output row of query head h of new token i (row h of the table has cap_ entries,
  // whatever the call's n: a call reads the first n of row h).
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
  const int32_t* pos = prepare(b);
  const std::vector<int32_t> rows = observe_rows(b);
  for (int32_t r : rows)
    if (r < 0 || r >= n) throw std::logic_error("DeviceKvCacheBase: an observed row outside the call");
  const bool observing = !rows.empty();
  int64_t obs_stride = 0;
  if (observing) {
    if (obs_rows_.size() < rows.size() * sizeof(int32_t)) obs_rows_ = kc::DeviceBuffer(rows.size() * sizeof(int32_t));
    obs_rows_.upload(rows.data(), rows.size() * sizeof(int32_t));
    for (int h = 0; h < Hkv; ++h) obs_stride = std::max(obs_stride, stored_len(b.layer, h) + n);
    const size_t bytes = (size_t)Hkv * obs_stride * sizeof(float);
    if (obs_.size() < bytes) obs_ = kc::DeviceBuffer(bytes);
    kc::zero(obs_.get(), bytes, b.stream);
  }
  if (!keys_stored_rotated())
    kc::memcpy_d2d(pre_rope_k_.get(), b.k, (size_t)n * Hkv * D * sizeof(float), b.stream);
  kc::rope_rows(b.q, n, Hq, D, pos, g_.inv_freq, 1.0f / std::sqrt((float)D), b.stream);
  kc::rope_rows(b.k, n, Hkv, D, pos, g_.inv_freq, 1.0f, b.stream);
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
                        nw_sum_.as<float>(), nw_acc_.as<float>(), out_index_.as<int32_t>() + (size_t)h * cap_, b.out,
                        b.stream);
    if (observing) observe_head(b, h, (int)rows.size(), obs_stride);
  }
  for (int h = 0; h < Hkv; ++h) {
    std::vector<float>& o = observed_[(size_t)h];
    if (!observing) {
      o.clear();
      continue;
    }
    o.resize((size_t)(stored_len(b.layer, h) + n));
    obs_.download(o.data(), o.size() * sizeof(float), (size_t)h * obs_stride * sizeof(float));
  }
  store(b.layer, keys_stored_rotated() ? b.k : pre_rope_k_.as<float>(), b.v, n, b.stream);
}

}  // namespace bp::rt::cuda
