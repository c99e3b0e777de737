#pragma once
// ZipCache (methods.md §1; arXiv 2405.14256; ThisisBillhe/ZipCache `modeling_llama.py`, `compress_class.py`):
// mixed-precision KV quantization driven by normalized attention scores.
//
// STORAGE per (layer, KV head): kern::MixedKvStore over the compressed tokens 0..C-1 (time order) — keys
// per-channel asymmetric with separate min/scale per precision class (G = all tokens of the class), values
// channel-separable tokenwise (c_d = sqrt(max_t |v_d|) over all C tokens, shared by both classes; per token-head
// asymmetric min-max of v / c) — plus an FP16 decode buffer (tokens C..C+B-1, B < streaming_gap).
// Harness choice: value stats are per (token, KV head) (4 B per token-head); the reference computes them over a row
// spanning all KV heads of a layer (4 B per token-layer), which mixes tokens of different heads once selection is
// per head (methods.md §1 pitfalls). Classes are a 1-bit-per-token-head bitmap, not index lists.
//
// PREFILL: probe rows P = the last ceil-ish `probe_recent`·n rows (n - floor((1 - probe_recent)·n)) + floor(
// `probe_random`·n) rows drawn uniformly WITHOUT replacement from the rest (the reference draws with replacement,
// torch.randint), seeded by MethodContext::seed and the layer; saliency=exact uses every row. The cache asks
// KvCacheBase::observe() for the ColumnSum of the probe rows' softmax probabilities (causal, over stored + new
// tokens, summed over the query heads of the KV group), then per KV head:
//   normalization=paper:     p̃_j = Σ_{i∈P} A_ij / |{i ∈ P : i >= j}|  (probes that see token j)
//   normalization=reference: p̃_j = Σ_{i∈P} A_ij / (T - j)             (the code: full-matrix count, which inflates
//                                                                       recent tokens when P is a subset)
//   normalization=none:      Σ_{i∈P} A_ij (accumulated attention, H2O-like; for the paper's ablation)
// (with saliency=exact the paper and reference normalizations coincide). The floor((1 - saliency_ratio)·T) tokens
// of lowest p̃ go to the low class (ties: earlier token first), the rest to the high class, and the whole cache
// (previously compressed tokens dequantized, buffer, new tokens) is quantized with fresh statistics. Attention of
// the prefill itself uses the exact new keys/values (as the reference's FlashAttention on FP16 K/V).
// DECODE: new tokens go to the FP16 buffer. When the buffer reaches streaming_gap tokens (counting the current
// one: every streaming_gap decode steps), the current query's UN-normalized attention (last row of the call, summed
// over the KV group's query heads) over the buffered tokens marks the lowest floor(B · unimportant_count /
// streaming_gap) of them (= unimportant_count for one-token steps) as low precision, the others high; older tokens
// keep their class; then the WHOLE cache is re-quantized from its dequantized values with fresh statistics (as the
// reference does). Cost O(T·D) per re-compression, and quantization error compounds: a token re-quantized k times
// carries k rounds of error (its values are no longer the original ones after the first).
//
// BYTES (exact, held): codes + FP16 scales + FP16 mins of the four stores (key codes in 64-token tiles as
// allocated) -> payload/scales/zeros; the shared value normalizer (D FP16) -> scales; the class bitmap
// (ceil(C/64) 64-bit words) -> indices; the FP16 buffer -> window.
#include <cstdint>
#include <string>
#include <vector>

#include "harness/runtime/kv/half_rows.h"
#include "harness/runtime/kv_cache_base.h"
#include "kernels/cpu/kv_quant.h"

