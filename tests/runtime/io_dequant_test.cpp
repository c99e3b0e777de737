// Dequantization of every supported storage type, checked on blocks built here from the format definitions (ggml's
// block structs): the test chooses codes and scales, packs them as the format prescribes, and expects the values
// the definition gives for those codes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "harness/common/error.h"
#include "harness/runtime/io/dequant.h"
#include "harness/runtime/io/dtype_info.h"
#include "harness/runtime/io/half.h"
#include "harness/runtime/io/model_file.h"

namespace bp::rt {
namespace {

// Exactly representable f16 scales keep the expected values exact.
constexpr uint16_t kHalf0_5 = 0x3800, kHalf0_25 = 0x3400, kHalfMinus1_5 = 0xBE00, kHalf0_125 = 0x3000, kHalf2 = 0x4000,
                   kHalfMinus0_75 = 0xBA00;

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v & 0xFF));
  b.push_back(static_cast<uint8_t>(v >> 8));
}

std::vector<float> run(DType t, const std::vector<uint8_t>& bytes, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n), std::numeric_limits<float>::quiet_NaN());
  TensorRef ref;
  ref.name = "x";
  ref.dtype = t;
  ref.shape = {n};
  ref.data = bytes.data();
  ref.nbytes = bytes.size();
  dequantize_tensor(ref, out.data());
  return out;
}

TEST(IoDequant, BlockSizesMatchTheFormat) {
  EXPECT_EQ(dtype_info(DType::Q4_0).block_bytes, 18);
  EXPECT_EQ(dtype_info(DType::Q4_1).block_bytes, 20);
  EXPECT_EQ(dtype_info(DType::Q5_0).block_bytes, 22);
  EXPECT_EQ(dtype_info(DType::Q5_1).block_bytes, 24);
  EXPECT_EQ(dtype_info(DType::Q8_0).block_bytes, 34);
  EXPECT_EQ(dtype_info(DType::Q4_K).block_bytes, 144);
  EXPECT_EQ(dtype_info(DType::Q6_K).block_bytes, 210);
  EXPECT_EQ(dtype_info(DType::Q4_K).block, 256);
}

TEST(IoDequant, F32) {
  const std::vector<float> v{1.5f, -0.0f, 3e-38f, -7.25f};
  std::vector<uint8_t> b(16);
  std::memcpy(b.data(), v.data(), 16);
  EXPECT_EQ(run(DType::F32, b, 4), v);
}

TEST(IoDequant, F16IncludingSubnormalsAndInfinity) {
  std::vector<uint8_t> b;
  for (uint16_t h : {0x3C00, 0xC000, 0x3555, 0x0001, 0x7BFF, 0x8000, 0x7C00, 0x03FF}) put16(b, h);
  const auto y = run(DType::F16, b, 8);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -2.0f);
  EXPECT_EQ(y[2], 0.333251953125f);
  EXPECT_EQ(y[3], std::ldexp(1.0f, -24));
  EXPECT_EQ(y[4], 65504.0f);
  EXPECT_TRUE(y[5] == 0.0f && std::signbit(y[5]));
  EXPECT_TRUE(std::isinf(y[6]) && y[6] > 0);
  EXPECT_EQ(y[7], 1023.0f * std::ldexp(1.0f, -24));
}

TEST(IoDequant, BF16) {
  std::vector<uint8_t> b;
  for (uint16_t h : {0x3F80, 0xC0A0, 0x3E20, 0x0000}) put16(b, h);
  EXPECT_EQ(run(DType::BF16, b, 4), (std::vector<float>{1.0f, -5.0f, 0.15625f, 0.0f}));
}

