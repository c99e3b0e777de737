// The corpus of malformed suites (tests/data/bad-suites): every file fails through the real CLI with exit code 2,
// the exact expected message, and nothing written.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/cli/bench_process.h"
#include "tests/core/temp_dir.h"

namespace bp {
namespace {

namespace fs = std::filesystem;

fs::path corpus_dir() { return fs::path(test::source_dir()) / "tests" / "data" / "bad-suites"; }

std::vector<std::string> corpus_names() {
  std::vector<std::string> names;
  for (const auto& f : fs::directory_iterator(corpus_dir()))
    if (f.path().extension() == ".json") names.push_back(f.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(BadSuites, CorpusIsLargeAndEveryFileHasItsExpectation) {
  auto names = corpus_names();
  EXPECT_GE(names.size(), 30u);
  for (const auto& n : names) EXPECT_TRUE(fs::exists(corpus_dir() / (n + ".expected"))) << n;
  for (const auto& f : fs::directory_iterator(corpus_dir()))
    if (f.path().extension() == ".expected") {
      EXPECT_TRUE(fs::exists(corpus_dir() / (f.path().stem().string() + ".json"))) << f.path();
    }
}

class BadSuite : public ::testing::TestWithParam<std::string> {};

TEST_P(BadSuite, FailsWithExitCode2AndTheExpectedMessage) {
  const std::string name = GetParam();
  std::string expected = read(corpus_dir() / (name + ".expected"));
  while (!expected.empty() && (expected.back() == '\n' || expected.back() == '\r')) expected.pop_back();
  ASSERT_FALSE(expected.empty());
  ASSERT_EQ(expected.find('\n'), std::string::npos) << "one line expected";
  test::TempDir dir;
  auto r = test::run_bench({"run", (corpus_dir() / (name + ".json")).string(), "--db", dir / "bench.db"}, dir.path(),
                           dir.path());
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("bench run: error: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(expected), std::string::npos) << "expected: " << expected << "\nstderr:   " << r.err;
  EXPECT_FALSE(fs::exists(dir / "bench.db")) << "an invalid suite must not write a database";
}

INSTANTIATE_TEST_SUITE_P(Corpus, BadSuite, ::testing::ValuesIn(corpus_names()),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string s = p.param;
                           std::replace(s.begin(), s.end(), '-', '_');
                           return s;
                         });

}  // namespace
}  // namespace bp
