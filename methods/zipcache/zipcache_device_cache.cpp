#include "methods/zipcache/zipcache_device_cache.h"

#if defined(BENCH_HAVE_CUDA)
#include <algorithm>
#include <stdexcept>

#include "kernels/cuda/kv_cuda.h"
#include "kernels/cuda/model_ops.h"

namespace bp::methods::zipcache {

namespace kc = bp::kern::cuda;

namespace {

kern::KvLayout key_layout(int D, int bits) {
  return kern::make_kv_layout(kern::KvRole::Keys, D, bits, kern::KvAxis::PerChannel, 0);
}
kern::KvLayout value_layout(int D, int bits, int group) {
  return kern::make_kv_layout(kern::KvRole::Values, D, bits, kern::KvAxis::PerToken, group, false, true);
}

// Grows a device scratch to `bytes`.
void ensure(kc::DeviceBuffer& b, size_t bytes) {
  if (b.size() < bytes) b = kc::DeviceBuffer(std::max(bytes, b.size() * 2));
}

}  // namespace

DeviceZipCache::DeviceZipCache(const rt::DeviceGeometry& g, const Config& c) : DeviceKvCacheBase(g), cfg_(c) {
  const int D = g.head_dim;
  heads_.reserve((size_t)g.n_layers * g.n_kv_heads);
  for (int i = 0; i < g.n_layers * g.n_kv_heads; ++i)
    heads_.push_back(Head{rt::cuda::DevicePackedStore(key_layout(D, c.bits_high)),
                          rt::cuda::DevicePackedStore(value_layout(D, c.bits_high, c.value_group)),
                          rt::cuda::DevicePackedStore(key_layout(D, c.bits_low)),
                          rt::cuda::DevicePackedStore(value_layout(D, c.bits_low, c.value_group)),
                          kc::DeviceBuffer((size_t)D * 2), rt::cuda::DeviceHalfRows(D), rt::cuda::DeviceHalfRows(D),
                          {}, 0, 0});
}

rt::KvBytes DeviceZipCache::bytes() const {
  rt::KvBytes b;
  for (const Head& h : heads_) {
    zipcache_add_store_bytes(b, h.k_hi.layout(), h.n_hi);
    zipcache_add_store_bytes(b, h.v_hi.layout(), h.n_hi);
    zipcache_add_store_bytes(b, h.k_lo.layout(), h.n_lo);
    zipcache_add_store_bytes(b, h.v_lo.layout(), h.n_lo);
    zipcache_add_head_bytes(b, (int64_t)h.high.size(), g_.head_dim, h.bk.bytes() + h.bv.bytes());
  }
  return b;
}

size_t DeviceZipCache::bytes_allocated() const {
  size_t b = 0;
  for (const Head& h : heads_)
    b += h.k_hi.allocated() + h.v_hi.allocated() + h.k_lo.allocated() + h.v_lo.allocated() + h.norms.size() +
         h.bk.allocated() + h.bv.allocated() + h.high.capacity();
  return b;
}

void DeviceZipCache::reset() {
  for (Head& h : heads_) {
    h.bk.clear();
    h.bv.clear();
    h.high.clear();
    h.n_hi = h.n_lo = 0;
  }
  recompressions_ = prefill_compressions_ = 0;
}

nlohmann::json DeviceZipCache::stats() const {
  int64_t high = 0, compressed = 0, buffered = 0;
  for (const Head& h : heads_) {
    high += h.n_hi;
    compressed += (int64_t)h.high.size();
    buffered += h.bk.size();
  }
  return zipcache_stats(high, compressed, buffered, recompressions_, g_.n_layers, prefill_compressions_,
                        last_probe_rows_);
}

int64_t DeviceZipCache::stored_len(int layer, int kv_head) const {
  const Head& h = head(layer, kv_head);
  return (int64_t)h.high.size() + h.bk.size();
}

const int32_t* DeviceZipCache::prepare(const rt::DeviceAttnBatch& b) {
  phase_ = b.phase;
  return b.pos;
}

std::vector<int32_t> DeviceZipCache::probes(int layer, int n) const {
  if (!cfg_.exact) return probe_rows(n, cfg_.probe_recent, cfg_.probe_random, cfg_.seed, layer);
  std::vector<int32_t> all((size_t)n);
  for (int i = 0; i < n; ++i) all[(size_t)i] = i;
  return all;
}

std::vector<int32_t> DeviceZipCache::observe_rows(const rt::DeviceAttnBatch& b) const {
  if (b.phase == rt::Phase::Prefill) return probes(b.layer, b.n);
  if (zipcache_decode_due(head(b.layer, 0).bk.size(), b.n, cfg_.streaming_gap)) return {b.n - 1};  // the current query
  return {};
}

kern::SplitRowsRef DeviceZipCache::rows(const Head& hd, bool keys) const {
  kern::SplitRowsRef r;
  r.packed = (keys ? hd.k_hi : hd.v_hi).view(hd.n_hi);
  r.packed2 = (keys ? hd.k_lo : hd.v_lo).view(hd.n_lo);
  if (!keys) r.packed.norms = r.packed2.norms = hd.norms.as<uint16_t>();
  const rt::cuda::DeviceHalfRows& buf = keys ? hd.bk : hd.bv;
  r.f16 = buf.size() > 0 ? buf.rows() : nullptr;
  r.f16_stride = g_.head_dim;
  r.f16_rows = buf.size();
  return r;
}

void DeviceZipCache::attend_stored(int layer, int kv_head, const float* q, int64_t q_stride, int m, float* max,
                                   float* sum, float* acc, void* stream) const {
  const Head& hd = head(layer, kv_head);
  kc::stream_sync(stream);  // the split kernel runs on the legacy default stream
  kc::split_attention(q, q_stride, m, rows(hd, true), rows(hd, false), max, sum, acc);
}

void DeviceZipCache::observe_stored(int layer, int kv_head, const float* q, int64_t q_stride, const int32_t* obs_rows,
                                    int m, const float* row_max, const float* row_sum, float* col,
                                    void* stream) const {
  kc::stream_sync(stream);
  kc::column_probs_split(q, q_stride, obs_rows, m, row_max, row_sum, rows(head(layer, kv_head), true), col);
}

std::vector<float> DeviceZipCache::in_time_order(const Head& hd, const std::vector<float>& obs) const {
  std::vector<float> t(obs.size());
  int64_t ih = 0, il = 0;
  const int64_t C = (int64_t)hd.high.size();
  for (int64_t j = 0; j < C; ++j) t[(size_t)j] = obs[(size_t)(hd.high[(size_t)j] ? ih++ : hd.n_hi + il++)];
  std::copy(obs.begin() + C, obs.end(), t.begin() + C);
  return t;
}

void DeviceZipCache::rebuild(Head& hd, const float* k, const float* v, int64_t stride, int n,
                             const std::vector<uint8_t>& high, void* stream) {
  const int D = g_.head_dim;
  const int64_t C = (int64_t)hd.high.size(), B = hd.bk.size(), T = C + B + n;
  const size_t rows_bytes = (size_t)std::max<int64_t>(T, 1) * D * sizeof(float);
  ensure(kx_, rows_bytes);
  ensure(vx_, rows_bytes);
  ensure(ky_, rows_bytes);
  ensure(vy_, rows_bytes);
  ensure(idx_, (size_t)std::max<int64_t>(T, 1) * sizeof(int32_t) * 2);
  float *K = ky_.as<float>(), *V = vy_.as<float>();  // T rows in time order
  kc::stream_sync(stream);  // the KV kernels run on the legacy default stream
  if (C > 0) {
    // Both classes dequantized into kx/vx (high rows, then low rows), scattered back to time order.
    const kern::SplitRowsRef kr = rows(hd, true), vr = rows(hd, false);
    if (hd.n_hi) {
      kc::kv_dequantize(kr.packed, 0, (int)hd.n_hi, kx_.as<float>(), D);
      kc::kv_dequantize(vr.packed, 0, (int)hd.n_hi, vx_.as<float>(), D);
    }
    if (hd.n_lo) {
      kc::kv_dequantize(kr.packed2, 0, (int)hd.n_lo, kx_.as<float>() + hd.n_hi * D, D);
      kc::kv_dequantize(vr.packed2, 0, (int)hd.n_lo, vx_.as<float>() + hd.n_hi * D, D);
    }
    std::vector<int32_t> src((size_t)C);
    int64_t ih = 0, il = 0;
    for (int64_t t = 0; t < C; ++t) src[(size_t)t] = (int32_t)(hd.high[(size_t)t] ? ih++ : hd.n_hi + il++);
    idx_.upload(src.data(), src.size() * sizeof(int32_t));
    kc::copy_rows_f32(kx_.as<float>(), D, idx_.as<int32_t>(), (int)C, D, K, D, nullptr);
    kc::copy_rows_f32(vx_.as<float>(), D, idx_.as<int32_t>(), (int)C, D, V, D, nullptr);
  }
  if (B > 0) {
    kc::f16_to_f32_array(hd.bk.rows(), K + C * D, (size_t)B * D);
    kc::f16_to_f32_array(hd.bv.rows(), V + C * D, (size_t)B * D);
  }
  kc::copy_rows_f32(k, stride, nullptr, n, D, K + (C + B) * D, D, nullptr);
  kc::copy_rows_f32(v, stride, nullptr, n, D, V + (C + B) * D, D, nullptr);
  // Classes as row-index lists into K/V (time order): high rows, then low rows.
  std::vector<int32_t> lists;
  lists.reserve((size_t)T);
  for (int64_t t = 0; t < T; ++t)
    if (high[(size_t)t]) lists.push_back((int32_t)t);
  const int64_t nh = (int64_t)lists.size();
  for (int64_t t = 0; t < T; ++t)
    if (!high[(size_t)t]) lists.push_back((int32_t)t);
  const int64_t nl = T - nh;
  idx_.upload(lists.data(), lists.size() * sizeof(int32_t));
  kc::kv_channel_norms(V, D, (int)T, D, hd.norms.as<uint16_t>());
  auto fill = [&](rt::cuda::DevicePackedStore& ks, rt::cuda::DevicePackedStore& vs, int64_t count,
                  const int32_t* index) {
    if (count == 0) return;
    ks.reserve(count, nullptr);
    vs.reserve(count, nullptr);
    kern::PackedKvMut vm = vs.mut(count);
    vm.norms = hd.norms.as<uint16_t>();
    kc::kv_quantize(ks.mut(count), K, D, 0, (int)count, index);
    kc::kv_quantize(vm, V, D, 0, (int)count, index);
  };
  fill(hd.k_hi, hd.v_hi, nh, idx_.as<int32_t>());
  fill(hd.k_lo, hd.v_lo, nl, idx_.as<int32_t>() + nh);
  hd.n_hi = nh;
  hd.n_lo = nl;
  hd.high = high;
  hd.bk.clear();
  hd.bv.clear();
}

void DeviceZipCache::store(int layer, const float* k, const float* v, int n, void* stream) {
  const int Hkv = g_.n_kv_heads, D = g_.head_dim;
  const int64_t stride = (int64_t)Hkv * D;
  const bool prefill = phase_ == rt::Phase::Prefill;
  if (!prefill && !zipcache_decode_due(head(layer, 0).bk.size(), n, cfg_.streaming_gap)) {
    for (int h = 0; h < Hkv; ++h) {
      head(layer, h).bk.append(k + (size_t)h * D, stride, n, stream);
      head(layer, h).bv.append(v + (size_t)h * D, stride, n, stream);
    }
    return;
  }
  const std::vector<int32_t> probe = prefill ? probes(layer, n) : std::vector<int32_t>{n - 1};
  if (prefill) last_probe_rows_ = (int)probe.size();
  for (int h = 0; h < Hkv; ++h) {
    Head& hd = head(layer, h);
    const int64_t stored = (int64_t)hd.high.size() + hd.bk.size();
    if ((int64_t)observation(h).size() != stored + n)
      throw std::logic_error("zipcache: attention observation missing for a compression step");
    const std::vector<uint8_t> high = zipcache_classes(cfg_, prefill, in_time_order(hd, observation(h)), stored, n,
                                                       probe, prefill ? std::vector<uint8_t>{} : hd.high);
    rebuild(hd, k + (size_t)h * D, v + (size_t)h * D, stride, n, high, stream);
  }
  (prefill ? prefill_compressions_ : recompressions_)++;
}

}  // namespace bp::methods::zipcache
#endif  // BENCH_HAVE_CUDA
