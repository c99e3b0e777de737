#pragma once
// Online-softmax ("flash") partial attention state and its merge rule, shared by every attention kernel (F32,
// packed-quantized, CPU and CUDA). For one query row over a set of keys S:
//   max = max_{j in S} s_j,   sum = Σ_{j in S} exp(s_j - max),   acc[d] = Σ_{j in S} exp(s_j - max) · v_j[d]
// The attention output over S is acc / sum. Two disjoint key sets merge exactly with the log-sum-exp rule below.
// An empty set is max = -INFINITY, sum = 0, acc = 0.
#include <cmath>

#include "kernels/common/hd.h"

namespace bp::kern {

// Merges partial (b_max, b_sum, b_acc) into (a_max, a_sum, a_acc) for one row of `d` values.
BP_HD void merge_partial_row(float& a_max, float& a_sum, float* a_acc, float b_max, float b_sum, const float* b_acc,
                             int d) {
  if (b_sum == 0.0f) return;
  if (a_sum == 0.0f) {
    a_max = b_max;
    a_sum = b_sum;
    for (int i = 0; i < d; ++i) a_acc[i] = b_acc[i];
    return;
  }
  const float m = a_max > b_max ? a_max : b_max;
  const float ca = expf(a_max - m), cb = expf(b_max - m);
  a_sum = a_sum * ca + b_sum * cb;
  for (int i = 0; i < d; ++i) a_acc[i] = a_acc[i] * ca + b_acc[i] * cb;
  a_max = m;
}

// Probability of a key with score s (q·k, q pre-scaled) for a row whose final statistics over every key it attends
// are (max, sum): what the observation kernels (CPU attention_probs, CUDA attention_probs.cu) add up.
BP_HD float prob_from_score(float s, float max, float inv_sum) { return expf(s - max) * inv_sum; }

// The statistics of a row over two disjoint key sets: merge_partial_row without the accumulator.
BP_HD void merge_row_stats(float& a_max, float& a_sum, float b_max, float b_sum) {
  merge_partial_row(a_max, a_sum, nullptr, b_max, b_sum, nullptr, 0);
}

}  // namespace bp::kern
