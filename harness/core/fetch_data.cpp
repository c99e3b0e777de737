#include "harness/core/fetch_data.h"

#include <cstdlib>
#include <filesystem>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "harness/common/error.h"
#include "harness/core/file_hash.h"
#include "harness/core/download.h"
#include "harness/core/runner.h"

namespace fs = std::filesystem;

namespace bp {

namespace {

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : "";
}

void verify_and_place(const std::string& part, const std::string& dest, const DataFile& f, const std::string& from) {
  std::string sha = sha256_file(part);
  if (sha != f.sha256) {
    std::error_code ec;
    fs::remove(part, ec);
    throw std::runtime_error(fmt::format("{} from {} has sha256 {}; expected {} (the file was not installed)",
                                         f.relative_path, from, sha, f.sha256));
  }
  fs::rename(part, dest);
}

void append_unique(std::vector<DataFile>& out, std::set<std::string>& seen, const std::vector<DataFile>& files) {
  for (const auto& f : files)
    if (!f.url.empty() && seen.insert(f.relative_path + "\n" + f.sha256).second) out.push_back(f);
}

std::vector<DataFile> files_of(const TaskInfo& t) {
  if (!t.data_files) return {};
  // With the task's default options. A file a suite names (hellaswag's, a text-file task's) has no URL and is
  // skipped by the caller: the user provides it.
  Params defaults(t.options.canonicalize(json::object(), "", ""));
  return t.data_files(defaults);
}

}  // namespace

DataSource data_source_from_env() { return {env_or_empty("BENCH_DATA_MIRROR"), env_or_empty("BENCH_DATA_BASE_URL")}; }

FetchStatus fetch_data_file(const DataFile& f, const std::string& root, const DataSource& source, std::FILE* log) {
  const std::string dest = (fs::path(root) / f.relative_path).lexically_normal().string();
  std::error_code ec;
  if (fs::is_regular_file(dest, ec)) {
    std::string sha = sha256_file(dest);
    if (sha == f.sha256) return FetchStatus::AlreadyThere;
    if (log) std::fprintf(log, "%s has sha256 %s, expected %s: fetching it again\n", dest.c_str(), sha.c_str(),
                          f.sha256.c_str());
  }
  fs::create_directories(fs::path(dest).parent_path());
  const std::string part = dest + ".part";

  if (!source.mirror_dir.empty()) {
    const std::string from = (fs::path(source.mirror_dir) / f.relative_path).lexically_normal().string();
    if (!fs::is_regular_file(from, ec))
      throw std::runtime_error(fmt::format("the local mirror {} has no {} (looked for {})", source.mirror_dir,
                                           f.relative_path, from));
    if (log) std::fprintf(log, "copying %s from %s\n", f.relative_path.c_str(), from.c_str());
    fs::copy_file(from, part, fs::copy_options::overwrite_existing);
    verify_and_place(part, dest, f, from);
    return FetchStatus::Copied;
  }
  std::string url = f.url;
  if (!source.base_url.empty()) {
    url = source.base_url;
    if (url.back() != '/') url += '/';
    url += f.relative_path;
  }
  if (url.empty())
    throw std::runtime_error(fmt::format("{} has no public source to download it from (a suite names it): put it "
                                         "under the data root yourself, or fetch it from a mirror with --from DIR",
                                         f.relative_path));
  download_verified(url, dest, f.sha256, f.relative_path, log);
  return FetchStatus::Downloaded;
}

std::vector<DataFile> default_data_files() {
  std::vector<DataFile> out;
  std::set<std::string> seen;
  for (const TaskInfo* t : TaskRegistry::all()) append_unique(out, seen, files_of(*t));
  append_unique(out, seen, {kCalibrationData});
  return out;
}

std::vector<DataFile> task_data_files(const std::string& task) {
  std::vector<DataFile> out;
  std::set<std::string> seen;
  if (task == "calibration") {
    append_unique(out, seen, {kCalibrationData});
    return out;
  }
  const TaskInfo* t = TaskRegistry::find(task);
  if (!t) {
    std::string names = "\"calibration\"";
    for (const TaskInfo* ti : TaskRegistry::all()) names += ", \"" + ti->name + "\"";
    throw InputError("", "", fmt::format("unknown task \"{}\"; expected one of [{}]", task, names));
  }
  append_unique(out, seen, files_of(*t));
  return out;
}

}  // namespace bp
