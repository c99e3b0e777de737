#include "harness/core/data_files.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "harness/common/error.h"
#include "harness/core/cache_dir.h"
#include "harness/core/file_hash.h"

namespace fs = std::filesystem;

namespace bp {

DataRoot resolve_data_root(const std::optional<std::string>& flag, const std::optional<std::string>& suite_value) {
  if (flag) return {*flag, "--data-root"};
  if (suite_value) return {*suite_value, "the suite's \"data_root\""};
  if (const char* env = std::getenv("BENCH_DATA_ROOT"); env && *env) return {env, "$BENCH_DATA_ROOT"};
  return {default_data_root(), "the default, the data cache"};
}

std::string default_data_root() { return benchpress_cache_dir() + "/data"; }

namespace {

// Which command provides a missing file.
std::string fetch_hint(const DataFile& f) {
  if (f.url.empty()) return "A suite names this file: put it under the data root yourself.";
  return "`bench fetch-data` downloads it (--from DIR copies it from a local mirror; --data-root DIR puts it "
         "elsewhere).";
}

}  // namespace

void DataVerifier::verify(const DataFile& f, const std::string& file, const std::string& pointer,
                          const std::string& user) {
  std::string path = (fs::path(root_.path) / f.relative_path).lexically_normal().string();
  auto it = hashed_.find(path);
  if (it == hashed_.end()) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
      throw InputError(file, pointer,
                       fmt::format("{} needs data file {}: not found at {} (data root {} from {}); expected a file "
                                   "with sha256 {}. {}",
                                   user, f.relative_path, path, root_.path, root_.origin, f.sha256, fetch_hint(f)));
    it = hashed_.emplace(path, sha256_file(path)).first;
  }
  if (it->second != f.sha256)
    throw InputError(file, pointer,
                     fmt::format("{} needs data file {}: {} has sha256 {}; expected {} (data root {} from {})", user,
                                 f.relative_path, path, it->second, f.sha256, root_.path, root_.origin));
}

std::string dataset_files_json(std::vector<DataFile> files) {
  std::sort(files.begin(), files.end(), [](const DataFile& a, const DataFile& b) {
    return a.relative_path != b.relative_path ? a.relative_path < b.relative_path : a.sha256 < b.sha256;
  });
  json arr = json::array();
  for (size_t i = 0; i < files.size(); ++i) {
    if (i && files[i].relative_path == files[i - 1].relative_path && files[i].sha256 == files[i - 1].sha256) continue;
    arr.push_back({{"path", files[i].relative_path}, {"sha256", files[i].sha256}});
  }
  return arr.dump();
}

}  // namespace bp
