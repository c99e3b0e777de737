#pragma once
// Online-softmax partial states of m query rows (max[m], sum[m], acc[m][D]; kernels/common/softmax_math.h), and
// merging several of them. A cache whose tokens live in several parts (a packed store plus an FP16 window, two
// precision classes, ...) computes one partial per part and merges them: the result is exactly attention over the
// union of the parts.
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/common/softmax_math.h"

namespace bp::rt::kv {

// Sets m rows to the empty state (max = -inf, sum = 0, acc = 0).
inline void partial_clear(int m, int D, float* max, float* sum, float* acc) {
  for (int i = 0; i < m; ++i) {
    max[i] = -INFINITY;
    sum[i] = 0.0f;
  }
  for (int64_t i = 0; i < (int64_t)m * D; ++i) acc[i] = 0.0f;
}

// (a) <- merge(a, b), row by row.
inline void partial_merge(int m, int D, float* a_max, float* a_sum, float* a_acc, const float* b_max,
                          const float* b_sum, const float* b_acc) {
  for (int i = 0; i < m; ++i)
    kern::merge_partial_row(a_max[i], a_sum[i], a_acc + (int64_t)i * D, b_max[i], b_sum[i], b_acc + (int64_t)i * D, D);
}

// Scratch partial state (one per call: attend_stored runs concurrently, so never share one between threads).
struct Partial {
  std::vector<float> max, sum, acc;
  void resize(int m, int D) {
    max.resize(m);
    sum.resize(m);
    acc.resize((size_t)m * D);
  }
  // Merges this partial into (a_max, a_sum, a_acc).
  void merge_into(int m, int D, float* a_max, float* a_sum, float* a_acc) const {
    partial_merge(m, D, a_max, a_sum, a_acc, max.data(), sum.data(), acc.data());
  }
};

}  // namespace bp::rt::kv
