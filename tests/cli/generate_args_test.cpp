// `bench generate` argument errors are usage errors (exit code 2, a message naming the option), decided before any
// model is loaded.
#include <gtest/gtest.h>

#include "tests/cli/bench_process.h"
#include "tests/core/temp_dir.h"

namespace bp {
namespace {

TEST(CliGenerate, NonIntegerArgumentsAreUsageErrors) {
  test::TempDir dir;
  auto n = test::run_bench({"generate", "--model", "m.gguf", "--prompt", "hi", "-n", "abc"}, dir.path(), dir.path());
  EXPECT_EQ(n.code, 2) << n.err;
  EXPECT_NE(n.err.find("-n: expected an integer in [0, 1048576], got \"abc\""), std::string::npos) << n.err;
  auto trailing = test::run_bench({"generate", "--model", "m.gguf", "--prompt", "hi", "-n", "12x"}, dir.path(),
                                  dir.path());
  EXPECT_EQ(trailing.code, 2) << trailing.err;
  auto threads = test::run_bench({"generate", "--model", "m.gguf", "--prompt", "hi", "--threads", "two"}, dir.path(),
                                 dir.path());
  EXPECT_EQ(threads.code, 2) << threads.err;
  EXPECT_NE(threads.err.find("--threads: expected an integer in [1, 1024], got \"two\""), std::string::npos)
      << threads.err;
}

}  // namespace
}  // namespace bp
