#include "kernels/cpu/kv_quant.h"

#include "kernels/common/buffer_capacity.h"
#include "kernels/cpu/isa.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/common/fp16.h"
#include "kernels/common/quant_math.h"

namespace bp::kern {

namespace {

void require_layout(const KvLayout& L) {
  if (const char* e = kv_layout_error(L)) throw std::invalid_argument(std::string("KvLayout: ") + e);
}

void check_range(const KvLayout& L, int64_t tokens, int64_t t_begin, int n) {
  if (const char* e = kv_range_error(L, tokens, t_begin, n)) throw std::invalid_argument(std::string("kv_quantize: ") + e);
}

// Quantization parameters of the values in [lo, hi] (max |x| = amax), written at stat index si.
QParams make_params(const PackedKvMut& out, int64_t si, float lo, float hi) {
  const KvLayout& L = out.layout;
  if (L.symmetric) return qparams_sym(std::max(-lo, hi), L.bits, &out.scales[si]);
  return qparams_asym(lo, hi, L.bits, &out.scales[si], &out.mins[si]);
}

void put_code(const PackedKvMut& out, int64_t t, int d, int code) {
  const KvCodeRef r = kv_code_ref(out.layout, t, d);
  set_code(out.codes + r.run_byte, r.index, r.run_len, out.layout.bits, code);
}

}  // namespace

void kv_quantize_ref(const PackedKvMut& out, const float* x, int64_t x_stride, int64_t t_begin, int n,
                     const int32_t* row_index) {
  const KvLayout& L = out.layout;
  require_layout(L);
  check_range(L, out.tokens, t_begin, n);
  if (n == 0) return;
  const int D = L.head_dim;
  const int G = kv_group(L);
  auto row = [&](int i) { return x + (row_index ? (int64_t)row_index[i] : (int64_t)i) * x_stride; };

  // Values of ZipCache's channel-separable quantizer are x / c_d, computed as x · (1 / c_d).
  std::vector<float> inv_norm;
  const bool normed = L.role == KvRole::Values && L.channel_norm;
  if (normed) {
    if (!out.norms) throw std::invalid_argument("kv_quantize: channel_norm layout without norms");
    inv_norm.resize(D);
    for (int d = 0; d < D; ++d) inv_norm[d] = inv_scale(f16_to_f32(out.norms[d]));
  }
  auto elem = [&](int i, int d) { return normed ? row(i)[d] * inv_norm[d] : row(i)[d]; };

  if (L.axis == KvAxis::PerToken) {
    for (int i = 0; i < n; ++i) {
      const int64_t t = t_begin + i;
      for (int g0 = 0; g0 < D; g0 += G) {
        float lo = INFINITY, hi = -INFINITY;
        for (int d = g0; d < g0 + G; ++d) {
          lo = std::min(lo, elem(i, d));
          hi = std::max(hi, elem(i, d));
        }
        const QParams p = make_params(out, kv_stat_index(L, t, g0), lo, hi);
        const float inv = inv_scale(p.scale);
        for (int d = g0; d < g0 + G; ++d) put_code(out, t, d, quantize_code(elem(i, d), p.min, inv, L.bits));
      }
    }
    return;
  }
  // Per channel: one parameter pair per (token group, channel), from the group's tokens inside the range.
  const int64_t span = G == 0 ? n : G;
  for (int64_t a = 0; a < n; a += span) {
    const int b = (int)std::min<int64_t>(n, a + span);
    for (int d = 0; d < D; ++d) {
      float lo = INFINITY, hi = -INFINITY;
      for (int i = (int)a; i < b; ++i) {
        lo = std::min(lo, elem(i, d));
        hi = std::max(hi, elem(i, d));
      }
      const QParams p = make_params(out, kv_stat_index(L, t_begin + a, d), lo, hi);
      const float inv = inv_scale(p.scale);
      for (int i = (int)a; i < b; ++i) put_code(out, t_begin + i, d, quantize_code(elem(i, d), p.min, inv, L.bits));
    }
  }
}

void kv_dequantize_ref(const PackedKv& in, int64_t t_begin, int n, float* x, int64_t x_stride) {
  require_layout(in.layout);
  if (t_begin < 0 || n < 0 || t_begin + n > in.tokens)
    throw std::invalid_argument("kv_dequantize: token range outside the store");
  for (int i = 0; i < n; ++i)
    for (int d = 0; d < in.layout.head_dim; ++d) x[i * x_stride + d] = kv_dequant(in, t_begin + i, d);
}

// ---- fast paths ---------------------------------------------------------------------------------------------
// Same results as the references, bit for bit (tests/kernels/kv_quant_test.cpp): code positions are computed once
// per call (a token's position inside a key run is the same for every channel, a channel's position inside a value
// row the same for every token), and the per-element work is plain loops the compiler vectorizes.

namespace {

// quantize_code() for t = (x - min)·inv: clamping first and rounding half to even with the 1.5·2^23 trick (exact
// for t in [0, 255] under the default rounding mode) gives the same integer as rint-then-clamp; NaN maps to 0.
inline uint8_t code_of(float t, float qmax) {
  t = t > 0.0f ? t : 0.0f;
  t = t < qmax ? t : qmax;
  return (uint8_t)(int)((t + 12582912.0f) - 12582912.0f);
}

struct Positions {
  std::vector<int64_t> byte;  // values: byte of channel d in a row; keys: unused
  std::vector<int> shift;
  int head_dim = 0, bits = 0;  // what the table was built for (kept across calls: decode quantizes one token)
  void for_values(const KvLayout& L) {
    if (L.head_dim == head_dim && L.bits == bits) return;
    head_dim = L.head_dim;
    bits = L.bits;
    byte.resize(L.head_dim);
    shift.resize(L.head_dim);
    for (int d = 0; d < L.head_dim; ++d) {
      const CodePos p = code_pos(d, L.head_dim, L.bits);
      byte[d] = p.byte;
      shift[d] = p.shift;
    }
  }
};

// Writes the codes of token t (codes[d], d < head_dim).
void write_codes(const PackedKvMut& out, const Positions& pos, int64_t t, const uint8_t* codes) {
  const KvLayout& L = out.layout;
  const int D = L.head_dim;
  if (L.role == KvRole::Values) {
    uint8_t* row = out.codes + t * value_row_bytes(L);
    std::fill(row, row + value_row_bytes(L), uint8_t{0});
    for (int d = 0; d < D; ++d) row[pos.byte[d]] |= (uint8_t)(codes[d] << pos.shift[d]);
    return;
  }
  const CodePos p = code_pos(t % kKeyTile, kKeyTile, L.bits);
  const int64_t run = key_run_bytes(L);
  uint8_t* b = out.codes + (t / kKeyTile) * key_tile_bytes(L) + p.byte;
  const uint8_t keep = (uint8_t)~(code_max(L.bits) << p.shift);
  for (int d = 0; d < D; ++d) b[d * run] = (uint8_t)((b[d * run] & keep) | (codes[d] << p.shift));
}

}  // namespace

void kv_quantize(const PackedKvMut& out, const float* x, int64_t x_stride, int64_t t_begin, int n,
                 const int32_t* row_index) {
  const KvLayout& L = out.layout;
  require_layout(L);
  check_range(L, out.tokens, t_begin, n);
  if (n == 0) return;
  const int D = L.head_dim, G = kv_group(L);
  const float qmax = (float)code_max(L.bits);
  thread_local std::vector<float> norm_x, lo, hi, mn, inv;
  thread_local std::vector<uint8_t> codes;
  thread_local Positions pos;
  codes.resize(D);
  if (L.role == KvRole::Values) pos.for_values(L);
  const bool normed = L.role == KvRole::Values && L.channel_norm;
  std::vector<float> inv_norm;
  if (normed) {
    if (!out.norms) throw std::invalid_argument("kv_quantize: channel_norm layout without norms");
    inv_norm.resize(D);
    for (int d = 0; d < D; ++d) inv_norm[d] = inv_scale(f16_to_f32(out.norms[d]));
    norm_x.resize(D);
  }
  // Row i as the quantizer sees it (x / c_d for channel-normalized values).
  auto row = [&](int i) -> const float* {
    const float* r = x + (row_index ? (int64_t)row_index[i] : (int64_t)i) * x_stride;
    if (!normed) return r;
    for (int d = 0; d < D; ++d) norm_x[d] = r[d] * inv_norm[d];
    return norm_x.data();
  };

  if (L.axis == KvAxis::PerToken) {
    for (int i = 0; i < n; ++i) {
      const int64_t t = t_begin + i;
      const float* r = row(i);
      for (int g0 = 0; g0 < D; g0 += G) {
        float l = r[g0], h = r[g0];
        for (int d = g0 + 1; d < g0 + G; ++d) {
          l = r[d] < l ? r[d] : l;
          h = r[d] > h ? r[d] : h;
        }
        const QParams p = make_params(out, kv_stat_index(L, t, g0), l, h);
        const float iv = inv_scale(p.scale);
        for (int d = g0; d < g0 + G; ++d) codes[d] = code_of((r[d] - p.min) * iv, qmax);
      }
      write_codes(out, pos, t, codes.data());
    }
    return;
  }
  // Per channel: statistics per (token group, channel) over the group's tokens inside the range.
  lo.resize(D);
  hi.resize(D);
  mn.resize(D);
  inv.resize(D);
  const int64_t span = G == 0 ? n : G;
  for (int64_t a = 0; a < n; a += span) {
    const int b = (int)std::min<int64_t>(n, a + span);
    {
      const float* r = row((int)a);
      std::copy(r, r + D, lo.begin());
      std::copy(r, r + D, hi.begin());
    }
    for (int i = (int)a + 1; i < b; ++i) {
      const float* r = row(i);
      for (int d = 0; d < D; ++d) {
        lo[d] = r[d] < lo[d] ? r[d] : lo[d];
        hi[d] = r[d] > hi[d] ? r[d] : hi[d];
      }
    }
    for (int d = 0; d < D; ++d) {
      const QParams p = make_params(out, kv_stat_index(L, t_begin + a, d), lo[d], hi[d]);
      mn[d] = p.min;
      inv[d] = inv_scale(p.scale);
    }
    for (int i = (int)a; i < b; ++i) {
      const float* r = row(i);
      for (int d = 0; d < D; ++d) codes[d] = code_of((r[d] - mn[d]) * inv[d], qmax);
      write_codes(out, pos, t_begin + i, codes.data());
    }
  }
}

namespace {

// The dequantization loop, instantiated twice: for baseline x86-64 (fmaf and the half conversion are library /
// soft-float calls there) and inside a function compiled for AVX2+FMA+F16C, where both become single instructions.
// fmaf is correctly rounded either way and half-to-float is exact, so both give the reference's bits.
template <bool kHw>
[[gnu::always_inline]] inline float half_f(uint16_t h) {
  return f16_to_f32(h);  // exact integer conversion on both paths
}
template <bool kHw>
[[gnu::always_inline]] inline float fma_f(float a, float b, float c) {
  if constexpr (kHw) return __builtin_fmaf(a, b, c);  // expands to vfmadd inside the FMA-targeted caller
  else return dequantize_code((int)a, b, c);
}

template <bool kHw>
[[gnu::always_inline]] inline void dequantize_rows(const PackedKv& in, int64_t t_begin, int n, float* x, int64_t x_stride,
                            const Positions& pos, float* s, float* m, const float* norm) {
  const KvLayout& L = in.layout;
  const int D = L.head_dim;
  const int mask = code_max(L.bits);
  const bool normed = L.role == KvRole::Values && L.channel_norm;
  const float smin = -(float)(1 << (L.bits - 1));
  for (int i = 0; i < n; ++i) {
    const int64_t t = t_begin + i;
    float* o = x + i * x_stride;
    for (int d = 0; d < D; ++d) {
      const int64_t si = kv_stat_index(L, t, d);
      s[d] = half_f<kHw>(in.scales[si]);
      m[d] = L.symmetric ? smin * s[d] : half_f<kHw>(in.mins[si]);
    }
    if (L.role == KvRole::Values) {
      const uint8_t* row = in.codes + t * value_row_bytes(L);
      for (int d = 0; d < D; ++d) o[d] = fma_f<kHw>((float)((row[pos.byte[d]] >> pos.shift[d]) & mask), s[d], m[d]);
    } else {
      const CodePos p = code_pos(t % kKeyTile, kKeyTile, L.bits);
      const uint8_t* b = in.codes + (t / kKeyTile) * key_tile_bytes(L) + p.byte;
      const int64_t run = key_run_bytes(L);
      for (int d = 0; d < D; ++d) o[d] = fma_f<kHw>((float)((b[d * run] >> p.shift) & mask), s[d], m[d]);
    }
    if (normed)
      for (int d = 0; d < D; ++d) o[d] *= norm[d];
  }
}

__attribute__((target("avx2,fma,f16c"))) void dequantize_rows_hw(const PackedKv& in, int64_t t_begin, int n,
                                                                  float* x, int64_t x_stride, const Positions& pos,
                                                                  float* s, float* m, const float* norm) {
  dequantize_rows<true>(in, t_begin, n, x, x_stride, pos, s, m, norm);
}

}  // namespace

void kv_dequantize(const PackedKv& in, int64_t t_begin, int n, float* x, int64_t x_stride) {
  const KvLayout& L = in.layout;
  require_layout(L);
  if (t_begin < 0 || n < 0 || t_begin + n > in.tokens)
    throw std::invalid_argument("kv_dequantize: token range outside the store");
  const int D = L.head_dim;
  Positions pos;
  if (L.role == KvRole::Values) pos.for_values(L);
  std::vector<float> norm(D, 1.0f), s(D), m(D);
  if (L.role == KvRole::Values && L.channel_norm)
    for (int d = 0; d < D; ++d) norm[d] = f16_to_f32(in.norms[d]);
  if (active_isa() >= Isa::Avx2) dequantize_rows_hw(in, t_begin, n, x, x_stride, pos, s.data(), m.data(), norm.data());
  else dequantize_rows<false>(in, t_begin, n, x, x_stride, pos, s.data(), m.data(), norm.data());
}

void kv_channel_norms(const float* x, int64_t x_stride, int n, int head_dim, uint16_t* norms) {
  for (int d = 0; d < head_dim; ++d) {
    float mx = 0.0f;
    for (int i = 0; i < n; ++i) mx = std::max(mx, std::fabs(x[i * x_stride + d]));
    norms[d] = f16_stat(std::sqrt(mx));
  }
}

// ---- KvStore ------------------------------------------------------------------------------------------------

KvStore::KvStore(const KvLayout& layout) : layout_(layout) { require_layout(layout); }

void KvStore::resize(int64_t tokens) {
  if (tokens < 0) throw std::invalid_argument("KvStore::resize: negative token count");
  const KvStoreBytes b = kv_store_bytes(layout_, tokens);
  // Bounded growth and shrink (kernels/common/buffer_capacity.h): the capacity stays within 1/8 (plus one quantum)
  // of what the tokens need, instead of std::vector's 2x, and drops after a compaction. Quantum: one key tile, or
  // 16 value rows (and the stats of that many tokens).
  const KvStoreBytes q = kv_store_bytes(layout_, layout_.role == KvRole::Keys ? kKeyTile : 16);
  resize_bounded(codes_, b.codes, q.codes);
  resize_bounded(scales_, b.scales / 2, q.scales / 2);
  resize_bounded(mins_, b.mins / 2, q.mins / 2);
  tokens_ = tokens;
}

void KvStore::reserve(int64_t tokens) {
  const KvStoreBytes b = kv_store_bytes(layout_, tokens);
  if (b.codes > codes_.capacity()) set_capacity(codes_, b.codes);
  if (b.scales / 2 > scales_.capacity()) set_capacity(scales_, b.scales / 2);
  if (b.mins / 2 > mins_.capacity()) set_capacity(mins_, b.mins / 2);
}

PackedKv KvStore::view(const uint16_t* norms) const {
  return {layout_, tokens_, codes_.data(), scales_.data(), layout_.symmetric ? nullptr : mins_.data(), norms};
}

PackedKvMut KvStore::mut(uint16_t* norms) {
  return {layout_, tokens_, codes_.data(), scales_.data(), layout_.symmetric ? nullptr : mins_.data(), norms};
}

KvStoreBytes KvStore::bytes() const {
  return {codes_.capacity(), scales_.capacity() * 2, mins_.capacity() * 2};
}

// ---- MixedKvStore -----------------------------------------------------------------------------------------

MixedKvStore::MixedKvStore(int head_dim, int hi_bits, int lo_bits, int value_group) : head_dim_(head_dim) {
  auto keys = [&](int bits) {
    KvLayout L;
    L.role = KvRole::Keys;
    L.head_dim = head_dim;
    L.bits = bits;
    L.axis = KvAxis::PerChannel;
    L.group = 0;
    return KvStore(L);
  };
  auto values = [&](int bits) {
    KvLayout L;
    L.role = KvRole::Values;
    L.head_dim = head_dim;
    L.bits = bits;
    L.axis = KvAxis::PerToken;
    L.group = value_group;
    L.channel_norm = true;
    return KvStore(L);
  };
  k_hi_ = keys(hi_bits);
  k_lo_ = keys(lo_bits);
  v_hi_ = values(hi_bits);
  v_lo_ = values(lo_bits);
  norms_.assign(head_dim, 0);
}

void MixedKvStore::quantize(const float* k, const float* v, int64_t stride, int64_t T, const uint8_t* high) {
  if (T < 0 || T > INT32_MAX) throw std::invalid_argument("MixedKvStore::quantize: bad token count");
  tokens_ = T;
  mask_.assign((size_t)(T + 63) / 64, 0);
  std::vector<int32_t> hi, lo;
  for (int64_t t = 0; t < T; ++t) {
    if (high[t]) {
      mask_[t / 64] |= uint64_t{1} << (t % 64);
      hi.push_back((int32_t)t);
    } else {
      lo.push_back((int32_t)t);
    }
  }
  kv_channel_norms(v, stride, (int)T, head_dim_, norms_.data());
  auto fill = [&](KvStore& ks, KvStore& vs, const std::vector<int32_t>& rows) {
    const int n = (int)rows.size();
    ks.resize(n);
    vs.resize(n);
    if (n == 0) return;
    kv_quantize(ks.mut(), k, stride, 0, n, rows.data());
    kv_quantize(vs.mut(norms_.data()), v, stride, 0, n, rows.data());
  };
  fill(k_hi_, v_hi_, hi);
  fill(k_lo_, v_lo_, lo);
}

MixedKv MixedKvStore::view() const {
  MixedKv m;
  m.tokens = tokens_;
  m.hi_mask = mask_.data();
  m.k_hi = k_hi_.view();
  m.k_lo = k_lo_.view();
  m.v_hi = v_hi_.view(norms_.data());
  m.v_lo = v_lo_.view(norms_.data());
  return m;
}

MixedKvBytes MixedKvStore::bytes() const {
  MixedKvBytes b;
  for (const KvStore* s : {&k_hi_, &v_hi_, &k_lo_, &v_lo_}) {
    const KvStoreBytes x = s->bytes();
    b.stores.codes += x.codes;
    b.stores.scales += x.scales;
    b.stores.mins += x.mins;
  }
  b.norms = norms_.capacity() * 2;
  b.mask = mask_.capacity() * 8;
  return b;
}

const KvStore& MixedKvStore::store(bool keys, bool high) const {
  return keys ? (high ? k_hi_ : k_lo_) : (high ? v_hi_ : v_lo_);
}

}  // namespace bp::kern
