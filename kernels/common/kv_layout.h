#pragma once
// Packed KV storage of one (layer, KV head): the layouts the quantizers write and the packed attention kernels read
// (CPU and CUDA). A store holds `tokens` tokens of head_dim channels as b-bit codes plus FP16 statistics; packing
// inside a run of codes follows kernels/common/quant_math.h. All offsets below are in elements of the named array.
//
// KEYS (role Keys) — token tiles, channel-major inside a tile, so that scoring runs SIMD lanes across tokens:
//   codes:  tile j = tokens [64j, 64j+64) at byte j·tile_bytes, tile_bytes = head_dim · 64 · b/8.
//           Inside a tile, channel d is one run of 64 codes (token 64j+i is code i) at byte d · 8b.
//           The last tile is allocated whole (padding codes are never read as tokens).
//   stats (scales; mins unless symmetric), FP16:
//     PerToken   (G channels of one token share a scale): [tile][channel group g][64]  -> (j·(D/G) + g)·64 + i
//     PerChannel (G tokens of one channel share a scale, KIVI): [token group t/G][channel d] -> (t/G)·D + d
//                G == 0: one group over all tokens of the store (ZipCache keys) -> d
// VALUES (role Values) — token-major rows, so the weighted sum runs SIMD lanes across channels:
//   codes:  row t at byte t·row_bytes, row_bytes = head_dim · b/8, one run of head_dim codes.
//   stats:  PerToken [t][g] -> t·(D/G) + g;  PerChannel [t/G][d] -> (t/G)·D + d  (G == 0: [d]).
//   norms:  optional per-channel normalizer c_d (FP16, [D], ZipCache's channel-separable quantizer):
//           value = (code·scale + min) · c_d. The array is owned by the caller (ZipCache shares one between its two
//           precision classes), so kv_store_bytes() does not count it.
// Groups: PerToken G divides head_dim (G = 0 means head_dim). PerChannel keys need G % 32 == 0 (or 0) so a 16-lane
// vector of tokens never straddles two groups; PerChannel values accept any G >= 1 (or 0).
// head_dim must be a multiple of 16 so every run ends on a whole byte; the SIMD kernels
// handle head_dim % 64 == 0 (64, 128, 256) and fall back to the scalar reference otherwise.
// Buffers need no particular alignment (kernels use unaligned loads).
#include <cstddef>
#include <cstdint>

#include "kernels/common/hd.h"
#include "kernels/common/quant_math.h"

