#pragma once
// Where tests find the default model, the shared evaluation data and the bench binary. Tests that need them fail
// with a message saying how to provide them (scripts/setup.sh fetches the model and the data).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace bp::test {

inline std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return (v && *v) ? std::string(v) : fallback;
}

inline std::string source_dir() { return env_or("BENCH_SOURCE_DIR", BENCH_SOURCE_DIR); }

// The default model: $BENCH_MODEL_PATH, else the set-up cache ${XDG_CACHE_HOME:-~/.cache}/benchpress/models/.
inline std::string default_model_path() {
  const char* p = std::getenv("BENCH_MODEL_PATH");
  if (p && *p) return p;
  std::string cache = env_or("XDG_CACHE_HOME", env_or("HOME", "/root") + "/.cache");
  return cache + "/benchpress/models/SmolLM2-135M-Instruct.Q4_1.gguf";
}

// The data root as `bench` resolves it without flags: $BENCH_DATA_ROOT, else the data cache that `bench fetch-data`
// fills, ${XDG_CACHE_HOME:-~/.cache}/benchpress/data.
inline std::string data_root() {
  return env_or("BENCH_DATA_ROOT", env_or("XDG_CACHE_HOME", env_or("HOME", "/root") + "/.cache") + "/benchpress/data");
}

inline std::string bench_binary() { return env_or("BENCH_BINARY", source_dir() + "/build/bin/bench"); }

}  // namespace bp::test

// Fails the test (not skips: CI must have these) when the default model is missing.
#define BENCH_REQUIRE_MODEL(path_var)                                                                  \
  const std::string path_var = ::bp::test::default_model_path();                                      \
  ASSERT_TRUE(std::filesystem::exists(path_var))                                                       \
      << "default model not found at " << path_var << " (run scripts/setup.sh or set BENCH_MODEL_PATH)"
