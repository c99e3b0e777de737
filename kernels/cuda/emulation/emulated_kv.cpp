// Host emulation of kernels/cuda/kv_cuda.h (see README.md here): "device" pointers are host pointers and every
// function is the CPU reference of the same contract, or the shared BP_HD math in a loop.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kernels/common/fp16.h"
#include "kernels/common/kv_split_rows.h"
#include "kernels/common/softmax_math.h"
#include "kernels/cpu/kv_quant.h"
#include "kernels/cuda/emulation/emulated_memory.h"
#include "kernels/cuda/kv_cuda.h"

namespace bp::kern::cuda {

bool device_available(std::string* why) {
  if (why) why->clear();
  return true;
}

DeviceBuffer::DeviceBuffer(size_t bytes) : n_(bytes) {
  if (bytes) {
    p_ = std::calloc(bytes, 1);
    if (!p_) throw std::bad_alloc();
    emu::on_alloc(p_, bytes);
  }
}

DeviceBuffer::~DeviceBuffer() {
  if (p_) {
    emu::on_free(p_, n_);
    std::free(p_);
  }
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (p_) {
      emu::on_free(p_, n_);
      std::free(p_);
    }
    p_ = std::exchange(o.p_, nullptr);
    n_ = std::exchange(o.n_, 0);
  }
  return *this;
}

void DeviceBuffer::upload(const void* host, size_t bytes, size_t offset) {
  if (offset + bytes > n_) throw std::out_of_range("DeviceBuffer::upload past the end");
  if (bytes) std::memcpy(static_cast<char*>(p_) + offset, host, bytes);
}

void DeviceBuffer::download(void* host, size_t bytes, size_t offset) const {
  if (offset + bytes > n_) throw std::out_of_range("DeviceBuffer::download past the end");
  if (bytes) std::memcpy(host, static_cast<const char*>(p_) + offset, bytes);
}

void DeviceBuffer::zero() {
  if (n_) std::memset(p_, 0, n_);
}

void f32_to_f16_array(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = f32_to_f16(src[i]);
}

void f16_to_f32_array(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}

void kv_quantize(const PackedKvMut& out, const float* x, int64_t x_stride, int64_t t_begin, int n,
                 const int32_t* row_index) {
  kern::kv_quantize(out, x, x_stride, t_begin, n, row_index);
}

void kv_dequantize(const PackedKv& in, int64_t t_begin, int n, float* x, int64_t x_stride) {
  kern::kv_dequantize(in, t_begin, n, x, x_stride);
}

void kv_channel_norms(const float* x, int64_t x_stride, int n, int head_dim, uint16_t* norms) {
  kern::kv_channel_norms(x, x_stride, n, head_dim, norms);
}

void packed_attention(const PackedAttnArgs& a) { kern::packed_attention_ref(a); }

void packed_scores(const float* q, int64_t q_stride, int m, const PackedKv& k, int64_t t0, int64_t t1, float* scores,
                   int64_t score_stride) {
  kern::packed_scores_ref(q, q_stride, m, k, t0, t1, scores, score_stride);
}

void attention_partial_f32(const AttnF32Args& a) { kern::attention_partial_f32_ref(a); }

void split_attention(const float* q, int64_t q_stride, int m, const SplitRowsRef& k, const SplitRowsRef& v,
                     float* out_max, float* out_sum, float* out_acc) {
  for (const KvLayout* L : {&k.packed.layout, &v.packed.layout})
    if (const char* e = kv_layout_error(*L)) throw std::invalid_argument(std::string("cuda::split_attention: ") + e);
  if (k.packed.layout.role != KvRole::Keys || v.packed.layout.role != KvRole::Values ||
      k.packed.layout.head_dim != v.packed.layout.head_dim)
    throw std::invalid_argument("cuda::split_attention: k must be keys, v values, of one head_dim");
  if (k.tokens() != v.tokens()) throw std::invalid_argument("cuda::split_attention: keys and values differ in tokens");
  const int D = k.packed.layout.head_dim;
  const int64_t T = k.tokens();
  std::vector<float> s((size_t)T);
  for (int i = 0; i < m; ++i) {
    const float* qi = q + i * q_stride;
    float mx = -INFINITY;
    for (int64_t t = 0; t < T; ++t) {
      float dot = 0.0f;
      for (int d = 0; d < D; ++d) dot += qi[d] * split_rows_get(k, t, d);
      s[(size_t)t] = dot;
      mx = std::max(mx, dot);
    }
    float sum = 0.0f;
    float* acc = out_acc + (size_t)i * D;
    std::fill(acc, acc + D, 0.0f);
    for (int64_t t = 0; t < T; ++t) {
      const float e = std::exp(s[(size_t)t] - mx);
      sum += e;
      for (int d = 0; d < D; ++d) acc[d] += e * split_rows_get(v, t, d);
    }
    out_max[i] = T > 0 ? mx : -INFINITY;
    out_sum[i] = sum;
  }
}

void merge_row_stats(int m, const float* a_max, const float* a_sum, const float* b_max, const float* b_sum,
                     float* max, float* sum) {
  for (int i = 0; i < m; ++i) {
    float mx = a_max[i], sm = a_sum[i];
    ::bp::kern::merge_row_stats(mx, sm, b_max[i], b_sum[i]);
    max[i] = mx;
    sum[i] = sm;
  }
}

void column_probs_split(const float* q, int64_t q_stride, const int32_t* rows, int m, const float* row_max,
                        const float* row_sum, const SplitRowsRef& k, float* col) {
  if (const char* e = kv_layout_error(k.packed.layout))
    throw std::invalid_argument(std::string("cuda::column_probs_split: ") + e);
  const int D = k.packed.layout.head_dim;
  for (int64_t j = 0; j < k.tokens(); ++j)
    for (int i = 0; i < m; ++i) {
      const int r = rows[i];
      if (!(row_sum[r] > 0.0f)) continue;
      float dot = 0.0f;
      for (int d = 0; d < D; ++d) dot += q[r * q_stride + d] * split_rows_get(k, j, d);
      col[j] += prob_from_score(dot, row_max[r], 1.0f / row_sum[r]);
    }
}

void column_probs_f32(const float* q, int64_t q_stride, const int32_t* rows, int m, const float* row_max,
                      const float* row_sum, const float* k, int64_t k_stride, int T, int head_dim,
                      int64_t causal_offset, float* col) {
  for (int j = 0; j < T; ++j)
    for (int i = 0; i < m; ++i) {
      const int r = rows[i];
      if (j > r + causal_offset || !(row_sum[r] > 0.0f)) continue;
      float dot = 0.0f;
      for (int d = 0; d < head_dim; ++d) dot += q[r * q_stride + d] * k[j * k_stride + d];
      col[j] += prob_from_score(dot, row_max[r], 1.0f / row_sum[r]);
    }
}

}  // namespace bp::kern::cuda
