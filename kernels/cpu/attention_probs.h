#pragma once
// Attention probabilities of chosen query rows, for methods that look at attention (H2O's accumulated scores,
// SnapKV's observation window, ZipCache's probe saliency). Given each row's final softmax statistics (max and sum
// over every key the row attends, as the attention pass computed them), the probability of key j for row i is
//   p(i, j) = exp(q_i · k_j - max_i) / sum_i          (0 where row i cannot see key j: j > i + causal_offset)
// and the kernel ADDS either the column sums Σ_i p(i, j) or the rows p(i, ·) into the caller's buffers, so the
// caller can sum over the query heads of a KV group by calling once per head. Never materialises more than a row.
#include <cstdint>

namespace bp::kern {

struct AttnProbArgs {
  const float* q = nullptr;  // row i at q + i·q_stride, head_dim floats, pre-multiplied by the softmax scale
  int64_t q_stride = 0;
  int m = 0;
  const float* k = nullptr;  // key j at k + j·k_stride
  int64_t k_stride = 0;
  int T = 0;
  int head_dim = 0;
  int64_t causal_offset = 0;          // row i sees keys j <= i + causal_offset
  const float* row_max = nullptr;     // [m]
  const float* row_sum = nullptr;     // [m], > 0
  float* col_sum = nullptr;           // [T]: += Σ_i p(i, j)      (either or both of col_sum / probs)
  float* probs = nullptr;             // row i at probs + i·probs_stride: += p(i, j) for j < T
  int64_t probs_stride = 0;
};

void attention_probs_f32_ref(const AttnProbArgs& a);
void attention_probs_f32(const AttnProbArgs& a);

// Scores already computed (e.g. by a method's packed kernel): adds exp(s[j] - max) / sum to out[j] for j < n.
void add_probs_from_scores_ref(const float* s, int n, float max, float sum, float* out);
void add_probs_from_scores(const float* s, int n, float max, float sum, float* out);

namespace avx2 {
void attention_probs_f32(const AttnProbArgs& a);
void add_probs_from_scores(const float* s, int n, float max, float sum, float* out);
}  // namespace avx2
namespace avx512 {
void attention_probs_f32(const AttnProbArgs& a);
void add_probs_from_scores(const float* s, int n, float max, float sum, float* out);
}  // namespace avx512

}  // namespace bp::kern
