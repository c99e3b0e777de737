#include "datasets/common/logprob.h"

#include <algorithm>
#include <cmath>

namespace bp::data {

double logsumexp(const float* row, int n) {
  float mx = row[0];
  for (int i = 1; i < n; ++i) mx = std::max(mx, row[i]);
  double s = 0;
  for (int i = 0; i < n; ++i) s += std::exp((double)row[i] - (double)mx);
  return (double)mx + std::log(s);
}

double token_nll(const float* row, int n, int target) { return logsumexp(row, n) - (double)row[target]; }

int argmax(const float* row, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (row[i] > row[best]) best = i;
  return best;
}

double NllStats::mean() const { return count_ ? sum_ / (double)count_ : 0.0; }

double NllStats::ppl() const { return std::exp(mean()); }

double NllStats::ppl_stderr() const {
  if (count_ < 2) return 0.0;
  const double m = mean();
  const double var = sum2_ / (double)count_ - m * m;
  if (!(var > 0)) return 0.0;
  return ppl() * std::sqrt(var / (double)(count_ - 1));
}

}  // namespace bp::data
