// The README's two set-up commands, .ci/run and the pull-request workflow must agree: CI runs exactly the
// documented test command, and command (a) ends with `bench run suites/kv.json`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <sys/stat.h>

#include "tests/common/test_env.h"

namespace bp {
namespace {

std::string read(const std::string& rel) {
  std::ifstream in(test::source_dir() + "/" + rel);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The first line of the ```sh block that follows `marker` in the README.
std::string readme_command(const std::string& marker) {
  std::string readme = read("README.md");
  size_t at = readme.find(marker);
  if (at == std::string::npos) return "";
  size_t block = readme.find("```sh\n", at);
  if (block == std::string::npos) return "";
  size_t start = block + 6;
  return readme.substr(start, readme.find('\n', start) - start);
}

TEST(SetupDocs, ReadmeHasTheTwoCommands) {
  std::string run = readme_command("**(a)");
  std::string tests = readme_command("**(b)");
  EXPECT_EQ(run, "scripts/setup.sh && build/bin/bench run suites/kv.json");
  EXPECT_EQ(tests, "scripts/setup.sh && ctest --test-dir build --output-on-failure");
  EXPECT_TRUE(std::filesystem::exists(test::source_dir() + "/suites/kv.json"));
}

TEST(SetupDocs, CiRunsTheReadmeTestCommand) {
  const std::string tests = readme_command("**(b)");
  ASSERT_FALSE(tests.empty());
  std::string ci = read(".ci/run");
  EXPECT_NE(ci.find("\n" + tests + "\n"), std::string::npos) << ci;
  struct stat st {};
  ASSERT_EQ(stat((test::source_dir() + "/.ci/run").c_str(), &st), 0);
  EXPECT_TRUE(st.st_mode & S_IXUSR) << ".ci/run must be executable";
  std::string workflow = read(".github/workflows/ci.yml");
  EXPECT_NE(workflow.find("pull_request"), std::string::npos);
  EXPECT_NE(workflow.find("run: " + tests + "\n"), std::string::npos) << workflow;
  struct stat setup {};
  ASSERT_EQ(stat((test::source_dir() + "/scripts/setup.sh").c_str(), &setup), 0);
  EXPECT_TRUE(setup.st_mode & S_IXUSR);
}

// Every Debian package the set-up installs exists as a name line (no stray words), and the packages the build
// needs are listed.
TEST(SetupDocs, DebianPackageListNamesTheBuildDependencies) {
  std::istringstream in(read("scripts/debian-packages.txt"));
  std::vector<std::string> pkgs;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    EXPECT_TRUE(std::regex_match(line, std::regex("[a-z0-9][a-z0-9.+-]*"))) << "not a package name: " << line;
    pkgs.push_back(line);
  }
  for (const char* p : {"cmake", "nlohmann-json3-dev", "libfmt-dev", "libsqlite3-dev", "libgtest-dev", "libssl-dev",
                        "unzip", "python3-venv"})
    EXPECT_NE(std::find(pkgs.begin(), pkgs.end(), p), pkgs.end()) << p;
}

}  // namespace
}  // namespace bp
