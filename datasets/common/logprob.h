#pragma once
// Log-probabilities from F32 logits, with the sums in double precision (llama-perplexity's convention), and the
// perplexity statistics of protocols.md.
#include <cstdint>

namespace bp::data {

// log(sum_i exp(row[i])) over n logits, computed as max + log(sum exp(row - max)) in double.
double logsumexp(const float* row, int n);
// Negative log-likelihood of `target`: logsumexp(row) - row[target].
double token_nll(const float* row, int n, int target);
// Index of the largest logit; ties go to the lowest index (numpy's argmax).
int argmax(const float* row, int n);

// Running sums for perplexity: PPL = exp(mean NLL), with llama-perplexity's error estimate
// PPL * sqrt((E[nll^2] - E[nll]^2) / (count - 1)).
class NllStats {
 public:
  void add(double nll) {
    sum_ += nll;
    sum2_ += nll * nll;
    ++count_;
  }
  int64_t count() const { return count_; }
  double mean() const;        // 0 when empty
  double ppl() const;         // exp(mean)
  double ppl_stderr() const;  // 0 when count < 2 or the variance estimate is not positive (as llama-perplexity)

 private:
  double sum_ = 0, sum2_ = 0;
  int64_t count_ = 0;
};

}  // namespace bp::data