TEST(IoDequant, HalfRoundTripAndRounding) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = half_to_float(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_half(f), h) << "half bits " << h;
  }
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3C00);      // tie -> even (down)
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // tie -> even (up)
  EXPECT_EQ(float_to_half(65520.0f), 0x7C00);                          // overflow -> inf
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);             // tie at the smallest subnormal -> 0
  EXPECT_EQ(float_to_half(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_TRUE(std::isnan(half_to_float(float_to_half(std::numeric_limits<float>::quiet_NaN()))));
}

// Two blocks each so the per-block pointer advance is covered too.
TEST(IoDequant, Q4_0) {
  std::vector<uint8_t> b;
  std::vector<float> want;
  for (int blk = 0; blk < 2; ++blk) {
    const uint16_t d = blk == 0 ? kHalf0_5 : kHalfMinus0_75;
    const float df = blk == 0 ? 0.5f : -0.75f;
    int q[32];
    for (int j = 0; j < 32; ++j) q[j] = (j * 7 + blk * 3) % 16;
    put16(b, d);
    for (int j = 0; j < 16; ++j) b.push_back(static_cast<uint8_t>(q[j] | (q[j + 16] << 4)));
    for (int j = 0; j < 32; ++j) want.push_back(static_cast<float>(q[j] - 8) * df);
  }
  EXPECT_EQ(run(DType::Q4_0, b, 64), want);
}

TEST(IoDequant, Q4_1) {
  std::vector<uint8_t> b;
  std::vector<float> want;
  for (int blk = 0; blk < 2; ++blk) {
    int q[32];
    for (int j = 0; j < 32; ++j) q[j] = (j * 5 + blk) % 16;
    put16(b, blk == 0 ? kHalf0_25 : kHalf2);
    put16(b, kHalfMinus1_5);
    for (int j = 0; j < 16; ++j) b.push_back(static_cast<uint8_t>(q[j] | (q[j + 16] << 4)));
    for (int j = 0; j < 32; ++j) want.push_back(static_cast<float>(q[j]) * (blk == 0 ? 0.25f : 2.0f) - 1.5f);
  }
  EXPECT_EQ(run(DType::Q4_1, b, 64), want);
}

// Q5: the low four bits of element j (and j + 16) share byte qs[j]; the fifth bit of element j is bit j of qh.
std::vector<uint8_t> pack_q5(const int q[32]) {
  std::vector<uint8_t> b;
  uint32_t qh = 0;
  for (int j = 0; j < 32; ++j) qh |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  for (int k = 0; k < 4; ++k) b.push_back(static_cast<uint8_t>(qh >> (8 * k)));
  for (int j = 0; j < 16; ++j) b.push_back(static_cast<uint8_t>((q[j] & 15) | ((q[j + 16] & 15) << 4)));
  return b;
}

TEST(IoDequant, Q5_0) {
  std::vector<uint8_t> b;
  std::vector<float> want;
  for (int blk = 0; blk < 2; ++blk) {
    int q[32];
    for (int j = 0; j < 32; ++j) q[j] = (j * 11 + 3 + blk * 17) % 32;
    put16(b, blk == 0 ? kHalf0_125 : kHalf0_5);
    const auto packed = pack_q5(q);
    b.insert(b.end(), packed.begin(), packed.end());
    for (int j = 0; j < 32; ++j) want.push_back(static_cast<float>(q[j] - 16) * (blk == 0 ? 0.125f : 0.5f));
  }
  EXPECT_EQ(run(DType::Q5_0, b, 64), want);
}

TEST(IoDequant, Q5_1) {
  std::vector<uint8_t> b;
  std::vector<float> want;
  for (int blk = 0; blk < 2; ++blk) {
    int q[32];
    for (int j = 0; j < 32; ++j) q[j] = (j * 13 + 5 + blk) % 32;
    put16(b, kHalf0_25);
    put16(b, blk == 0 ? kHalfMinus1_5 : kHalf2);
    const auto packed = pack_q5(q);
    b.insert(b.end(), packed.begin(), packed.end());
    for (int j = 0; j < 32; ++j) want.push_back(static_cast<float>(q[j]) * 0.25f + (blk == 0 ? -1.5f : 2.0f));
  }
  EXPECT_EQ(run(DType::Q5_1, b, 64), want);
}

TEST(IoDequant, Q8_0) {
  std::vector<uint8_t> b;
  std::vector<float> want;
  for (int blk = 0; blk < 2; ++blk) {
    put16(b, blk == 0 ? kHalf0_125 : kHalfMinus0_75);
    for (int j = 0; j < 32; ++j) {
      const int q = (j * 37 + blk * 11) % 256 - 128;  // covers -128..127
      b.push_back(static_cast<uint8_t>(static_cast<int8_t>(q)));
      want.push_back(static_cast<float>(q) * (blk == 0 ? 0.125f : -0.75f));
    }
  }
  EXPECT_EQ(run(DType::Q8_0, b, 64), want);
}

// Q4_K: eight sub-blocks of 32 with 6-bit scale/min codes packed into 12 bytes: sub-blocks 0..3 use the low six bits
// of bytes 0..3 (scale) and 4..7 (min); sub-blocks 4..7 keep their low four bits in bytes 8..11 (scale low nibble,
// min high nibble) and their top two bits in the top bits of bytes 0..3 (scale) and 4..7 (min).
TEST(IoDequant, Q4_K) {
  std::vector<uint8_t> b;
  std::vector<float> want;
  for (int blk = 0; blk < 2; ++blk) {
    const int sc[8] = {1, 17, 63, 40, 5 + blk, 33, 62, 18};
    const int mn[8] = {0, 9, 31, 63, 47, 2, 20, 55 - blk};
    uint8_t scales[12] = {};
    for (int s = 0; s < 4; ++s) {
      scales[s] |= static_cast<uint8_t>(sc[s]);
      scales[s + 4] |= static_cast<uint8_t>(mn[s]);
    }
    for (int s = 4; s < 8; ++s) {
      scales[s + 4] = static_cast<uint8_t>((sc[s] & 15) | ((mn[s] & 15) << 4));
      scales[s - 4] |= static_cast<uint8_t>((sc[s] >> 4) << 6);
      scales[s] |= static_cast<uint8_t>((mn[s] >> 4) << 6);
    }
    int q[8][32];
    for (int s = 0; s < 8; ++s)
      for (int l = 0; l < 32; ++l) q[s][l] = (s * 5 + l * 3 + blk) % 16;
    put16(b, blk == 0 ? kHalf0_5 : kHalf0_125);
    put16(b, kHalf0_25);
    b.insert(b.end(), scales, scales + 12);
    for (int k = 0; k < 4; ++k)
      for (int l = 0; l < 32; ++l) b.push_back(static_cast<uint8_t>(q[2 * k][l] | (q[2 * k + 1][l] << 4)));
    const float d = blk == 0 ? 0.5f : 0.125f;
    for (int s = 0; s < 8; ++s)
      for (int l = 0; l < 32; ++l)
        want.push_back(d * static_cast<float>(sc[s]) * static_cast<float>(q[s][l]) - 0.25f * static_cast<float>(mn[s]));
  }
  ASSERT_EQ(b.size(), 288u);
  EXPECT_EQ(run(DType::Q4_K, b, 512), want);
}

// Q6_K: 6-bit codes, element e scaled by the signed 8-bit scale e / 16. In each half of 128 elements, element
// l + 32 m (l < 32, m < 4) keeps its low four bits in ql (byte l for m = 0/2, l + 32 for m = 1/3; low nibble for
// m < 2) and its top two bits at bit 2 m of qh[l].
TEST(IoDequant, Q6_K) {
  std::vector<uint8_t> b;
  std::vector<float> want;
  for (int blk = 0; blk < 2; ++blk) {
    int q[256];
    for (int e = 0; e < 256; ++e) q[e] = (e * 29 + 7 + blk) % 64;
    int8_t sc[16];
    for (int i = 0; i < 16; ++i) sc[i] = static_cast<int8_t>((i * 23 + blk) % 255 - 127);
    uint8_t ql[128] = {}, qh[64] = {};
    for (int h = 0; h < 2; ++h)
      for (int l = 0; l < 32; ++l)
        for (int m = 0; m < 4; ++m) {
          const int v = q[128 * h + 32 * m + l];
          const int byte = 64 * h + l + ((m & 1) ? 32 : 0);
          ql[byte] |= static_cast<uint8_t>((v & 15) << ((m >= 2) ? 4 : 0));
          qh[32 * h + l] |= static_cast<uint8_t>((v >> 4) << (2 * m));
        }
    b.insert(b.end(), ql, ql + 128);
    b.insert(b.end(), qh, qh + 64);
    for (int8_t s : sc) b.push_back(static_cast<uint8_t>(s));
    put16(b, blk == 0 ? kHalf0_125 : kHalfMinus0_75);
    const float d = blk == 0 ? 0.125f : -0.75f;
    for (int e = 0; e < 256; ++e) want.push_back(d * static_cast<float>(sc[e / 16]) * static_cast<float>(q[e] - 32));
  }
  ASSERT_EQ(b.size(), 420u);
  EXPECT_EQ(run(DType::Q6_K, b, 512), want);
}

// llama.cpp stores head h's row p*(D/2) + i at h*D + 2*i + p; dequantize_tensor puts it back.
TEST(IoDequant, UnpermutesHeadRows) {
  const int heads = 2, hd = 4, cols = 3, rows = heads * hd;
  std::vector<float> stored(rows * cols);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) stored[r * cols + c] = static_cast<float>(100 * r + c);
  TensorRef t;
  t.name = "blk.0.attn_q";
  t.dtype = DType::F32;
  t.shape = {rows, cols};
  t.data = reinterpret_cast<const uint8_t*>(stored.data());
  t.nbytes = stored.size() * 4;
  t.unpermute_heads = heads;
  std::vector<float> out(stored.size());
  dequantize_tensor(t, out.data());
  const int src_of[rows] = {0, 2, 1, 3, 4, 6, 5, 7};
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) EXPECT_EQ(out[r * cols + c], stored[src_of[r] * cols + c]) << r << "," << c;
  // The helper the writer uses to re-permute is the inverse of the same mapping.
  EXPECT_EQ(llama_rope_row_order(rows, heads), (std::vector<int64_t>{0, 2, 1, 3, 4, 6, 5, 7}));
}

