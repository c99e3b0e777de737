// Host emulation of kernels/cuda/model_ops.h (see README.md here). Streams, handles and events are host stand-ins;
// every operation runs at once on the CPU with the shared BP_HD math (kernels/common) or the CPU kernels, so the
// emulated forward pass computes what the CPU backend with FP16 activations into the GEMMs would.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kernels/common/activation_math.h"
#include "kernels/common/fp16.h"
#include "kernels/common/rope_math.h"
#include "kernels/common/softmax_math.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/packed_attention.h"
#include "kernels/cuda/emulation/emulated_memory.h"
#include "kernels/cuda/model_ops.h"

namespace bp::kern::cuda {

namespace {

using Clock = std::chrono::steady_clock;

struct HostEvent {
  Clock::time_point t;
};

// Packed copies of the weight matrices gemm_f16 has seen, by (pointer, N, K).
struct WeightCache {
  std::mutex mu;
  std::map<const void*, std::pair<std::pair<int, int>, std::unique_ptr<PackedWeights>>> packed;
  size_t live = 0;  // emulated device bytes allocated
};
WeightCache& weights() {
  static WeightCache c;
  return c;
}

}  // namespace

namespace emu {
void on_alloc(void*, size_t bytes) {
  std::lock_guard<std::mutex> g(weights().mu);
  weights().live += bytes;
}
void on_free(void* p, size_t bytes) {
  WeightCache& c = weights();
  std::lock_guard<std::mutex> g(c.mu);
  c.live -= std::min(c.live, bytes);
  const char* a = static_cast<const char*>(p);
  for (auto it = c.packed.lower_bound(p); it != c.packed.end() && static_cast<const char*>(it->first) < a + bytes;)
    it = c.packed.erase(it);
}
}  // namespace emu

Stream stream_create() { return new int(0); }
void stream_destroy(Stream s) { delete static_cast<int*>(s); }
void stream_sync(Stream) {}
BlasHandle blas_create(Stream) { return new int(0); }
void blas_destroy(BlasHandle h) { delete static_cast<int*>(h); }

EventPair events_create() { return {new HostEvent{Clock::now()}, new HostEvent{Clock::now()}}; }
void events_destroy(EventPair e) {
  delete static_cast<HostEvent*>(e.start);
  delete static_cast<HostEvent*>(e.stop);
}
void event_record(void* event, Stream) { static_cast<HostEvent*>(event)->t = Clock::now(); }
float events_elapsed_ms(EventPair e) {
  return std::chrono::duration<float, std::milli>(static_cast<HostEvent*>(e.stop)->t -
                                                  static_cast<HostEvent*>(e.start)->t)
      .count();
}

void memcpy_h2d(void* dst, const void* src, size_t bytes, Stream) {
  if (bytes) std::memcpy(dst, src, bytes);
}
void memcpy_d2h(void* dst, const void* src, size_t bytes, Stream) {
  if (bytes) std::memcpy(dst, src, bytes);
}
void memcpy_d2d(void* dst, const void* src, size_t bytes, Stream) {
  if (bytes) std::memmove(dst, src, bytes);
}

void mem_info(size_t* free_bytes, size_t* total_bytes) {
  constexpr size_t kTotal = size_t{64} << 30;  // a nominal 64 GiB "device"
  std::lock_guard<std::mutex> g(weights().mu);
  *total_bytes = kTotal;
  *free_bytes = kTotal - std::min(kTotal, weights().live);
}

std::string device_name() { return "emulated (CPU)"; }
double peak_bandwidth_bytes_per_s() { return 0.0; }

void embed_rows(const uint16_t* table, const int32_t* tokens, int n, int d, float* out, Stream) {
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j) out[(size_t)i * d + j] = f16_to_f32(table[(size_t)tokens[i] * d + j]);
}

void rmsnorm_rows(const float* x, int n, int d, const float* w, float eps, float* y, Stream) {
  for (int i = 0; i < n; ++i) {
    const float* xr = x + (size_t)i * d;
    float ss = 0.0f;
    for (int j = 0; j < d; ++j) ss += xr[j] * xr[j];
    const float inv = rms_inv(ss, d, eps);
    for (int j = 0; j < d; ++j) y[(size_t)i * d + j] = xr[j] * inv * w[j];
  }
}

void rope_rows(float* x, int n, int heads, int head_dim, const int32_t* pos, const float* inv_freq, float scale,
               Stream) {
  const int half = head_dim / 2;
  for (int r = 0; r < n; ++r)
    for (int h = 0; h < heads; ++h) {
      float* v = x + ((size_t)r * heads + h) * head_dim;
      for (int j = 0; j < half; ++j) {
        const float angle = (float)pos[r] * inv_freq[j];
        float lo = v[j], hi = v[j + half];
        rope_rotate_pair(lo, hi, std::cos(angle), std::sin(angle));
        v[j] = lo * scale;
        v[j + half] = hi * scale;
      }
    }
}

