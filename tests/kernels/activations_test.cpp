// SIMD RMSNorm / SwiGLU against the scalar references, including the exp polynomial's extreme inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/activations.h"
#include "kernels/cpu/isa.h"

namespace bp::kern {
namespace {

TEST(Activations, SimdMatchesReference) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  for (int d : {1, 7, 64, 576, 1537}) {
    std::vector<float> x(d), w(d), up(d), ref(d), got(d);
    for (int i = 0; i < d; ++i) {
      x[i] = nd(rng);
      w[i] = nd(rng);
      up[i] = nd(rng);
    }
    // Extremes for the exp range reduction and its clamps.
    if (d > 6) {
      x[0] = -100.0f;
      x[1] = 100.0f;
      x[2] = 88.0f;
      x[3] = -87.0f;
      x[4] = 0.0f;
      x[5] = -1e-8f;
    }
    for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
      if ((int)isa > (int)detected_isa()) continue;
      set_isa_cap(isa);
      rmsnorm_row_ref(x.data(), d, w.data(), 1e-5f, ref.data());
      rmsnorm_row(x.data(), d, w.data(), 1e-5f, got.data());
      for (int i = 0; i < d; ++i) EXPECT_NEAR(got[i], ref[i], 1e-5f * (1 + std::fabs(ref[i]))) << isa_name(isa);
      swiglu_ref(x.data(), up.data(), d, ref.data());
      swiglu(x.data(), up.data(), d, got.data());
      for (int i = 0; i < d; ++i)
        EXPECT_NEAR(got[i], ref[i], 2e-6f * (1 + std::fabs(ref[i]))) << isa_name(isa) << " x=" << x[i];
    }
    set_isa_cap(Isa::Avx512);
  }
}

TEST(Activations, ReferenceValues) {
  const float x[3] = {3.0f, 4.0f, 0.0f}, w[3] = {1.0f, 2.0f, 1.0f};
  float y[3];
  rmsnorm_row_ref(x, 3, w, 0.0f, y);
  const float rms = std::sqrt(25.0f / 3.0f);
  EXPECT_FLOAT_EQ(y[0], 3.0f / rms);
  EXPECT_FLOAT_EQ(y[1], 8.0f / rms);
  const float g[2] = {0.0f, 2.0f}, u[2] = {5.0f, 1.0f};
  float o[2];
  swiglu_ref(g, u, 2, o);
  EXPECT_FLOAT_EQ(o[0], 0.0f);
  EXPECT_NEAR(o[1], 2.0f / (1.0f + std::exp(-2.0f)), 1e-6f);
}

}  // namespace
}  // namespace bp::kern
