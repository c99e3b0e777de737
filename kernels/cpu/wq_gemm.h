#pragma once
// Weight-only quantized matrix multiplication: y[M][N] = x[M][K] · Wᵀ (+ bias) with W held as b-bit integer codes
// (b = 2, 3, 4 or 8) in groups of G consecutive inputs of one output row, each group with an FP16 scale (and an
// FP16 minimum when asymmetric). The codes are never expanded into a full-precision matrix: the kernels read them
// group by group, so decode streams b/8 bytes per weight plus 2 (or 4) bytes per group.
//
// Dequantization (per group):  asymmetric  w = scale · q + min,        q in [0, 2^b - 1]
//                              symmetric   w = scale · (q - 2^(b-1)),  q in [1, 2^b - 1]  (levels ±(2^(b-1) - 1))
// so a group's contribution to one output is  scale · Σ x_k q_k + offset · Σ x_k,  with offset = min (asymmetric)
// or -scale · 2^(b-1) (symmetric): the kernels form Σ x_k q_k from the codes and Σ x_k once per input row.
// Layout: row n, group g: codes packed LSB first, ceil(Gg · b / 8) bytes (Gg = G, or the shorter last group when G
// does not divide K); groups of a row are contiguous, rows contiguous.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace bp::kern {

struct WqFormat {
  int bits = 4;            // 2, 3, 4, 8
  int group = 64;          // inputs per group; 0 = the whole row (one group per output channel)
  bool symmetric = false;
};

// One group's quantization grid: FP16 scale (and minimum when asymmetric). Value of code q: scale·q + offset, with
// offset = min (asymmetric) or -scale·2^(b-1) (symmetric).
struct WqGrid {
  uint16_t scale_bits = 0, min_bits = 0;
  float scale = 0, offset = 0;
  // The grid round-to-nearest picks for `len` values: min..max (asymmetric) or ±max|v| (symmetric), scale and
  // minimum rounded to FP16 first so that codes are chosen against what dequantization will use.
  static WqGrid fit(const float* v, int len, const WqFormat& f);
  // The nearest code of v on this grid (clamped to the format's levels), and its value.
  int code(float v, const WqFormat& f) const;
  float value(int q) const { return scale * (float)q + offset; }
};

class WqMatrix {
 public:
  WqMatrix() = default;
  // Round-to-nearest quantization of W[N][K] (row-major F32): each group's WqGrid::fit, each value's nearest code.
  WqMatrix(const float* w, int N, int K, WqFormat f);
  // Codes chosen elsewhere (e.g. GPTQ's error-compensating order): codes[N][K] unpacked (one per byte), and the
  // grid of every (row, group), grids[N][groups].
  WqMatrix(int N, int K, WqFormat f, const std::vector<uint8_t>& codes, const std::vector<WqGrid>& grids);

  int N() const { return N_; }
  int K() const { return K_; }
  const WqFormat& format() const { return f_; }
  int group_size() const { return G_; }       // G (K for per-channel)
  int groups() const { return groups_; }      // per row
  int group_len(int g) const { return g + 1 < groups_ ? G_ : K_ - G_ * (groups_ - 1); }
  size_t group_bytes(int g) const { return ((size_t)group_len(g) * f_.bits + 7) / 8; }
  size_t row_bytes() const { return row_bytes_; }
  const uint8_t* codes(int n, int g) const { return codes_.data() + (size_t)n * row_bytes_ + group_offset_[g]; }
  uint16_t scale_bits(int n, int g) const { return scales_[(size_t)n * groups_ + g]; }
  // Row n's FP16 scales and minima (minima: nullptr when symmetric), groups() each.
  const uint16_t* scales_row(int n) const { return scales_.data() + (size_t)n * groups_; }
  const uint16_t* mins_row(int n) const { return f_.symmetric ? nullptr : mins_.data() + (size_t)n * groups_; }
  uint16_t min_bits(int n, int g) const { return f_.symmetric ? 0 : mins_[(size_t)n * groups_ + g]; }
  float scale(int n, int g) const;
  // The constant term per unit of Σx: min (asymmetric) or -scale · 2^(b-1) (symmetric).
  float offset(int n, int g) const;
  // Bytes held: codes + FP16 scales (+ FP16 minima). Exactly what the kernels read.
  size_t bytes() const;
  // One code, and one dequantized row W[n][0..K) as F32.
  int code(int n, int k) const;
  void dequantize_row(int n, float* row) const;

 private:
  int N_ = 0, K_ = 0, G_ = 0, groups_ = 0;
  WqFormat f_;
  size_t row_bytes_ = 0;
  std::vector<size_t> group_offset_;
  std::vector<uint8_t> codes_;
  std::vector<uint16_t> scales_, mins_;
};

// One 4-bit output row against one input row (the decode inner loop, per ISA): groups of `group` inputs (the last
// one shorter when `group` does not divide K), codes contiguous, FP16 scales and minima (nullptr: symmetric), Σx per
// group of the input row.
struct WqRowArgs {
  const float* x = nullptr;
  const uint8_t* codes = nullptr;
  const uint16_t* scales = nullptr;
  const uint16_t* mins = nullptr;
  const float* sum_x = nullptr;
  int K = 0, group = 0, groups = 0;
};
float wq_row_nibbles_scalar(const WqRowArgs& a);
float wq_row_nibbles_avx2(const WqRowArgs& a);
float wq_row_nibbles_avx512(const WqRowArgs& a);

// Checks a format against a row length; returns an empty string when valid, else what is wrong.
const char* wq_format_error(const WqFormat& f, int K);

// Unpacks `len` codes of `bits` bits (LSB first) into q[0..len).
void wq_unpack_codes(const uint8_t* src, int bits, int len, uint8_t* q);

// Scalar reference, straight from the dequantization formula: y = x · dequant(W)ᵀ + bias, summed k = 0..K-1.
void wq_gemm_ref(const float* x, int M, const WqMatrix& w, const float* bias, float* y);

// The optimized product (SIMD per the active ISA, up to `threads` threads). Rows of y are independent of the thread
// count; the summation order differs from the reference (compare with a tolerance).
void wq_gemm(const float* x, int M, const WqMatrix& w, const float* bias, float* y, int threads);

// Per-ISA dot products of one group: Σ x[k] · q[k] over k < len, q the group's unpacked codes.
float wq_dot_codes_scalar(const float* x, const uint8_t* q, int len);
float wq_dot_codes_avx2(const float* x, const uint8_t* q, int len);
float wq_dot_codes_avx512(const float* x, const uint8_t* q, int len);
// The same for 4-bit codes read from their packed bytes (two per byte, LSB first), without unpacking.
float wq_dot_nibbles_scalar(const float* x, const uint8_t* packed, int len);
float wq_dot_nibbles_avx2(const float* x, const uint8_t* packed, int len);
float wq_dot_nibbles_avx512(const float* x, const uint8_t* packed, int len);

}  // namespace bp::kern
