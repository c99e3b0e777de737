#include "datasets/common/user_file.h"

#include <filesystem>

#include "datasets/common/data_file.h"
#include "harness/common/error.h"

namespace bp::data {

void add_user_file_options(ParamSchema& s, const std::string& default_path) {
  s.string("file", default_path, "the data file, relative to the data root")
      .string("sha256", "", "sha256 of the file (64 lowercase hex digits; required: it is the dataset's identity)");
}

void validate_user_file(const Params& p, const std::string& file, const std::string& pointer) {
  const std::string sha = p.get_string("sha256");
  if (!is_sha256_hex(sha))
    throw InputError(file, json_pointer_append(json_pointer_append(pointer, "options"), "sha256"),
                     "expected the data file's sha256 as 64 lowercase hex digits (e.g. from `sha256sum`), got \"" +
                         sha + "\"");
  const std::string rel = p.get_string("file");
  std::filesystem::path fp(rel);
  bool escapes = rel.empty() || fp.is_absolute();
  for (const auto& part : fp.lexically_normal())
    if (part == "..") escapes = true;
  if (escapes)
    throw InputError(file, json_pointer_append(json_pointer_append(pointer, "options"), "file"),
                     "expected a non-empty path relative to the data root that stays under it, got \"" + rel + "\"");
}

DataFile user_file(const Params& p) { return DataFile{p.get_string("file"), p.get_string("sha256")}; }

}  // namespace bp::data