// A 1-D bias of a permuted projection is un-permuted element by element (each element is a "row").
TEST(IoDequant, UnpermutesBiasElements) {
  const std::vector<float> stored{0, 1, 2, 3, 4, 5, 6, 7};
  TensorRef t;
  t.name = "blk.0.attn_q_bias";
  t.dtype = DType::F32;
  t.shape = {8};
  t.data = reinterpret_cast<const uint8_t*>(stored.data());
  t.nbytes = 32;
  t.unpermute_heads = 2;
  std::vector<float> out(8);
  dequantize_tensor(t, out.data());
  EXPECT_EQ(out, (std::vector<float>{0, 2, 1, 3, 4, 6, 5, 7}));
}

TEST(IoDequant, RejectsInconsistentTensorRefs) {
  std::vector<uint8_t> b(20);
  TensorRef t;
  t.name = "x";
  t.dtype = DType::Q4_1;
  t.shape = {32};
  t.data = b.data();
  t.nbytes = 19;  // one byte short of a block
  std::vector<float> out(32);
  EXPECT_THROW(dequantize_tensor(t, out.data()), InputError);
  t.nbytes = 20;
  t.shape = {16};  // not a whole block
  EXPECT_THROW(dequantize_tensor(t, out.data()), InputError);
  t.shape = {3, 32};
  t.nbytes = 60;
  t.unpermute_heads = 2;  // 3 rows cannot split into 2 heads
  std::vector<uint8_t> b3(60);
  t.data = b3.data();
  std::vector<float> out3(96);
  EXPECT_THROW(dequantize_tensor(t, out3.data()), InputError);
}

}  // namespace
}  // namespace bp::rt
