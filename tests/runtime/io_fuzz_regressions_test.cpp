// Replays every input the fuzzers ever found crashing or hanging (tests/data/fuzz-regressions/<target>/) through the
// same code the fuzz targets run (tests/fuzz/fuzz_entry.h): each must end in success or a clean bp::InputError.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "tests/common/test_env.h"
#include "tests/fuzz/fuzz_entry.h"
#include "tests/runtime/io_test_util.h"

namespace bp::rt {
namespace {

namespace fs = std::filesystem;

// Returns the number of inputs replayed. A missing or empty folder is a failure, not a silent pass: a moved or
// emptied folder would otherwise turn every replay into a test that cannot fail.
template <typename Fn>
int replay_dir(const std::string& target, Fn fn) {
  const fs::path dir = fs::path(bp::test::source_dir()) / "tests/data/fuzz-regressions" / target;
  int n = 0;
  if (!fs::is_directory(dir)) {
    ADD_FAILURE() << "regression folder missing: " << dir.string();
    return 0;
  }
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().filename().string().front() == '.') continue;
    SCOPED_TRACE(e.path().string());
    const std::string bytes = test::read_file(e.path().string());
    const std::vector<uint8_t> v(bytes.begin(), bytes.end());  // exact-size copy, as the fuzzer passes it
    const auto t0 = std::chrono::steady_clock::now();
    try {
      (void)fn(v.data(), v.size());
    } catch (const std::exception& ex) {
      ADD_FAILURE() << "escaped exception (not bp::InputError): " << ex.what();
    }
    // Hangs were regressions too: every saved input must now be quick.
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
    ++n;
  }
  if (n == 0) ADD_FAILURE() << "regression folder holds no input: " << dir.string();
  return n;
}

TEST(IoFuzzRegressions, Gguf) {
  // The first fuzzing run found a metadata key that was not UTF-8 and broke the JSON summary.
  EXPECT_GE(replay_dir("gguf", fuzz::gguf_input), 1);
}

// Besides what the fuzzers saved, these folders hold hand-made malformed inputs (handmade-*: lengths and offsets past
// the end, a non-object config, out-of-range sizes), so each replay has something to replay.
TEST(IoFuzzRegressions, Safetensors) { EXPECT_GE(replay_dir("safetensors", fuzz::safetensors_input), 1); }

TEST(IoFuzzRegressions, HfConfig) { EXPECT_GE(replay_dir("hf_config", fuzz::hf_config_input), 1); }

// Negative control: the replay of a folder that is not there fails (instead of passing with nothing replayed).
TEST(IoFuzzRegressions, MissingFolderFails) {
  EXPECT_NONFATAL_FAILURE(replay_dir("no-such-target", fuzz::hf_config_input), "regression folder missing");
}

// The seed corpora are valid inputs: the entry points must accept the model-shaped ones.
TEST(IoFuzzRegressions, SeedsAreAccepted) {
  const std::string seeds = bp::test::source_dir() + "/tests/fuzz/seeds/";
  for (const char* name : {"tiny_llama_mixed.gguf", "tiny_llama_v2.gguf", "tiny_qwen2_f16.gguf"}) {
    const std::string b = test::read_file(seeds + "gguf/" + name);
    EXPECT_TRUE(fuzz::gguf_input(reinterpret_cast<const uint8_t*>(b.data()), b.size())) << name;
  }
  for (const char* name : {"mixed.safetensors", "single.safetensors"}) {
    const std::string b = test::read_file(seeds + "safetensors/" + name);
    EXPECT_TRUE(fuzz::safetensors_input(reinterpret_cast<const uint8_t*>(b.data()), b.size())) << name;
  }
  for (const char* name : {"llama_bf16.json", "qwen2_sharded.json", "mistral_f32.json", "llama3_legacy_rope.json"}) {
    const std::string b = test::read_file(seeds + "hf_config/" + name);
    EXPECT_TRUE(fuzz::hf_config_input(reinterpret_cast<const uint8_t*>(b.data()), b.size())) << name;
  }
}

}  // namespace
}  // namespace bp::rt
