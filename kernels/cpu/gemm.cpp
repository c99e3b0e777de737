#include "kernels/cpu/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "kernels/common/fp16.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/thread_pool.h"

namespace bp::kern {

namespace {
inline uint16_t to_half_bits(float f) { return f32_to_f16(f); }
inline float from_half_bits(uint16_t b) { return f16_to_f32(b); }
}  // namespace

void PackedWeights::Free::operator()(void* p) const { std::free(p); }

PackedWeights::PackedWeights(const float* w, int N, int K, PackedType type) : N_(N), K_(K), type_(type) {
  if (N <= 0 || K <= 0) throw std::invalid_argument("PackedWeights: empty matrix");
  const size_t n_elems = (size_t)panels() * kPanel * K;
  bytes_ = n_elems * elem_size();
  const size_t alloc = (bytes_ + 63) / 64 * 64;
  data_.reset(std::aligned_alloc(64, alloc));
  if (!data_) throw std::bad_alloc();
  std::memset(data_.get(), 0, alloc);
  for (int p = 0; p < panels(); ++p) {
    for (int r = 0; r < kPanel; ++r) {
      const int n = p * kPanel + r;
      if (n >= N) break;
      const float* row = w + (size_t)n * K;
      if (type == PackedType::F32) {
        float* dst = static_cast<float*>(data_.get()) + (size_t)p * kPanel * K;
        for (int k = 0; k < K; ++k) dst[(size_t)k * kPanel + r] = row[k];
      } else {
        uint16_t* dst = static_cast<uint16_t*>(data_.get()) + (size_t)p * kPanel * K;
        for (int k = 0; k < K; ++k) dst[(size_t)k * kPanel + r] = to_half_bits(row[k]);
      }
    }
  }
}

void PackedWeights::unpack_row(int n, float* row) const {
  const int p = n / kPanel, r = n % kPanel;
  if (type_ == PackedType::F32) {
    const float* src = static_cast<const float*>(panel(p));
    for (int k = 0; k < K_; ++k) row[k] = src[(size_t)k * kPanel + r];
  } else {
    const uint16_t* src = static_cast<const uint16_t*>(panel(p));
    for (int k = 0; k < K_; ++k) row[k] = from_half_bits(src[(size_t)k * kPanel + r]);
  }
}

void PackedWeights::unpack(float* w) const {
  for (int n = 0; n < N_; ++n) unpack_row(n, w + (size_t)n * K_);
}

void gemm_ref(const float* x, int M, int K, const float* w, int N, const float* bias, float* y) {
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      float acc = 0.0f;
      for (int k = 0; k < K; ++k) acc += x[(size_t)m * K + k] * w[(size_t)n * K + k];
      y[(size_t)m * N + n] = acc + (bias ? bias[n] : 0.0f);
    }
  }
}

void gemm_panel_scalar(const float* x, int M, int K, const PackedWeights& w, int p, const float* bias, float* y,
                       int64_t ldy) {
  const int n0 = p * kPanel;
  const int nr = std::min(kPanel, w.N() - n0);
  float acc[kPanel];
  for (int m = 0; m < M; ++m) {
    std::fill(acc, acc + kPanel, 0.0f);
    const float* xr = x + (size_t)m * K;
    if (w.type() == PackedType::F32) {
      const float* b = static_cast<const float*>(w.panel(p));
      for (int k = 0; k < K; ++k)
        for (int r = 0; r < kPanel; ++r) acc[r] += xr[k] * b[(size_t)k * kPanel + r];
    } else {
      const uint16_t* b = static_cast<const uint16_t*>(w.panel(p));
      for (int k = 0; k < K; ++k)
        for (int r = 0; r < kPanel; ++r) acc[r] += xr[k] * from_half_bits(b[(size_t)k * kPanel + r]);
    }
    for (int r = 0; r < nr; ++r) y[(size_t)m * ldy + n0 + r] = acc[r] + (bias ? bias[n0 + r] : 0.0f);
  }
}

namespace {

using PanelFn = void (*)(const float*, int, int, const PackedWeights&, int, const float*, float*, int64_t);

void run_panels(PanelFn fn, const float* x, int M, const PackedWeights& w, const float* bias, float* y, int threads) {
  const int P = w.panels();
  const int K = w.K();
  // Rows are processed in blocks so a block of x stays in L2 while every panel streams past it.
  const int kRowBlock = 64;
  const int row_blocks = (M + kRowBlock - 1) / kRowBlock;
  const int64_t work = (int64_t)P * row_blocks;
  threads = std::max(1, std::min<int>(threads, (int)std::min<int64_t>(work, 1 << 20)));
  if (threads == 1 || (int64_t)M * K * w.N() < (1 << 16)) {
    for (int rb = 0; rb < row_blocks; ++rb) {
      const int m0 = rb * kRowBlock, mb = std::min(kRowBlock, M - m0);
      for (int p = 0; p < P; ++p) fn(x + (size_t)m0 * K, mb, K, w, p, bias, y + (size_t)m0 * w.N(), w.N());
    }
    return;
  }
  // Static partition of panels (each output element is computed by exactly one thread: results do not depend on
  // the thread count).
  parallel_chunks(threads, P, [&](int64_t p0, int64_t p1) {
    for (int rb = 0; rb < row_blocks; ++rb) {
      const int m0 = rb * kRowBlock, mb = std::min(kRowBlock, M - m0);
      for (int64_t p = p0; p < p1; ++p) fn(x + (size_t)m0 * K, mb, K, w, (int)p, bias, y + (size_t)m0 * w.N(), w.N());
    }
  });
}
}  // namespace

void gemm_packed_scalar(const float* x, int M, const PackedWeights& w, const float* bias, float* y, int threads) {
  run_panels(gemm_panel_scalar, x, M, w, bias, y, threads);
}

void gemm_packed(const float* x, int M, const PackedWeights& w, const float* bias, float* y, int threads) {
  switch (active_isa()) {
    case Isa::Avx512: run_panels(gemm_panel_avx512, x, M, w, bias, y, threads); break;
    case Isa::Avx2: run_panels(gemm_panel_avx2, x, M, w, bias, y, threads); break;
    default: run_panels(gemm_panel_scalar, x, M, w, bias, y, threads); break;
  }
}

}  // namespace bp::kern
