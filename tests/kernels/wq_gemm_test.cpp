// Weight-only quantized product (kernels/cpu/wq_gemm.h): packing of 2/3/4/8-bit codes, exact byte count, the
// scalar reference against a product over the dequantized matrix, and every ISA's kernel (fused decode path and
// panel prefill path) against the scalar reference.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/wq_gemm.h"

namespace bp::kern {
namespace {

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

TEST(WqGemm, CodesRoundTripThroughPackingForEveryWidth) {
  for (int bits : {2, 3, 4, 8})
    for (int len : {8, 24, 64, 72}) {
      std::mt19937 rng(bits * 100 + len);
      std::vector<uint8_t> q(len), got(len);
      for (auto& c : q) c = (uint8_t)(rng() % (1u << bits));
      // Pack through a matrix whose single row takes exactly these codes: symmetric quantization of values on the
      // grid q - 2^(b-1) (scale 1) reproduces them.
      const int half = 1 << (bits - 1);
      std::vector<float> w(len);
      for (int k = 0; k < len; ++k) w[k] = (float)std::max<int>(q[k], 1) - half;
      w[0] = (float)(half - 1);  // absmax = half - 1: scale exactly 1
      WqMatrix m(w.data(), 1, len, WqFormat{bits, 0, true});
      EXPECT_EQ(m.bytes(), ((size_t)len * bits + 7) / 8 + 2);
      wq_unpack_codes(m.codes(0, 0), bits, len, got.data());
      for (int k = 0; k < len; ++k) EXPECT_EQ(got[k], (uint8_t)(w[k] + half)) << bits << " " << len << " " << k;
    }
}

TEST(WqGemm, BytesCountCodesScalesAndMinimaOfEveryGroup) {
  const int N = 5, K = 576;
  auto w = randn((size_t)N * K, 1);
  // 576 = 4 x 128 + 64: a shorter last group.
  WqMatrix a(w.data(), N, K, WqFormat{4, 128, false});
  EXPECT_EQ(a.groups(), 5);
  EXPECT_EQ(a.group_len(4), 64);
  EXPECT_EQ(a.bytes(), (size_t)N * (K / 2) + (size_t)N * 5 * 4);
  WqMatrix b(w.data(), N, K, WqFormat{3, 64, true});
  EXPECT_EQ(b.bytes(), (size_t)N * (K * 3 / 8) + (size_t)N * 9 * 2);
  WqMatrix c(w.data(), N, K, WqFormat{8, 0, false});
  EXPECT_EQ(c.bytes(), (size_t)N * K + (size_t)N * 4);
}

TEST(WqGemm, ReferenceIsTheProductWithTheDequantizedMatrix) {
  const int M = 3, N = 7, K = 96;
  auto w = randn((size_t)N * K, 2), x = randn((size_t)M * K, 3), bias = randn(N, 4);
  WqMatrix q(w.data(), N, K, WqFormat{4, 32, false});
  std::vector<float> deq((size_t)N * K), y((size_t)M * N);
  for (int n = 0; n < N; ++n) q.dequantize_row(n, deq.data() + (size_t)n * K);
  wq_gemm_ref(x.data(), M, q, bias.data(), y.data());
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double acc = bias[n];
      for (int k = 0; k < K; ++k) acc += (double)x[(size_t)m * K + k] * deq[(size_t)n * K + k];
      EXPECT_NEAR(y[(size_t)m * N + n], acc, 1e-4 * (1 + std::fabs(acc)));
    }
  // 4-bit codes are not the weights: the dequantized matrix differs from W (the test sees the quantization).
  double err = 0;
  for (size_t i = 0; i < w.size(); ++i) err = std::max(err, (double)std::fabs(deq[i] - w[i]));
  EXPECT_GT(err, 1e-2);
}

TEST(WqGemm, EveryIsaMatchesTheScalarReferenceOnBothPaths) {
  const int N = 70, K = 200;  // N not a multiple of the panel width; K not a multiple of the vector width
  auto w = randn((size_t)N * K, 5, 0.05f), bias = randn(N, 6);
  for (WqFormat f : {WqFormat{4, 64, false}, WqFormat{4, 0, true}, WqFormat{3, 32, true}, WqFormat{2, 0, false},
                     WqFormat{8, 128, true}}) {
    WqMatrix q(w.data(), N, K, f);
    for (int M : {1, 3, 8, 9, 40}) {  // <= 8 rows: the fused path; more: dequantized panels
      auto x = randn((size_t)M * K, 7 + M);
      std::vector<float> ref((size_t)M * N), got((size_t)M * N);
      wq_gemm_ref(x.data(), M, q, bias.data(), ref.data());
      for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
        if ((int)isa > (int)detected_isa()) continue;
        set_isa_cap(isa);
        for (int threads : {1, 2}) {
          std::fill(got.begin(), got.end(), NAN);
          wq_gemm(x.data(), M, q, bias.data(), got.data(), threads);
          for (size_t i = 0; i < got.size(); ++i)
            ASSERT_NEAR(got[i], ref[i], 2e-4f * (1 + std::fabs(ref[i])))
                << isa_name(isa) << " bits " << f.bits << " M " << M << " threads " << threads << " i " << i;
        }
      }
      set_isa_cap(Isa::Avx512);
    }
  }
}

