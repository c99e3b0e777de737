#pragma once
// Summary statistics of repeated measurements (timed metrics), as stored in the `summaries` table.
#include <vector>

namespace bp {

struct Summary {
  int n = 0;
  double median = 0, min = 0, max = 0;
  double p90 = 0;     // linear interpolation between order statistics at rank 0.9·(n−1) (numpy's default)
  double mean = 0;
  double stddev = 0;  // sample standard deviation (n−1 in the denominator); 0 when n == 1
  double cv = 0;      // stddev / |mean|; NaN when the mean is 0
};

// Quantile q in [0, 1] of `sorted` (ascending, non-empty), linear interpolation between order statistics.
double quantile_sorted(const std::vector<double>& sorted, double q);

// Throws std::invalid_argument for an empty input.
Summary summarize(std::vector<double> values);

}  // namespace bp
