// FP16 conversions: the portable BP_HD functions against hand-checked values and round-to-nearest-even on every
// midpoint, then the vectorized array conversions (each ISA level this CPU has) against the portable functions.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <vector>

#include "kernels/common/fp16.h"
#include "kernels/cpu/fp16_convert.h"
#include "tests/kernels/kv_test_util.h"

namespace bp::kern {
namespace {

float fbits(uint32_t u) { return f32_from_bits(u); }

TEST(Fp16Soft, KnownValues) {
  EXPECT_EQ(f32_to_f16_soft(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_f16_soft(-2.0f), 0xC000);
  EXPECT_EQ(f32_to_f16_soft(0.0f), 0x0000);
  EXPECT_EQ(f32_to_f16_soft(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16_soft(65504.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16_soft(65519.99f), 0x7BFF);       // below the rounding boundary
  EXPECT_EQ(f32_to_f16_soft(65520.0f), 0x7C00);        // tie between 65504 and 65536 -> even -> overflow
  EXPECT_EQ(f32_to_f16_soft(1e9f), 0x7C00);
  EXPECT_EQ(f32_to_f16_soft(-INFINITY), 0xFC00);
  EXPECT_EQ(f32_to_f16_soft(std::ldexp(1.0f, -24)), 0x0001);       // smallest subnormal
  EXPECT_EQ(f32_to_f16_soft(std::ldexp(1.0f, -25)), 0x0000);       // tie with 0 -> even 0
  EXPECT_EQ(f32_to_f16_soft(std::ldexp(1.5f, -25)), 0x0001);       // above the tie
  EXPECT_EQ(f32_to_f16_soft(std::ldexp(3.0f, -25)), 0x0002);       // tie between 1 and 2 subnormal ulps -> 2
  EXPECT_EQ(f32_to_f16_soft(std::ldexp(1.0f, -14)), 0x0400);       // smallest normal
  EXPECT_EQ(f32_to_f16_soft(1.0f + std::ldexp(1.0f, -11)), 0x3C00);      // tie -> even mantissa 0
  EXPECT_EQ(f32_to_f16_soft(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // tie -> even mantissa 2
  const uint16_t nan = f32_to_f16_soft(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x3FF, 0);
  EXPECT_EQ(f16_to_f32_soft(0x3555), 0.333251953125f);
  EXPECT_EQ(f16_to_f32_soft(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_f32_soft(0x7BFF), 65504.0f);
  EXPECT_TRUE(std::isinf(f16_to_f32_soft(0x7C00)));
  EXPECT_TRUE(std::isnan(f16_to_f32_soft(0x7E00)));
  EXPECT_EQ(f32_bits(f16_to_f32_soft(0x7C01)), 0x7FC02000u);  // signaling NaN comes back quiet
}

TEST(Fp16Soft, EveryHalfRoundTripsAndEveryMidpointGoesToEven) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = f16_to_f32_soft((uint16_t)h);
    if (std::isnan(f)) {
      EXPECT_EQ(f32_to_f16_soft(f), (uint16_t)(h | 0x200)) << h;  // quieted, payload kept
      continue;
    }
    ASSERT_EQ(f32_to_f16_soft(f), h) << h;
  }
  // Positive finite neighbours a < b = a + 1 ulp: the midpoint (exact in float) rounds to the even code, points
  // just beside it to the nearer code. Negative values mirror through the sign bit.
  for (uint32_t a = 0; a < 0x7BFF; ++a) {
    const float fa = f16_to_f32_soft((uint16_t)a), fb = f16_to_f32_soft((uint16_t)(a + 1));
    const float mid = (fa + fb) * 0.5f;
    const uint16_t even = (a & 1) ? (uint16_t)(a + 1) : (uint16_t)a;
    ASSERT_EQ(f32_to_f16_soft(mid), even) << a;
    ASSERT_EQ(f32_to_f16_soft(-mid), even | 0x8000) << a;
    ASSERT_EQ(f32_to_f16_soft(std::nextafter(mid, 0.0f)), a) << a;
    ASSERT_EQ(f32_to_f16_soft(std::nextafter(mid, INFINITY)), a + 1) << a;
  }
}

// Inputs that stress rounding: every midpoint and its float neighbours, all halves, random floats over the whole
// exponent range, and specials; an odd count so the vector tails run.
std::vector<float> hard_inputs() {
  std::vector<float> v;
  for (uint32_t a = 0; a < 0x7C00; ++a) {
    const float fa = f16_to_f32_soft((uint16_t)a);
    const float mid = (fa + f16_to_f32_soft((uint16_t)(a + 1))) * 0.5f;
    for (float x : {fa, mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY)}) {
      v.push_back(x);
      v.push_back(-x);
    }
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 200001; ++i) {
    uint32_t u = rng();
    const float f = fbits(u);
    if (!std::isnan(f)) v.push_back(f);
  }
  for (float x : {INFINITY, -INFINITY, 65520.0f, 65519.996f, 1e-30f, -1e-45f, 0.0f, -0.0f}) v.push_back(x);
  return v;
}

TEST(Fp16Arrays, EveryIsaMatchesThePortableConversion) {
  const std::vector<float> in = hard_inputs();
  std::vector<uint16_t> ref(in.size()), got(in.size());
  f32_to_f16_array_ref(in.data(), ref.data(), in.size());
  for (size_t i = 0; i < in.size(); i += 997) ASSERT_EQ(ref[i], f32_to_f16_soft(in[i]));
  std::vector<uint16_t> halves(65536);
  for (uint32_t h = 0; h < 65536; ++h) halves[h] = (uint16_t)h;
  std::vector<float> back_ref(65536), back(65536);
  f16_to_f32_array_ref(halves.data(), back_ref.data(), halves.size());
  test::for_each_isa([&](Isa isa) {
    for (size_t n : {in.size(), (size_t)13, (size_t)1, (size_t)0}) {
      std::fill(got.begin(), got.end(), 0xABCD);
      f32_to_f16_array(in.data(), got.data(), n);
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(got[i], ref[i]) << isa_name(isa) << " i=" << i << " x=" << in[i];
      if (n < got.size()) {
        EXPECT_EQ(got[n], 0xABCD) << "wrote past the end";
      }
    }
    std::fill(back.begin(), back.end(), 0.0f);
    f16_to_f32_array(halves.data(), back.data(), 65536 - 3);  // tail of 13 at 16 lanes
    ASSERT_EQ(0, std::memcmp(back.data(), back_ref.data(), (65536 - 3) * sizeof(float))) << isa_name(isa);
    EXPECT_EQ(back[65536 - 3], 0.0f);
  });
}

}  // namespace
}  // namespace bp::kern
