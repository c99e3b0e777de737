#include "datasets/common/data_file.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness/common/error.h"
#include "harness/core/file_hash.h"

namespace fs = std::filesystem;

namespace bp::data {

std::string data_path(const std::string& data_root, const std::string& relative_path) {
  return (fs::path(data_root) / relative_path).lexically_normal().string();
}

std::string read_verified(const std::string& data_root, const DataFile& f) {
  const std::string path = data_path(data_root, f.relative_path);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw InputError(path, "",
                     fmt::format("expected data file {} with sha256 {} (searched {} under data root {}); the file "
                                 "does not exist. {}",
                                 f.relative_path, f.sha256, path, data_root,
                                 f.url.empty() ? "A suite names this file: put it under the data root yourself."
                                               : "`bench fetch-data` downloads it."));
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  if (!in && !in.eof()) throw InputError(path, "", "expected a readable data file; reading it failed");
  std::string text = buf.str();
  const std::string actual = sha256_text(text);
  if (actual != f.sha256)
    throw InputError(path, "",
                     fmt::format("expected data file {} with sha256 {} (searched {} under data root {}), got sha256 {}",
                                 f.relative_path, f.sha256, path, data_root, actual));
  return text;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      out.push_back(text.substr(start));
      break;
    }
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

bool is_sha256_hex(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace bp::data
