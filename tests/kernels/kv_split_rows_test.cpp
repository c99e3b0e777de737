// split_rows_get (kernels/common/kv_split_rows.h) is the per-element read of the CUDA split attention kernel; here it
// is checked on the CPU against the definitions it joins: kv_dequant below the split point, FP16 rows after it.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/common/fp16.h"
#include "kernels/common/kv_split_rows.h"
#include "kernels/cpu/kv_quant.h"
#include "tests/kernels/kv_test_util.h"

namespace bp::kern {
namespace {

TEST(KvSplitRows, ReadsPackedTokensThenFp16Rows) {
  const int D = 64, P = 96, F = 37, stride = D + 8;
  for (KvRole role : {KvRole::Keys, KvRole::Values}) {
    KvLayout L;
    L.role = role;
    L.head_dim = D;
    L.bits = 2;
    L.axis = role == KvRole::Keys ? KvAxis::PerChannel : KvAxis::PerToken;
    L.group = 32;
    const std::vector<float> x = test::randn((size_t)P * D, 3);
    KvStore st(L);
    st.resize(P);
    kv_quantize(st.mut(), x.data(), D, 0, P);
    const std::vector<float> tail = test::randn((size_t)F * stride, 4);
    std::vector<uint16_t> half(tail.size());
    for (size_t i = 0; i < tail.size(); ++i) half[i] = f32_to_f16(tail[i]);
    SplitRowsRef r;
    r.packed = st.view();
    r.f16 = half.data();
    r.f16_stride = stride;
    r.f16_rows = F;
    ASSERT_EQ(r.tokens(), P + F);
    for (int64_t t = 0; t < P + F; ++t)
      for (int d = 0; d < D; ++d) {
        const float want = t < P ? kv_dequant(st.view(), t, d) : f16_to_f32(half[(t - P) * stride + d]);
        ASSERT_EQ(split_rows_get(r, t, d), want) << "t " << t << " d " << d;
      }
    // The packed values really are the quantized ones (2 bits: not equal to the input), the FP16 ones the rounded.
    EXPECT_NE(split_rows_get(r, 5, 7), x[5 * D + 7]);
    EXPECT_NEAR(split_rows_get(r, P + 2, 3), tail[2 * stride + 3], 1e-2f);
  }
}

// Two packed stores of different bit widths (ZipCache's classes) before the FP16 rows.
TEST(KvSplitRows, ReadsTwoPackedStoresThenFp16Rows) {
  const int D = 64, P1 = 70, P2 = 45, F = 9;
  const KvLayout hi = make_kv_layout(KvRole::Keys, D, 4, KvAxis::PerChannel, 0);
  const KvLayout lo = make_kv_layout(KvRole::Keys, D, 2, KvAxis::PerChannel, 0);
  const std::vector<float> a = test::randn((size_t)P1 * D, 5), b = test::randn((size_t)P2 * D, 6);
  KvStore sa(hi), sb(lo);
  sa.resize(P1);
  sb.resize(P2);
  kv_quantize(sa.mut(), a.data(), D, 0, P1);
  kv_quantize(sb.mut(), b.data(), D, 0, P2);
  std::vector<uint16_t> half((size_t)F * D);
  for (size_t i = 0; i < half.size(); ++i) half[i] = f32_to_f16(0.01f * (float)i);
  SplitRowsRef r;
  r.packed = sa.view();
  r.packed2 = sb.view();
  r.f16 = half.data();
  r.f16_stride = D;
  r.f16_rows = F;
  ASSERT_EQ(r.tokens(), P1 + P2 + F);
  for (int64_t t = 0; t < r.tokens(); ++t)
    for (int d = 0; d < D; d += 7) {
      const float want = t < P1        ? kv_dequant(sa.view(), t, d)
                         : t < P1 + P2 ? kv_dequant(sb.view(), t - P1, d)
                                       : f16_to_f32(half[(t - P1 - P2) * D + d]);
      ASSERT_EQ(split_rows_get(r, t, d), want) << "t " << t << " d " << d;
    }
}

TEST(KvSplitRows, AllFp16WhenNothingIsPacked) {
  const int D = 32;
  KvLayout L;
  L.role = KvRole::Values;
  L.head_dim = D;
  std::vector<uint16_t> half(3 * D);
  for (size_t i = 0; i < half.size(); ++i) half[i] = f32_to_f16(0.25f * (float)i);
  SplitRowsRef r;
  r.packed.layout = L;  // zero tokens: the packed store is never read
  r.f16 = half.data();
  r.f16_stride = D;
  r.f16_rows = 3;
  EXPECT_EQ(split_rows_get(r, 2, 5), 0.25f * (2 * D + 5));
}

}  // namespace
}  // namespace bp::kern