namespace bp::methods::zipcache {

enum class Normalization { Paper, Reference, None };

struct Config {
  int bits_high = 4;
  int bits_low = 2;
  double saliency_ratio = 0.6;  // fraction of tokens in the high class at prefill
  Normalization normalization = Normalization::Paper;
  bool exact = false;           // every prefill row is a probe
  double probe_recent = 0.05;
  double probe_random = 0.05;
  int streaming_gap = 100;
  int unimportant_count = 40;
  int value_group = 0;          // channels per value scale group (0 = head_dim)
  uint64_t seed = 0;
};

// Probe rows of a prefill of n tokens in `layer` (ascending, unique). Deterministic per (seed, layer).
std::vector<int32_t> probe_rows(int n, double recent, double random, uint64_t seed, int layer);

// Normalized saliency of T = stored + n tokens from the ColumnSum of the probe rows `rows` (new-token indices).
std::vector<double> saliency(const float* colsum, int64_t stored, int n, const std::vector<int32_t>& rows,
                             Normalization norm);

// The indices (ascending) of the `low` tokens of lowest score (ties: earlier index first).
std::vector<int32_t> lowest(const std::vector<double>& score, int64_t low);

// The stats() both caches report: class fractions of the compressed tokens, buffered tokens, compressions.
nlohmann::json zipcache_stats(int64_t high, int64_t compressed, int64_t buffered, int64_t recompressions,
                              int n_layers, int64_t prefill_compressions, int probe_rows);

// Byte accounting shared by the CPU and the CUDA cache (see BYTES above), per (layer, KV head): one class store of
// `tokens` tokens in layout L (codes -> payload, scales, mins -> zeros), and the rest of the head: the normalizer
// c_d and the class bitmap while `compressed` > 0, and the FP16 buffer (`buffer_bytes`, both sides) as window.
void zipcache_add_store_bytes(rt::KvBytes& b, const kern::KvLayout& L, int64_t tokens);
void zipcache_add_head_bytes(rt::KvBytes& b, int64_t compressed, int head_dim, size_t buffer_bytes);

// The decode-phase schedule: a call of n tokens with `buffered` tokens in the FP16 buffer re-compresses.
inline bool zipcache_decode_due(int64_t buffered, int n, int streaming_gap) { return buffered + n >= streaming_gap; }

// Class flags (1 = high) over T = C + B + n tokens in time order for a compression step, from the observation in
// time order (`raw`: column sums over stored then new tokens): at prefill the lowest normalized saliency (over the
// probe rows `rows`) goes low; in decode the C compressed tokens keep `old_high` and the buffered + new ones are
// ranked by raw attention. Shared by the CPU and the CUDA cache.
std::vector<uint8_t> zipcache_classes(const Config& c, bool prefill, const std::vector<float>& raw, int64_t stored,
                                      int n, const std::vector<int32_t>& rows, const std::vector<uint8_t>& old_high);

class ZipCache : public rt::KvCacheBase {
 public:
  ZipCache(const rt::KvGeometry& g, const Config& c);
  rt::KvBytes bytes() const override;
  // The mixed stores' capacities (codes, stats, the class bitmap, the value normalizer), the FP16 decode buffer's,
  // and the observation (column sums, probe rows) while it is held between on_attention() and the rebuild.
  size_t bytes_allocated() const override;
  void reset() override;
  nlohmann::json stats() const override;

  // Inspection (tests, reports).
  const kern::MixedKvStore& mixed(int layer, int kv_head) const { return heads_[idx(layer, kv_head)].mixed; }
  int64_t buffered(int layer, int kv_head) const { return heads_[idx(layer, kv_head)].bk.size(); }
  int64_t recompressions() const { return recompressions_; }
  const Config& config() const { return cfg_; }

 protected:
  int64_t stored_len(int layer, int kv_head) const override;
  void attend_stored(int layer, int kv_head, const float* q, int m, float* max, float* sum,
                     float* acc) const override;
  void score_stored(int layer, int kv_head, const float* q, int m, float* scores) const override;
  void store(const rt::StoreBatch& s) override;
  rt::ObserveRequest observe(const rt::AttnBatch& b) const override;
  void on_attention(const rt::Observation& o) override;

 private:
  struct Head {
    kern::MixedKvStore mixed;
    rt::kv::HalfRows bk, bv;      // FP16 decode buffer
    // From on_attention, for store(): the column sums over stored + new tokens and the observed rows.
    std::vector<float> raw;
    std::vector<int32_t> rows;
  };
  size_t idx(int layer, int h) const { return (size_t)layer * g_.n_kv_heads + h; }
  // Re-quantizes compressed + buffer + the batch's tokens of one head with classes `high` (T entries).
  void rebuild(Head& hd, const rt::StoreBatch& s, int h, const std::vector<uint8_t>& high);
  bool decode_due(int layer, int n) const;
  std::vector<uint8_t> classes_of(const Head& hd) const;  // the compressed tokens' classes, time order

  Config cfg_;
  std::vector<Head> heads_;
  int64_t recompressions_ = 0;        // decode-phase whole-cache re-quantizations (summed over layers)
  int64_t prefill_compressions_ = 0;  // prefill-phase compressions (summed over layers)
  int last_probe_rows_ = 0;
};

}  // namespace bp::methods::zipcache
