#pragma once
// Decode-style attention of m query rows directly over a packed (quantized) or FP16 KV store, without an F32 copy
// of the cache: every packed byte is read once for all m rows (m = the query heads of one KV group × new tokens).
// Output: the online-softmax partial state of kernels/common/softmax_math.h (max[m], sum[m], acc[m][head_dim]),
// to be merged with partials over other key sets (new tokens, FP16 windows, the other precision class).
// No causal mask: every stored token precedes the queries. Empty range: max = -inf, sum = 0, acc = 0.
// Single-threaded; callers parallelize over KV heads (or over row blocks).
#include <cstdint>

#include "kernels/common/kv_layout.h"
#include "kernels/cpu/kv_quant.h"

namespace bp::kern {

struct PackedAttnArgs {
  const float* q = nullptr;  // row i at q + i·q_stride, head_dim floats, already multiplied by the softmax scale
  int64_t q_stride = 0;
  int m = 0;
  PackedKv k;  // role Keys
  PackedKv v;  // role Values, same tokens and head_dim as k
  int64_t t0 = 0;   // token range [t0, t1) of the stores
  int64_t t1 = -1;  // -1: k.tokens
  float* out_max = nullptr;  // [m]
  float* out_sum = nullptr;  // [m]
  float* out_acc = nullptr;  // [m][head_dim]
};

// Scalar reference: dequantizes element by element (kv_dequant) inside the loops.
void packed_attention_ref(const PackedAttnArgs& a);
// Fastest implementation for the active ISA; equal to the reference up to float rounding.
void packed_attention(const PackedAttnArgs& a);

// Raw scores q_i · k_t (no softmax) for t in [t0, t1): scores[i·score_stride + (t - t0)]. For observations and
// eviction scores.
void packed_scores_ref(const float* q, int64_t q_stride, int m, const PackedKv& k, int64_t t0, int64_t t1,
                       float* scores, int64_t score_stride);
void packed_scores(const float* q, int64_t q_stride, int m, const PackedKv& k, int64_t t0, int64_t t1, float* scores,
                   int64_t score_stride);

// ZipCache two-class store: partial over each class (packed_attention) merged with the log-sum-exp rule; the
// result is attention over all tokens. The _ref version uses packed_attention_ref.
void mixed_attention_ref(const float* q, int64_t q_stride, int m, const MixedKv& kv, float* out_max, float* out_sum,
                         float* out_acc);
void mixed_attention(const float* q, int64_t q_stride, int m, const MixedKv& kv, float* out_max, float* out_sum,
                     float* out_acc);
// Raw scores over all tokens in original token order: scores[i·score_stride + t].
void mixed_scores(const float* q, int64_t q_stride, int m, const MixedKv& kv, float* scores, int64_t score_stride);

// Attention over an FP16 cache (FP16 windows/buffers of KIVI or ZipCache, and the FP16-cache baseline): keys and
// values as IEEE half rows (bits), row t at k/v + t·kv_stride.
struct AttnF16Args {
  const float* q = nullptr;
  int64_t q_stride = 0;
  int m = 0;
  const uint16_t* k = nullptr;
  const uint16_t* v = nullptr;
  int64_t kv_stride = 0;
  int T = 0;
  int head_dim = 0;
  float* out_max = nullptr;
  float* out_sum = nullptr;
  float* out_acc = nullptr;
};
void attention_partial_f16_ref(const AttnF16Args& a);
void attention_partial_f16(const AttnF16Args& a);

}  // namespace bp::kern
