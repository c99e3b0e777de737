#pragma once
// Partial ("flash") attention of m query rows over T full-precision keys/values, producing the online-softmax state
// of kernels/common/softmax_math.h (max, sum, acc) so that callers can merge it with partials over other key sets
// (e.g. a method's packed storage). Used for the new tokens of every forward call (prefill and decode steps).
#include <cstdint>

namespace bp::kern {

struct AttnF32Args {
  const float* q = nullptr;   // row i at q + i*q_stride, head_dim floats, already multiplied by the softmax scale
  int64_t q_stride = 0;
  int m = 0;                  // query rows
  const float* k = nullptr;   // key j at k + j*kv_stride
  const float* v = nullptr;   // value j at v + j*kv_stride
  int64_t kv_stride = 0;
  int T = 0;                  // keys
  int head_dim = 0;
  // Causality: row i sees keys j <= i + causal_offset. Use T - m when the m queries are the last m of the T keys,
  // or a value >= T for no mask.
  int64_t causal_offset = 0;
  float* out_max = nullptr;   // [m]
  float* out_sum = nullptr;   // [m]
  float* out_acc = nullptr;   // [m][head_dim]
};

// Scalar reference.
void attention_partial_f32_ref(const AttnF32Args& a);
// Fastest available implementation for the active ISA (kernels/cpu/isa.h); same results up to float rounding.
void attention_partial_f32(const AttnF32Args& a);

}  // namespace bp::kern
