#pragma once
// Per-element math of KV quantization (shared by the CPU references, the SIMD kernels, the CUDA kernels and the
// tests): quantization parameters, the code of one value, its dequantized value, and where a code sits in a packed
// run of bytes.
//
// Dequantization is always  x ≈ code · scale + min  with an unsigned code in [0, 2^b - 1] and FP16-stored scale and
// min (a *minimum*, not an integer zero point):
//   asymmetric (min-max):  scale = fp16((hi - lo) / (2^b - 1)),  min = fp16(lo)
//   symmetric  (absmax):   scale = fp16(amax / (2^(b-1) - 1)),   min = -2^(b-1) · scale  (implied, not stored)
// Codes are computed from the *stored* (FP16-rounded) scale and min, so quantize/dequantize are consistent:
//   code = clamp(rint((x - min) · inv), 0, 2^b - 1),   inv = scale > 0 ? 1 / scale : 0
// rint rounds half to even in every path (CPU default rounding mode, _MM_FROUND_TO_NEAREST_INT, CUDA rintf), and
// (x - min) · inv cannot be contracted into an FMA, so the codes are bit-identical on CPU, SIMD and CUDA.
//
// Packing of a run of n codes of b bits (b in {2, 4, 8}; k = 8/b codes per byte; n a multiple of k): the run takes
// n/k bytes, cut into 16-byte chunks (the last one may be shorter, w < 16 bytes). Inside a chunk of w bytes, code i
// of the chunk (0 <= i < w·k) sits in byte i % w at bits [b·(i / w), b·(i / w) + b). For a full chunk: byte j holds
// codes j, j+16, j+32, j+48 (2-bit: bits 0-1, 2-3, 4-5, 6-7) or j, j+16 (4-bit: low nibble, high nibble).
// Why: one 16-byte load widened to 16 lanes and shifted by b·s gives codes 16s..16s+15 in order (AVX-512), and
// an 8-byte half gives 8 contiguous codes per shift (AVX2), so SIMD lanes always cover contiguous elements.
#include <cmath>
#include <cstdint>

#include "kernels/common/fp16.h"
#include "kernels/common/hd.h"

namespace bp::kern {

inline constexpr int kPackChunkBytes = 16;

BP_HD bool valid_bits(int bits) { return bits == 2 || bits == 4 || bits == 8; }
BP_HD int codes_per_byte(int bits) { return 8 / bits; }
BP_HD int code_max(int bits) { return (1 << bits) - 1; }
// Bytes of a packed run of n codes (n a multiple of codes_per_byte(bits)).
BP_HD int64_t packed_run_bytes(int64_t n, int bits) { return n * bits / 8; }

// FP16 storage of a statistic: saturates to the largest finite half so a huge value never becomes inf/NaN.
BP_HD uint16_t f16_stat(float x) {
  const float lim = 65504.0f;
  return f32_to_f16(x > lim ? lim : (x < -lim ? -lim : x));
}

struct QParams {
  float scale = 0.0f;  // FP16-representable
  float min = 0.0f;    // FP16-representable (asymmetric) or -2^(b-1)·scale (symmetric)
};

// Asymmetric min-max parameters over values in [lo, hi]; writes the stored halves.
BP_HD QParams qparams_asym(float lo, float hi, int bits, uint16_t* scale_h, uint16_t* min_h) {
  const float range = hi - lo;
  *scale_h = f16_stat(range > 0.0f ? range / (float)code_max(bits) : 0.0f);
  *min_h = f16_stat(lo);
  return {f16_to_f32(*scale_h), f16_to_f32(*min_h)};
}

BP_HD float sym_min(float scale, int bits) { return -(float)(1 << (bits - 1)) * scale; }

// Symmetric absmax parameters (amax = max |x|); only the scale is stored.
BP_HD QParams qparams_sym(float amax, int bits, uint16_t* scale_h) {
  *scale_h = f16_stat(amax > 0.0f ? amax / (float)((1 << (bits - 1)) - 1) : 0.0f);
  const float s = f16_to_f32(*scale_h);
  return {s, sym_min(s, bits)};
}

BP_HD float inv_scale(float scale) { return scale > 0.0f ? 1.0f / scale : 0.0f; }

BP_HD int quantize_code(float x, float min, float inv, int bits) {
  float t = rintf((x - min) * inv);
  t = fmaxf(t, 0.0f);  // also maps NaN to 0
  t = fminf(t, (float)code_max(bits));
  return (int)t;
}

// One fused multiply-add (fmaf), so the CPU reference, FMA vector code and the device agree bit for bit.
BP_HD float dequantize_code(int code, float scale, float min) { return fmaf((float)code, scale, min); }

// Position of code i inside a packed run of n codes: byte offset and bit shift (see the packing rule above).
struct CodePos {
  int64_t byte;
  int shift;
};

BP_HD CodePos code_pos(int64_t i, int64_t n, int bits) {
  const int k = codes_per_byte(bits);
  const int64_t per_chunk = (int64_t)kPackChunkBytes * k;
  const int64_t chunk = i / per_chunk;
  const int64_t base = chunk * kPackChunkBytes;
  const int64_t run_bytes = n / k;
  const int64_t w = run_bytes - base < kPackChunkBytes ? run_bytes - base : kPackChunkBytes;
  const int64_t j = i - chunk * per_chunk;
  return {base + j % w, (int)(bits * (j / w))};
}

// The inverse: index of the code held in byte `byte`, slot s (bits [b·s, b·s + b)) of a run of n codes. Lets one
// (device) thread own one output byte and write it whole.
BP_HD int64_t code_index(int64_t byte, int slot, int64_t n, int bits) {
  const int k = codes_per_byte(bits);
  const int64_t base = (byte / kPackChunkBytes) * kPackChunkBytes;
  const int64_t run_bytes = n / k;
  const int64_t w = run_bytes - base < kPackChunkBytes ? run_bytes - base : kPackChunkBytes;
  return base * k + slot * w + (byte - base);
}

BP_HD int get_code(const uint8_t* run, int64_t i, int64_t n, int bits) {
  const CodePos p = code_pos(i, n, bits);
  return (run[p.byte] >> p.shift) & code_max(bits);
}

// Overwrites code i (the other codes sharing the byte are kept).
BP_HD void set_code(uint8_t* run, int64_t i, int64_t n, int bits, int code) {
  const CodePos p = code_pos(i, n, bits);
  const int mask = code_max(bits) << p.shift;
  run[p.byte] = (uint8_t)((run[p.byte] & ~mask) | ((code << p.shift) & mask));
}

}  // namespace bp::kern
