#pragma once
// Quantization of keys/values into the packed layouts of kernels/common/kv_layout.h, the way back to F32, an owning
// store for one (layer, KV head), and ZipCache's two-precision store. Per-element math: kernels/common/quant_math.h.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/common/kv_layout.h"

namespace bp::kern {

// Quantizes n F32 rows (head_dim floats each; row i at x + i·x_stride, or at x + row_index[i]·x_stride when
// row_index is given) into tokens [t_begin, t_begin + n) of `out` (out.tokens >= t_begin + n), codes and stats.
//   PerToken: any range; each (token, group) gets its own stats.
//   PerChannel: each token group's stats come from that group's tokens inside the range, so quantize whole groups
//   (t_begin % G == 0; only the store's last group may be partial). G == 0: the range must be the whole store.
//   Values with channel_norm: out.norms must hold the normalizers already (kv_channel_norms), the quantized
//   quantity is x[d] · (1 / c_d) (0 where c_d == 0).
// Throws std::invalid_argument on an invalid layout or range.
void kv_quantize(const PackedKvMut& out, const float* x, int64_t x_stride, int64_t t_begin, int n,
                 const int32_t* row_index = nullptr);
// Element-by-element version (quantize_code, set_code): the definition kv_quantize is tested against, bit for bit.
void kv_quantize_ref(const PackedKvMut& out, const float* x, int64_t x_stride, int64_t t_begin, int n,
                     const int32_t* row_index = nullptr);

// Writes tokens [t_begin, t_begin + n) back as F32 rows (row i at x + i·x_stride), norms applied: element by
// element exactly kv_dequant() of kv_layout.h.
void kv_dequantize(const PackedKv& in, int64_t t_begin, int n, float* x, int64_t x_stride);
void kv_dequantize_ref(const PackedKv& in, int64_t t_begin, int n, float* x, int64_t x_stride);

// ZipCache's channel normalizer over n rows: c_d = fp16(sqrt(max_i |x_i[d]|)), d < head_dim.
void kv_channel_norms(const float* x, int64_t x_stride, int n, int head_dim, uint16_t* norms);

// Owning storage of one store. Grows like a vector; bytes() reports what is allocated (capacity, real dtypes).
class KvStore {
 public:
  KvStore() = default;
  explicit KvStore(const KvLayout& layout);  // throws std::invalid_argument (kv_layout_error)
  const KvLayout& layout() const { return layout_; }
  int64_t tokens() const { return tokens_; }
  // Sets the token count; codes/stats of tokens already held are kept, new ones are zero.
  void resize(int64_t tokens);
  void reserve(int64_t tokens);
  void clear() { resize(0); }
  PackedKv view(const uint16_t* norms = nullptr) const;
  PackedKvMut mut(uint16_t* norms = nullptr);
  // ALLOCATED bytes (vector capacities), not the bytes the held tokens need (that is kv_store_bytes(layout(),
  // tokens())). resize()/reserve() keep the two close (kernels/common/buffer_capacity.h).
  KvStoreBytes bytes() const;

 private:
  KvLayout layout_;
  int64_t tokens_ = 0;
  std::vector<uint8_t> codes_;
  std::vector<uint16_t> scales_, mins_;
};

// ---- ZipCache mixed precision ------------------------------------------------------------------------------
// Tokens 0..T-1 of one (layer, KV head) split into a high-bit and a low-bit class. Each class is an ordinary pair
// of stores holding its tokens in ascending original order; hi_mask bit t (word t/64, bit t%64) says token t is in
// the high class, so its rank inside its class is a popcount of the mask before it.
//   keys:   PerChannel, G = 0 (one asymmetric min/scale per channel and class, over all tokens of the class)
//   values: PerToken asymmetric over x / c (group value_group, 0 = head_dim), c_d = sqrt(max over ALL T tokens
//           |v_d|) shared by both classes (one FP16 array), applied once per output row by the attention kernel.
struct MixedKv {
  int64_t tokens = 0;
  const uint64_t* hi_mask = nullptr;
  PackedKv k_hi, v_hi, k_lo, v_lo;  // v_hi.norms == v_lo.norms
};

struct MixedKvBytes {
  KvStoreBytes stores;  // codes, scales, mins of the four stores
  size_t norms = 0;     // the shared value normalizer
  size_t mask = 0;      // the class bitmap
  size_t total() const { return stores.total() + norms + mask; }
};

class MixedKvStore {
 public:
  MixedKvStore() = default;
  MixedKvStore(int head_dim, int hi_bits, int lo_bits, int value_group = 0);
  int64_t tokens() const { return tokens_; }
  int64_t high_tokens() const { return k_hi_.tokens(); }
  // Re-quantizes the whole store from T F32 rows of keys and values (row t at k/v + t·stride); high[t] != 0
  // puts token t in the high class. Replaces what was held (ZipCache re-compresses the whole cache).
  void quantize(const float* k, const float* v, int64_t stride, int64_t T, const uint8_t* high);
  MixedKv view() const;
  MixedKvBytes bytes() const;  // ALLOCATED bytes (capacities of the stores, the mask and the normalizer)
  const KvStore& store(bool keys, bool high) const;

 private:
  KvStore k_hi_, v_hi_, k_lo_, v_lo_;
  std::vector<uint64_t> mask_;
  std::vector<uint16_t> norms_;
  int64_t tokens_ = 0;
  int head_dim_ = 0;
};

}  // namespace bp::kern
