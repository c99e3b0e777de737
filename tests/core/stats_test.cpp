// Summary statistics against values computed independently (numpy: median, percentile(90) with linear
// interpolation, std(ddof=1)).
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "harness/core/stats.h"

namespace bp {
namespace {

TEST(Stats, MatchesNumpyOnAnUnsortedSample) {
  Summary s = summarize({3, 1, 4, 1, 5, 9, 2, 6});
  EXPECT_EQ(s.n, 8);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 9);
  EXPECT_DOUBLE_EQ(s.median, 3.5);
  EXPECT_NEAR(s.p90, 6.9, 1e-12);
  EXPECT_DOUBLE_EQ(s.mean, 3.875);
  EXPECT_NEAR(s.stddev, 2.748376143938713, 1e-12);
  EXPECT_NEAR(s.cv, 0.7092583597261195, 1e-12);
}

TEST(Stats, TwoValuesAndOddCounts) {
  Summary two = summarize({12, 10});
  EXPECT_DOUBLE_EQ(two.median, 11);
  EXPECT_NEAR(two.p90, 11.8, 1e-12);
  EXPECT_NEAR(two.cv, 0.128564869306645, 1e-12);
  Summary odd = summarize({5, 1, 3});
  EXPECT_DOUBLE_EQ(odd.median, 3);
}

TEST(Stats, SingleValueAndZeroMean) {
  Summary one = summarize({4});
  EXPECT_DOUBLE_EQ(one.median, 4);
  EXPECT_DOUBLE_EQ(one.p90, 4);
  EXPECT_DOUBLE_EQ(one.stddev, 0);
  EXPECT_DOUBLE_EQ(one.cv, 0);
  Summary zero = summarize({-1, 1});
  EXPECT_TRUE(std::isnan(zero.cv));
  EXPECT_THROW(summarize({}), std::invalid_argument);
}

TEST(Stats, QuantileEndpoints) {
  std::vector<double> v = {1, 2, 3, 4, 5};
  EXPECT_DOUBLE_EQ(quantile_sorted(v, 0), 1);
  EXPECT_DOUBLE_EQ(quantile_sorted(v, 1), 5);
  EXPECT_DOUBLE_EQ(quantile_sorted(v, 0.25), 2);
  EXPECT_DOUBLE_EQ(quantile_sorted(v, 0.9), 4.6);
}

}  // namespace
}  // namespace bp
