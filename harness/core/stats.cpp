#include "harness/core/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace bp {

double quantile_sorted(const std::vector<double>& sorted, double q) {
  const double pos = q * (double)(sorted.size() - 1);
  const size_t lo = (size_t)std::floor(pos);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = pos - (double)lo;
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

Summary summarize(std::vector<double> values) {
  if (values.empty()) throw std::invalid_argument("summarize: no values");
  std::sort(values.begin(), values.end());
  Summary s;
  s.n = (int)values.size();
  s.min = values.front();
  s.max = values.back();
  s.median = quantile_sorted(values, 0.5);
  s.p90 = quantile_sorted(values, 0.9);
  // Two-pass mean/variance: exact enough for timings and free of the one-pass formula's cancellation.
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / s.n;
  double ss = 0;
  for (double v : values) ss += (v - s.mean) * (v - s.mean);
  s.stddev = s.n > 1 ? std::sqrt(ss / (s.n - 1)) : 0.0;
  s.cv = s.mean != 0 ? s.stddev / std::fabs(s.mean) : std::numeric_limits<double>::quiet_NaN();
  return s;
}

}  // namespace bp
