#pragma once
// Attention over a run of n tokens whose keys and values may be stored in different forms: a range of a packed
// store (kern::PackedKv) or FP16 rows. Methods whose key and value parts cover different token ranges need this:
// KIVI quantizes keys in blocks of R tokens but keeps the last R values in FP16, so some tokens have packed keys
// and FP16 values. Same-form runs go straight to the kernels (packed_attention, attention_partial_f16); mixed runs
// use a blocked path here (packed_scores / FP16 dot products, online softmax, values dequantized a block at a time;
// never an F32 copy of more than kBlock tokens).
#include <cstdint>

#include "kernels/common/kv_layout.h"

namespace bp::rt::kv {

// n consecutive rows of one side (keys or values): tokens [t0, t0 + n) of a packed store, or FP16 rows.
struct Rows {
  const kern::PackedKv* packed = nullptr;  // packed form (the view must outlive the call)
  int64_t t0 = 0;                          // packed: first token of the run inside the store
  const uint16_t* f16 = nullptr;           // FP16 form: row i at f16 + i·f16_stride
  int64_t f16_stride = 0;
  static Rows of(const kern::PackedKv& p, int64_t t0) { return {&p, t0, nullptr, 0}; }
  static Rows of_f16(const uint16_t* rows, int64_t stride) { return {nullptr, 0, rows, stride}; }
};

// Partial attention (max[m], sum[m], acc[m][D]) of m query rows (row i at q + i·q_stride, pre-scaled by
// 1/sqrt(D)) over the n tokens whose keys are `k` and values `v`. n == 0: the empty state.
void attend_rows(const float* q, int64_t q_stride, int m, int D, const Rows& k, const Rows& v, int64_t n, float* max,
                 float* sum, float* acc);

// Raw scores q_i · k_t, t < n: scores[i·score_stride + t].
void score_rows(const float* q, int64_t q_stride, int m, int D, const Rows& k, int64_t n, float* scores,
                int64_t score_stride);

// F32 copy of rows [r0, r0 + n) of a run (row i at x + i·stride), packed rows dequantized by the kernels' rule.
void read_rows(const Rows& r, int D, int64_t r0, int64_t n, float* x, int64_t stride);

}  // namespace bp::rt::kv