namespace bp::kern {

inline constexpr int kKeyTile = 64;  // tokens per key tile

enum class KvRole : uint8_t { Keys = 0, Values = 1 };
enum class KvAxis : uint8_t {
  PerToken = 0,    // groups of G consecutive channels within one token
  PerChannel = 1,  // groups of G consecutive tokens within one channel
};

struct KvLayout {
  KvRole role = KvRole::Keys;
  int head_dim = 64;
  int bits = 4;  // 2, 4 or 8
  KvAxis axis = KvAxis::PerToken;
  int group = 0;  // see above; 0 = head_dim (PerToken) or all tokens of the store (PerChannel)
  bool symmetric = false;     // absmax with implied min = -2^(b-1)·scale; no mins stored
  bool channel_norm = false;  // values only: multiply by norms[d] after dequantization
};

// A layout from its fields, in the struct's order (for building one in an expression).
inline KvLayout make_kv_layout(KvRole role, int head_dim, int bits, KvAxis axis, int group, bool symmetric = false,
                               bool channel_norm = false) {
  KvLayout L;
  L.role = role;
  L.head_dim = head_dim;
  L.bits = bits;
  L.axis = axis;
  L.group = group;
  L.symmetric = symmetric;
  L.channel_norm = channel_norm;
  return L;
}

// Exact bytes a store of `tokens` tokens occupies (codes padded to whole key tiles; stats for every group touched).
struct KvStoreBytes {
  size_t codes = 0;
  size_t scales = 0;
  size_t mins = 0;
  size_t total() const { return codes + scales + mins; }
};

// Read-only view of a store. `norms` is used only when layout.channel_norm.
struct PackedKv {
  KvLayout layout;
  int64_t tokens = 0;
  const uint8_t* codes = nullptr;
  const uint16_t* scales = nullptr;
  const uint16_t* mins = nullptr;  // null when symmetric
  const uint16_t* norms = nullptr;
};

// Writable view (what the quantizers fill).
struct PackedKvMut {
  KvLayout layout;
  int64_t tokens = 0;
  uint8_t* codes = nullptr;
  uint16_t* scales = nullptr;
  uint16_t* mins = nullptr;
  uint16_t* norms = nullptr;  // read by the value quantizer (fill it with kv_channel_norms first)
  PackedKv view() const { return {layout, tokens, codes, scales, mins, norms}; }
};

// ---- geometry (host and device) -----------------------------------------------------------------------------
BP_HD int kv_group(const KvLayout& L) { return (L.axis == KvAxis::PerToken && L.group == 0) ? L.head_dim : L.group; }
BP_HD int64_t key_tile_bytes(const KvLayout& L) { return (int64_t)L.head_dim * kKeyTile * L.bits / 8; }
BP_HD int64_t key_run_bytes(const KvLayout& L) { return (int64_t)kKeyTile * L.bits / 8; }
BP_HD int64_t value_row_bytes(const KvLayout& L) { return (int64_t)L.head_dim * L.bits / 8; }

// Byte offset of the run holding (t, d) and the index of (t, d)'s code inside that run; the run length in codes.
struct KvCodeRef {
  int64_t run_byte;
  int64_t index;
  int64_t run_len;
};
BP_HD KvCodeRef kv_code_ref(const KvLayout& L, int64_t t, int d) {
  if (L.role == KvRole::Keys)
    return {(t / kKeyTile) * key_tile_bytes(L) + d * key_run_bytes(L), t % kKeyTile, kKeyTile};
  return {t * value_row_bytes(L), d, L.head_dim};
}

// Index of the scale (and min) of element (t, d).
BP_HD int64_t kv_stat_index(const KvLayout& L, int64_t t, int d) {
  const int G = kv_group(L);
  if (L.axis == KvAxis::PerChannel) return G == 0 ? d : (t / G) * L.head_dim + d;
  const int groups = L.head_dim / G;
  if (L.role == KvRole::Keys) return ((t / kKeyTile) * groups + d / G) * kKeyTile + t % kKeyTile;
  return t * groups + d / G;
}

BP_HD int kv_get_code(const PackedKv& s, int64_t t, int d) {
  const KvCodeRef r = kv_code_ref(s.layout, t, d);
  return get_code(s.codes + r.run_byte, r.index, r.run_len, s.layout.bits);
}

// Dequantized element (t, d), norms included: the definition every kernel reproduces.
BP_HD float kv_dequant(const PackedKv& s, int64_t t, int d) {
  const KvLayout& L = s.layout;
  const int64_t si = kv_stat_index(L, t, d);
  const float scale = f16_to_f32(s.scales[si]);
  const float mn = L.symmetric ? sym_min(scale, L.bits) : f16_to_f32(s.mins[si]);
  const float x = dequantize_code(kv_get_code(s, t, d), scale, mn);
  return (L.role == KvRole::Values && L.channel_norm) ? x * f16_to_f32(s.norms[d]) : x;
}

// ---- validation and byte counts (host) ----------------------------------------------------------------------
// nullptr when the layout is usable, else the reason.
inline const char* kv_layout_error(const KvLayout& L) {
  if (!valid_bits(L.bits)) return "bits must be 2, 4 or 8";
  if (L.head_dim <= 0 || L.head_dim % 16 != 0) return "head_dim must be a positive multiple of 16";
  if (L.group < 0) return "group must be >= 0";
  if (L.axis == KvAxis::PerToken && L.group != 0 && L.head_dim % L.group != 0)
    return "per-token group must divide head_dim";
  if (L.axis == KvAxis::PerChannel && L.role == KvRole::Keys && L.group % 32 != 0)
    return "per-channel key group must be a multiple of 32 (or 0 = all tokens)";
  if (L.channel_norm && L.role != KvRole::Values) return "channel_norm applies to values only";
  return nullptr;
}

// nullptr when tokens [t_begin, t_begin + n) may be quantized into a store of `tokens` tokens, else the reason
// (kernels/cpu/kv_quant.h: per-channel layouts are quantized in whole token groups).
inline const char* kv_range_error(const KvLayout& L, int64_t tokens, int64_t t_begin, int64_t n) {
  if (t_begin < 0 || n < 0 || t_begin + n > tokens) return "token range outside the store";
  if (L.axis != KvAxis::PerChannel || n == 0) return nullptr;
  const int G = kv_group(L);
  if (G == 0) return (t_begin != 0 || n != tokens) ? "a per-channel layout with group 0 is quantized whole" : nullptr;
  if (t_begin % G != 0 || ((t_begin + n) % G != 0 && t_begin + n != tokens))
    return "per-channel ranges must cover whole token groups";
  return nullptr;
}

inline KvStoreBytes kv_store_bytes(const KvLayout& L, int64_t tokens) {
  KvStoreBytes b;
  if (tokens <= 0) return b;
  const int G = kv_group(L);
  int64_t stats = 0;
  if (L.role == KvRole::Keys) {
    const int64_t tiles = (tokens + kKeyTile - 1) / kKeyTile;
    b.codes = (size_t)(tiles * key_tile_bytes(L));
    stats = L.axis == KvAxis::PerToken ? tiles * (L.head_dim / G) * kKeyTile
                                       : (G == 0 ? 1 : (tokens + G - 1) / G) * L.head_dim;
  } else {
    b.codes = (size_t)(tokens * value_row_bytes(L));
    stats = L.axis == KvAxis::PerToken ? tokens * (L.head_dim / G) : (G == 0 ? 1 : (tokens + G - 1) / G) * L.head_dim;
  }
  b.scales = (size_t)stats * 2;
  b.mins = L.symmetric ? 0 : (size_t)stats * 2;
  return b;
}

}  // namespace bp::kern