void swiglu(const float* gate, const float* up, size_t n, float* out, Stream) {
  for (size_t i = 0; i < n; ++i) out[i] = swiglu_one(gate[i], up[i]);
}

void add_inplace(float* x, const float* y, size_t n, Stream) {
  for (size_t i = 0; i < n; ++i) x[i] += y[i];
}

void to_f16(const float* x, uint16_t* y, size_t n, Stream) {
  for (size_t i = 0; i < n; ++i) y[i] = f32_to_f16(x[i]);
}

void to_f16_strided(const float* x, int64_t x_stride, int rows, int cols, uint16_t* y, int64_t y_stride, Stream) {
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) y[(int64_t)r * y_stride + c] = f32_to_f16(x[(int64_t)r * x_stride + c]);
}

void zero(void* p, size_t bytes, Stream) {
  if (bytes) std::memset(p, 0, bytes);
}

void copy_rows_f32(const float* src, int64_t src_stride, const int32_t* idx, int rows, int D, float* dst,
                   int64_t dst_stride, Stream) {
  for (int j = 0; j < rows; ++j)
    std::memcpy(dst + j * dst_stride, src + (idx ? (int64_t)idx[j] : j) * src_stride, (size_t)D * sizeof(float));
}

void gather_rows_f16(const uint16_t* src, int64_t src_head_stride, const int32_t* idx, int heads, int rows, int D,
                     uint16_t* dst, int64_t dst_head_stride, Stream) {
  for (int h = 0; h < heads; ++h)
    for (int j = 0; j < rows; ++j)
      std::memcpy(dst + h * dst_head_stride + (int64_t)j * D,
                  src + h * src_head_stride + (int64_t)idx[(int64_t)h * rows + j] * D, (size_t)D * 2);
}

void gemm_f16(BlasHandle, const uint16_t* x, int M, int K, const uint16_t* w, int N, const float* bias, float* y,
              Stream) {
  WeightCache& c = weights();
  const PackedWeights* pw = nullptr;
  {
    std::lock_guard<std::mutex> g(c.mu);
    auto it = c.packed.find(w);
    if (it == c.packed.end() || it->second.first != std::make_pair(N, K)) {
      std::vector<float> wf((size_t)N * K);
      for (size_t i = 0; i < wf.size(); ++i) wf[i] = f16_to_f32(w[i]);
      c.packed[w] = std::make_pair(std::make_pair(N, K),
                                   std::make_unique<PackedWeights>(wf.data(), N, K, PackedType::F16));
      it = c.packed.find(w);
    }
    pw = it->second.second.get();
  }
  std::vector<float> xf((size_t)M * K);
  for (size_t i = 0; i < xf.size(); ++i) xf[i] = f16_to_f32(x[i]);
  gemm_packed(xf.data(), M, *pw, bias, y, 2);
}

void attention_partial_f16(const float* q, int64_t q_stride, int m, const uint16_t* k, const uint16_t* v,
                           int64_t kv_stride, int T, int head_dim, float* out_max, float* out_sum, float* out_acc,
                           Stream) {
  if (m <= 0) return;
  AttnF16Args a;
  a.q = q;
  a.q_stride = q_stride;
  a.m = m;
  a.k = k;
  a.v = v;
  a.kv_stride = kv_stride;
  a.T = T;
  a.head_dim = head_dim;
  a.out_max = out_max;
  a.out_sum = out_sum;
  a.out_acc = out_acc;
  attention_partial_f16_ref(a);
}

void merge_normalize(int m, int D, const float* a_max, const float* a_sum, const float* a_acc, const float* b_max,
                     const float* b_sum, const float* b_acc, const int32_t* out_index, float* out, Stream) {
  std::vector<float> acc((size_t)D);
  for (int r = 0; r < m; ++r) {
    float mx = a_max[r], sm = a_sum[r];
    std::copy_n(a_acc + (size_t)r * D, D, acc.data());
    merge_partial_row(mx, sm, acc.data(), b_max[r], b_sum[r], b_acc + (size_t)r * D, D);
    const float inv = sm > 0.0f ? 1.0f / sm : 0.0f;
    float* o = out + (size_t)out_index[r] * D;
    for (int d = 0; d < D; ++d) o[d] = acc[d] * inv;
  }
}

void argmax_rows(const float* logits, int rows, int V, int32_t* out, Stream) {
  for (int r = 0; r < rows; ++r) {
    const float* row = logits + (size_t)r * V;
    out[r] = (int32_t)(std::max_element(row, row + V) - row);
  }
}

}  // namespace bp::kern::cuda