TEST(WqGemm, PackedNibbleDotMatchesTheUnpackedDotOnEveryIsa) {
  std::mt19937 rng(12);
  for (int len : {8, 31, 32, 33, 64, 100, 576}) {
    std::vector<uint8_t> q(len), packed((len + 1) / 2, 0);
    for (int k = 0; k < len; ++k) {
      q[k] = (uint8_t)(rng() % 16);
      packed[k / 2] |= (uint8_t)(q[k] << (4 * (k & 1)));
    }
    auto x = randn(len, 13 + len);
    const float ref = wq_dot_codes_scalar(x.data(), q.data(), len);
    EXPECT_NEAR(wq_dot_nibbles_scalar(x.data(), packed.data(), len), ref, 1e-4f * (1 + std::fabs(ref)));
    if (detected_isa() >= Isa::Avx2) {
      EXPECT_NEAR(wq_dot_nibbles_avx2(x.data(), packed.data(), len), ref, 1e-4f * (1 + std::fabs(ref))) << len;
    }
    if (detected_isa() >= Isa::Avx512) {
      EXPECT_NEAR(wq_dot_nibbles_avx512(x.data(), packed.data(), len), ref, 1e-4f * (1 + std::fabs(ref))) << len;
    }
  }
}

TEST(WqGemm, ResultsDoNotDependOnTheThreadCount) {
  const int N = 96, K = 128;
  auto w = randn((size_t)N * K, 8), x = randn((size_t)5 * K, 9);
  WqMatrix q(w.data(), N, K, WqFormat{4, 64, false});
  std::vector<float> a((size_t)5 * N), b((size_t)5 * N);
  wq_gemm(x.data(), 5, q, nullptr, a.data(), 1);
  wq_gemm(x.data(), 5, q, nullptr, b.data(), 2);
  EXPECT_EQ(a, b);
}

TEST(WqGemm, InvalidFormatsAreRejected) {
  EXPECT_STREQ(wq_format_error(WqFormat{5, 64, false}, 64), "bits must be 2, 3, 4 or 8");
  EXPECT_STREQ(wq_format_error(WqFormat{4, 20, false}, 64), "group must be a multiple of 8 (whole bytes of codes per group)");
  std::vector<float> w(64, 1.0f);
  EXPECT_THROW(WqMatrix(w.data(), 1, 64, WqFormat{5, 64, false}), std::invalid_argument);
}

}  // namespace
}  // namespace bp::kern
