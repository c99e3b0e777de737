// Parity of the packed GEMM (every ISA level this CPU has) against the scalar reference on unpacked weights.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/isa.h"

namespace bp::kern {
namespace {

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

float max_rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  float worst = 0.0f;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]) / (1.0f + std::fabs(b[i])));
  return worst;
}

struct Shape {
  int M, K, N;
};

class GemmParity : public ::testing::TestWithParam<Shape> {};

TEST_P(GemmParity, AllIsaLevelsMatchReference) {
  const Shape s = GetParam();
  auto x = randn((size_t)s.M * s.K, 1), w = randn((size_t)s.N * s.K, 2), bias = randn(s.N, 3);
  std::vector<float> ref((size_t)s.M * s.N), got((size_t)s.M * s.N);
  gemm_ref(x.data(), s.M, s.K, w.data(), s.N, bias.data(), ref.data());

  PackedWeights pw(w.data(), s.N, s.K, PackedType::F32);
  std::vector<float> unpacked((size_t)s.N * s.K);
  pw.unpack(unpacked.data());
  EXPECT_EQ(unpacked, w);

  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if ((int)isa > (int)detected_isa()) continue;
    set_isa_cap(isa);
    for (int threads : {1, 2}) {
      std::fill(got.begin(), got.end(), NAN);
      gemm_packed(x.data(), s.M, pw, bias.data(), got.data(), threads);
      EXPECT_LT(max_rel_err(got, ref), 1e-4f) << isa_name(isa) << " threads=" << threads;
    }
  }
  set_isa_cap(Isa::Avx512);
}

TEST_P(GemmParity, F16PanelsMatchReferenceOnRoundedWeights) {
  const Shape s = GetParam();
  auto x = randn((size_t)s.M * s.K, 4), w = randn((size_t)s.N * s.K, 5);
  PackedWeights pw(w.data(), s.N, s.K, PackedType::F16);
  EXPECT_EQ(pw.bytes(), (size_t)pw.panels() * kPanel * s.K * 2);
  std::vector<float> rounded((size_t)s.N * s.K);
  pw.unpack(rounded.data());
  for (size_t i = 0; i < w.size(); ++i) ASSERT_NEAR(rounded[i], w[i], std::fabs(w[i]) * 1e-3f + 1e-7f);
  std::vector<float> ref((size_t)s.M * s.N), got((size_t)s.M * s.N);
  gemm_ref(x.data(), s.M, s.K, rounded.data(), s.N, nullptr, ref.data());
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if ((int)isa > (int)detected_isa()) continue;
    set_isa_cap(isa);
    gemm_packed(x.data(), s.M, pw, nullptr, got.data(), 2);
    EXPECT_LT(max_rel_err(got, ref), 1e-4f) << isa_name(isa);
  }
  set_isa_cap(Isa::Avx512);
}

TEST(Gemm, ResultsDoNotDependOnThreadCount) {
  const int M = 37, K = 96, N = 200;
  auto x = randn((size_t)M * K, 7), w = randn((size_t)N * K, 8);
  PackedWeights pw(w.data(), N, K, PackedType::F32);
  std::vector<float> a((size_t)M * N), b((size_t)M * N);
  gemm_packed(x.data(), M, pw, nullptr, a.data(), 1);
  gemm_packed(x.data(), M, pw, nullptr, b.data(), 2);
  EXPECT_EQ(a, b);
}

// Every row remainder of the register tiles (AVX2: 6 rows, AVX-512: 8; one or two rows run across the whole
// panel) and output tails in either half of a panel (N % 32 = 1, 4, 20, 31).
INSTANTIATE_TEST_SUITE_P(Shapes, GemmParity,
                         ::testing::Values(Shape{1, 576, 192}, Shape{1, 64, 33}, Shape{2, 40, 52}, Shape{3, 17, 31},
                                           Shape{5, 48, 52}, Shape{8, 576, 576}, Shape{11, 40, 65}, Shape{13, 1536, 576},
                                           Shape{70, 576, 1536}, Shape{129, 64, 100}));

// The SIMD kernels compute every output as one chain of fused multiply-adds over k in order, whatever their tile
// shape: AVX2 and AVX-512 give the same bits (the forward pass gives the same numbers on either ISA's GEMM).
TEST(Gemm, Avx2AndAvx512GiveTheSameBits) {
  if (detected_isa() < Isa::Avx512) GTEST_SKIP() << "no AVX-512 on this CPU";
  for (const Shape s : {Shape{1, 576, 1536}, Shape{2, 96, 100}, Shape{7, 96, 100}, Shape{37, 576, 200}}) {
    for (PackedType type : {PackedType::F32, PackedType::F16}) {
      auto x = randn((size_t)s.M * s.K, 9), w = randn((size_t)s.N * s.K, 10), bias = randn(s.N, 11);
      PackedWeights pw(w.data(), s.N, s.K, type);
      std::vector<float> a((size_t)s.M * s.N), b((size_t)s.M * s.N);
      set_isa_cap(Isa::Avx2);
      gemm_packed(x.data(), s.M, pw, bias.data(), a.data(), 2);
      set_isa_cap(Isa::Avx512);
      gemm_packed(x.data(), s.M, pw, bias.data(), b.data(), 2);
      EXPECT_EQ(a, b) << s.M << "x" << s.K << "x" << s.N << (type == PackedType::F16 ? " f16" : " f32");
    }
  }
}

}  // namespace
}  // namespace bp::kern
