#include "harness/runtime/io/dequant.h"

#include <fmt/format.h>

#include <cstring>

#include "harness/common/error.h"
#include "harness/runtime/io/dtype_info.h"
#include "harness/runtime/io/half.h"

namespace bp::rt {

namespace {

// Every block starts with (or ends with, for Q6_K) little-endian f16 scales; read them without alignment demands.
inline float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return half_to_float(h);
}

// Q4_0: {f16 d; u8 qs[16]}. Element j < 16 is the low nibble of qs[j], element j + 16 the high nibble; x = (q - 8) d.
void deq_q4_0(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 18, y += 32) {
    const float d = f16_at(b);
    const uint8_t* qs = b + 2;
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>((qs[j] & 0x0F) - 8) * d;
      y[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
    }
  }
}

// Q4_1: {f16 d; f16 m; u8 qs[16]}; x = q d + m, same nibble order as Q4_0.
void deq_q4_1(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 20, y += 32) {
    const float d = f16_at(b);
    const float m = f16_at(b + 2);
    const uint8_t* qs = b + 4;
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
      y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
    }
  }
}

// Q5_0: {f16 d; u8 qh[4]; u8 qs[16]}. Bit j of the 32-bit qh is the fifth bit of element j; x = (q - 16) d.
void deq_q5_0(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 22, y += 32) {
    const float d = f16_at(b);
    uint32_t qh;
    std::memcpy(&qh, b + 2, 4);
    const uint8_t* qs = b + 6;
    for (int j = 0; j < 16; ++j) {
      const int lo = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      y[j] = static_cast<float>(lo - 16) * d;
      y[j + 16] = static_cast<float>(hi - 16) * d;
    }
  }
}

// Q5_1: {f16 d; f16 m; u8 qh[4]; u8 qs[16]}; x = q d + m.
void deq_q5_1(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 24, y += 32) {
    const float d = f16_at(b);
    const float m = f16_at(b + 2);
    uint32_t qh;
    std::memcpy(&qh, b + 4, 4);
    const uint8_t* qs = b + 8;
    for (int j = 0; j < 16; ++j) {
      const int lo = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      y[j] = static_cast<float>(lo) * d + m;
      y[j + 16] = static_cast<float>(hi) * d + m;
    }
  }
}

// Q8_0: {f16 d; i8 qs[32]}; x = q d.
void deq_q8_0(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 34, y += 32) {
    const float d = f16_at(b);
    const auto* qs = reinterpret_cast<const int8_t*>(b + 2);
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(qs[j]) * d;
  }
}

