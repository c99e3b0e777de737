#pragma once
// Dense matrix multiplication for linear layers: y[M][N] = x[M][K] · W[N][K]ᵀ (+ bias[N]).
// W is repacked once at load into column panels of kPanel outputs, k-major inside a panel:
//   panel p, step k: kPanel consecutive values W[p*kPanel + r][k], r = 0..kPanel-1  (tail panel zero-padded)
// so the microkernels stream one panel with unit stride while broadcasting x. F32 or F16 storage; F16 panels are
// converted on the fly (F16C), halving the bytes read in memory-bound decode.
// Results do not depend on the thread count: each output element is computed by one thread in a fixed order.
#include <cstddef>
#include <cstdint>
#include <memory>

namespace bp::kern {

enum class PackedType { F32, F16 };

inline constexpr int kPanel = 32;  // outputs per panel (2 AVX-512 or 4 AVX2 registers)

class PackedWeights {
 public:
  PackedWeights() = default;
  // Packs W[N][K] (row-major).
  PackedWeights(const float* w, int N, int K, PackedType type);
  int N() const { return N_; }
  int K() const { return K_; }
  PackedType type() const { return type_; }
  int panels() const { return (N_ + kPanel - 1) / kPanel; }
  // Bytes held (padding included): what the weights really cost in memory.
  size_t bytes() const { return bytes_; }
  const void* panel(int p) const {
    return static_cast<const uint8_t*>(data_.get()) + (size_t)p * kPanel * K_ * elem_size();
  }
  size_t elem_size() const { return type_ == PackedType::F32 ? 4 : 2; }
  // Writes W[N][K] back as F32 (exact for F32; F16-rounded values for F16).
  void unpack(float* w) const;
  // One row W[n][0..K) as F32.
  void unpack_row(int n, float* row) const;

 private:
  struct Free {
    void operator()(void* p) const;
  };
  int N_ = 0, K_ = 0;
  PackedType type_ = PackedType::F32;
  size_t bytes_ = 0;
  std::unique_ptr<void, Free> data_;
};

// Scalar reference on unpacked weights: y = x·Wᵀ + bias (bias may be null). Accumulates in double-free plain float
// order k = 0..K-1, which the optimized kernels do not reproduce bit for bit (compare with a tolerance).
void gemm_ref(const float* x, int M, int K, const float* w, int N, const float* bias, float* y);

// Optimized y = x·Wᵀ + bias over packed weights, using up to `threads` OpenMP threads.
void gemm_packed(const float* x, int M, const PackedWeights& w, const float* bias, float* y, int threads);

// Scalar implementation over packed weights (the fallback of gemm_packed on CPUs without AVX2).
void gemm_packed_scalar(const float* x, int M, const PackedWeights& w, const float* bias, float* y, int threads);

// Panel kernels: y[0..M)[n0..n0+kPanel) for panel p (columns beyond N are not written). ldy = row stride of y.
// The scalar one is in gemm.cpp, the ISA-specific ones in gemm_avx2.cpp / gemm_avx512.cpp.
void gemm_panel_scalar(const float* x, int M, int K, const PackedWeights& w, int p, const float* bias, float* y,
                       int64_t ldy);
void gemm_panel_avx2(const float* x, int M, int K, const PackedWeights& w, int p, const float* bias, float* y,
                     int64_t ldy);
void gemm_panel_avx512(const float* x, int M, int K, const PackedWeights& w, int p, const float* bias, float* y,
                       int64_t ldy);

}  // namespace bp::kern
