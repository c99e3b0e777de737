#include "methods/streamingllm/streaming_device_cache.h"

#if defined(BENCH_HAVE_CUDA)
#include <algorithm>

#include "kernels/common/buffer_capacity.h"
#include "kernels/cuda/kv_cuda.h"
#include "kernels/cuda/model_ops.h"

namespace bp::methods::streamingllm {

namespace kc = bp::kern::cuda;

DeviceStreamingCache::DeviceStreamingCache(const rt::DeviceGeometry& g, const Config& c)
    : DeviceKvCacheBase(g), cfg_(c), len_(g.n_layers, 0), head_(g.n_layers, 0), slots_((size_t)g.n_layers * g.n_kv_heads) {}

rt::KvBytes DeviceStreamingCache::bytes() const {
  rt::KvBytes b;
  for (int l = 0; l < g_.n_layers; ++l) b.payload += (size_t)len_[l] * g_.n_kv_heads * g_.head_dim * 2 * 2;
  return b;
}

size_t DeviceStreamingCache::bytes_allocated() const {
  size_t b = 0;
  for (const Slots& s : slots_) b += s.k.size() + s.v.size();
  return b;
}

void DeviceStreamingCache::reset() {
  std::fill(len_.begin(), len_.end(), 0);
  std::fill(head_.begin(), head_.end(), 0);
  arrived_ = evicted_ = 0;
}

nlohmann::json DeviceStreamingCache::stats() const { return streaming_stats(cfg_, evicted_, len_[0], arrived_); }

// New queries and keys at in-cache positions T..T+n-1; the held slots' positions for attend_stored.
const int32_t* DeviceStreamingCache::prepare(const rt::DeviceAttnBatch& b) {
  const int64_t T = len_[b.layer];
  host_pos_.resize((size_t)(T + b.n));
  for (int i = 0; i < b.n; ++i) host_pos_[(size_t)(T + i)] = (int32_t)(T + i);
  for (const SlotRun& r : held_runs(T, cfg_.sinks, head_[b.layer]))
    for (int64_t j = 0; j < r.len; ++j) host_pos_[(size_t)(r.slot + j)] = (int32_t)(r.pos + j);
  const size_t bytes = host_pos_.size() * sizeof(int32_t);
  if (slot_pos_.size() < bytes) slot_pos_ = kc::DeviceBuffer(std::max(bytes, slot_pos_.size() * 2));
  kc::memcpy_h2d(slot_pos_.get(), host_pos_.data(), bytes, b.stream);
  kc::stream_sync(b.stream);  // host_pos_ is rewritten by the next layer
  // slot_pos_[T + i] = T + i: the new tokens' positions follow the held slots'.
  return slot_pos_.as<int32_t>() + T;
}

void DeviceStreamingCache::attend_stored(int layer, int kv_head, const float* q, int64_t q_stride, int m,
                                         float* max, float* sum, float* acc, void* stream) const {
  const int64_t T = len_[layer];
  const int D = g_.head_dim;
  const size_t bytes = (size_t)T * D * sizeof(float);
  if (kf_.size() < bytes) {
    kf_ = kc::DeviceBuffer(bytes);
    vf_ = kc::DeviceBuffer(bytes);
  }
  const Slots& s = slots(layer, kv_head);
  kc::stream_sync(stream);  // the conversions and the F32 kernel run on the legacy default stream
  kc::f16_to_f32_array(s.k.as<uint16_t>(), kf_.as<float>(), (size_t)T * D);
  kc::f16_to_f32_array(s.v.as<uint16_t>(), vf_.as<float>(), (size_t)T * D);
  kc::rope_rows(kf_.as<float>(), (int)T, 1, D, slot_pos_.as<int32_t>(), g_.inv_freq, 1.0f, nullptr);
  kern::AttnF32Args a;
  a.q = q;
  a.q_stride = q_stride;
  a.m = m;
  a.k = kf_.as<float>();
  a.v = vf_.as<float>();
  a.kv_stride = D;
  a.T = (int)T;
  a.head_dim = D;
  a.causal_offset = T;  // no mask: every held token precedes every query
  a.out_max = max;
  a.out_sum = sum;
  a.out_acc = acc;
  kc::attention_partial_f32(a);
}

void DeviceStreamingCache::reserve(Slots& s, int64_t rows, int64_t keep, void* stream) {
  if (rows <= s.cap) return;
  const int64_t limit = cfg_.sinks + cfg_.window;
  // Bounded growth (kernels/common/buffer_capacity.h), never beyond sinks + window.
  const int64_t cap = std::min(limit, (int64_t)kern::grown_capacity((size_t)s.cap, (size_t)rows, 16));
  const size_t row = (size_t)g_.head_dim * 2;
  kc::DeviceBuffer k(cap * row), v(cap * row);
  if (keep > 0) {
    kc::memcpy_d2d(k.get(), s.k.get(), keep * row, stream);
    kc::memcpy_d2d(v.get(), s.v.get(), keep * row, stream);
  }
  kc::stream_sync(stream);  // the old buffers are freed below
  s.k = std::move(k);
  s.v = std::move(v);
  s.cap = cap;
}

void DeviceStreamingCache::write(int layer, const float* k, const float* v, int64_t stride, int64_t slot, int64_t n,
                                 void* stream) {
  if (n <= 0) return;
  const int D = g_.head_dim;
  for (int h = 0; h < g_.n_kv_heads; ++h) {
    Slots& s = slots(layer, h);
    kc::to_f16_strided(k + (size_t)h * D, stride, (int)n, D, s.k.as<uint16_t>() + slot * D, D, stream);
    kc::to_f16_strided(v + (size_t)h * D, stride, (int)n, D, s.v.as<uint16_t>() + slot * D, D, stream);
  }
}

void DeviceStreamingCache::store(int layer, const float* k, const float* v, int n, void* stream) {
  const int64_t T0 = len_[layer], S = cfg_.sinks, W = cfg_.window;
  const int64_t stride = (int64_t)g_.n_kv_heads * g_.head_dim;
  const StorePlan p = plan_store(T0, n, S, W);
  const int64_t held = T0 + p.n_sink + p.append;
  for (int h = 0; h < g_.n_kv_heads; ++h) reserve(slots(layer, h), held, T0, stream);
  write(layer, k, v, stride, T0, p.n_sink, stream);
  write(layer, k + p.first * stride, v + p.first * stride, stride, T0 + p.n_sink, p.append, stream);
  // Overwrites of the oldest window slots: at most two runs of consecutive slots (the ring wraps once at most,
  // since a call keeps at most W of its tokens).
  int64_t& head = head_[layer];
  for (int64_t i = p.first + p.append; i < n;) {
    const int64_t run = std::min<int64_t>(n - i, W - head);
    write(layer, k + i * stride, v + i * stride, stride, S + head, run, stream);
    head = (head + run) % W;
    i += run;
  }
  len_[layer] = held;
  if (layer == 0) {
    arrived_ += n;
    evicted_ += p.evicted;
  }
}

}  // namespace bp::methods::streamingllm
#endif  // BENCH_HAVE_CUDA
