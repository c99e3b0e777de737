#pragma once
// The data root and the checksummed data files tasks read. Precedence of the data root: the --data-root flag, the
// suite's "data_root", $BENCH_DATA_ROOT, then the cache that `bench fetch-data` fills,
// ${XDG_CACHE_HOME:-~/.cache}/benchpress/data. Nothing is compiled in: a build works from any clone.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness/core/task.h"

namespace bp {

struct DataRoot {
  std::string path;
  std::string origin;  // where the path came from, for messages ("--data-root", "the suite's data_root", ...)
};

// ${XDG_CACHE_HOME:-$HOME/.cache}/benchpress/data
std::string default_data_root();

DataRoot resolve_data_root(const std::optional<std::string>& flag, const std::optional<std::string>& suite_value);

// Verifies files under a data root against their sha256, hashing each path once per verifier.
class DataVerifier {
 public:
  explicit DataVerifier(DataRoot root) : root_(std::move(root)) {}
  const DataRoot& root() const { return root_; }
  // Throws InputError(file, pointer, ...) naming the path searched, the expected and the actual hash.
  void verify(const DataFile& f, const std::string& file, const std::string& pointer, const std::string& user);

 private:
  DataRoot root_;
  std::map<std::string, std::string> hashed_;  // full path -> sha256
};

// Canonical JSON text of a file list for identities: [{"path", "sha256"}] sorted by path, duplicates removed.
std::string dataset_files_json(std::vector<DataFile> files);

}  // namespace bp