// Q4_K super-block of 256: {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}. Eight sub-blocks of 32 have 6-bit scale
// and min codes packed in `scales`; x = d * sc * q - dmin * mn. Sub-blocks 2k and 2k+1 share 32 bytes of qs:
// low nibbles for 2k, high nibbles for 2k+1.
inline void q4k_scale_min(int j, const uint8_t* s, int* sc, int* mn) {
  if (j < 4) {
    *sc = s[j] & 63;
    *mn = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

void deq_q4_k(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 144) {
    const float d = f16_at(b);
    const float dmin = f16_at(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* q = b + 16;
    for (int k = 0; k < 4; ++k, q += 32, y += 64) {
      int sc0, mn0, sc1, mn1;
      q4k_scale_min(2 * k, scales, &sc0, &mn0);
      q4k_scale_min(2 * k + 1, scales, &sc1, &mn1);
      const float d0 = d * static_cast<float>(sc0), m0 = dmin * static_cast<float>(mn0);
      const float d1 = d * static_cast<float>(sc1), m1 = dmin * static_cast<float>(mn1);
      for (int l = 0; l < 32; ++l) {
        y[l] = d0 * static_cast<float>(q[l] & 0x0F) - m0;
        y[l + 32] = d1 * static_cast<float>(q[l] >> 4) - m1;
      }
    }
  }
}

// Q6_K super-block of 256: {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}. Each half (128 elements) uses 64 bytes
// of ql (low 4 bits), 32 bytes of qh (2 high bits each) and 8 scales (one per 16 elements); x = d * sc * (q - 32).
void deq_q6_k(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 210) {
    const uint8_t* ql = b;
    const uint8_t* qh = b + 128;
    const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
    const float d = f16_at(b + 208);
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, y += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

}  // namespace

void dequantize_row(DType t, const uint8_t* src, float* dst, int64_t n) {
  const int64_t nb = n / dtype_info(t).block;
  switch (t) {
    case DType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_at(src + 2 * i);
      return;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = bf16_to_float(h);
      }
      return;
    case DType::Q4_0:
      return deq_q4_0(src, dst, nb);
    case DType::Q4_1:
      return deq_q4_1(src, dst, nb);
    case DType::Q5_0:
      return deq_q5_0(src, dst, nb);
    case DType::Q5_1:
      return deq_q5_1(src, dst, nb);
    case DType::Q8_0:
      return deq_q8_0(src, dst, nb);
    case DType::Q4_K:
      return deq_q4_k(src, dst, nb);
    case DType::Q6_K:
      return deq_q6_k(src, dst, nb);
  }
  throw InputError("", "dtype", fmt::format("expected a supported tensor type, got id {}", static_cast<uint32_t>(t)));
}

std::vector<int64_t> llama_rope_row_order(int64_t rows, int n_heads) {
  std::vector<int64_t> order(static_cast<size_t>(rows));
  const int64_t hd = rows / n_heads;
  const int64_t half = hd / 2;
  for (int64_t h = 0; h < n_heads; ++h)
    for (int64_t p = 0; p < 2; ++p)
      for (int64_t i = 0; i < half; ++i) order[static_cast<size_t>(h * hd + p * half + i)] = h * hd + 2 * i + p;
  return order;
}

int64_t TensorRef::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

void dequantize_tensor(const TensorRef& t, float* out) {
  const std::string where = fmt::format("tensor '{}'", t.source_name.empty() ? t.name : t.source_name);
  if (t.shape.empty()) throw InputError("", where, "expected at least one dimension, got none");
  uint64_t numel = 1;
  for (int64_t d : t.shape) {
    if (d <= 0 || __builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel))
      throw InputError("", where, "expected positive dimensions with a representable product");
  }
  const auto cols = static_cast<uint64_t>(t.shape.back());
  uint64_t nbytes = 0;
  if (!dtype_nbytes(t.dtype, cols, numel, &nbytes) || nbytes != t.nbytes || (!t.data && nbytes != 0))
    throw InputError("", where,
                     fmt::format("expected {} bytes of {} data for shape of {} elements, got {}", nbytes,
                                 dtype_name(t.dtype), numel, t.nbytes));
  if (t.unpermute_heads <= 0) {
    dequantize_row(t.dtype, t.data, out, static_cast<int64_t>(numel));
    return;
  }
  // Heads split the outermost dimension: rows of a [rows, cols] projection, single elements of a 1-D bias.
  const int64_t rows = t.shape.front();
  const int64_t row_elems = static_cast<int64_t>(numel) / rows;
  if (rows % t.unpermute_heads != 0 || (rows / t.unpermute_heads) % 2 != 0)
    throw InputError("", where,
                     fmt::format("expected {} rows to split into {} heads of even size", rows, t.unpermute_heads));
  std::vector<float> stored(static_cast<size_t>(numel));
  dequantize_row(t.dtype, t.data, stored.data(), static_cast<int64_t>(numel));
  const std::vector<int64_t> order = llama_rope_row_order(rows, t.unpermute_heads);
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(out + r * row_elems, stored.data() + order[static_cast<size_t>(r)] * row_elems,
                static_cast<size_t>(row_elems) * sizeof(float));
}

}  // namespace bp::rt
