#include "harness/core/fetch_data.h"

#include <cstdlib>
#include <filesystem>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "harness/common/error.h"
#include "harness/core/file_hash.h"
#include "harness/core/runner.h"
#include "harness/core/subprocess.h"

namespace fs = std::filesystem;

namespace bp {

namespace {

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : "";
}

std::string tail(const std::string& s, size_t n = 1500) { return s.size() > n ? "..." + s.substr(s.size() - n) : s; }

// curl exit codes this code reacts to (curl(1), EXIT CODES).
constexpr int kCurlPartialFile = 18;      // the transfer ended early: the .part file is resumable
constexpr int kCurlHttpError = 22;        // --fail: an HTTP status >= 400 (e.g. 416 for a stale .part file)
constexpr int kCurlRangeUnsupported = 33; // the server ignores range requests: start again from byte 0

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

// Downloads `url` into `part` (resuming what is there) and places it at `dest` once its hash matches.
void download(const DataFile& f, const std::string& url, const std::string& part, const std::string& dest,
              std::FILE* log) {
  if (!program_available("curl"))
    throw std::runtime_error(fmt::format("cannot download {}: curl is not installed (install it, e.g. `apt-get "
                                         "install curl`, or copy from a local mirror with --from DIR)",
                                         f.relative_path));
  std::string last_error;
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::error_code ec;
    const auto have = fs::exists(part, ec) ? fs::file_size(part, ec) : 0;
    const bool resume = have > 0;
    if (log) {
      if (resume)
        std::fprintf(log, "resuming %s at byte %llu from %s\n", f.relative_path.c_str(), (unsigned long long)have,
                     url.c_str());
      else
        std::fprintf(log, "downloading %s from %s\n", f.relative_path.c_str(), url.c_str());
    }
    std::vector<std::string> argv = {"curl", "--fail", "--location", "--silent", "--show-error",
                                     "--connect-timeout", "30", "--output", part};
    if (resume) argv.insert(argv.end(), {"--continue-at", "-"});
    argv.push_back(url);
    ProcessResult r = run_process(argv, /*merge_stderr=*/true);
    if (r.exit_code == 0) {
      std::string sha = sha256_file(part);
      if (sha == f.sha256) {
        fs::rename(part, dest);
        return;
      }
      fs::remove(part, ec);
      last_error = fmt::format("the downloaded file has sha256 {}; expected {}", sha, f.sha256);
      // A resumed file may have been stale (the source changed, or an unrelated .part file): one fresh try.
      if (resume) continue;
      break;
    }
    last_error = fmt::format("curl exit code {}: {}", r.exit_code, tail(r.output));
    if (r.exit_code == kCurlPartialFile) continue;  // resume on the next attempt
    if (resume && (r.exit_code == kCurlRangeUnsupported || r.exit_code == kCurlHttpError)) {
      fs::remove(part, ec);  // the server cannot continue this file: start over
      continue;
    }
    break;
  }
  throw std::runtime_error(fmt::format("cannot fetch {} from {}: {}{}", f.relative_path, url, last_error,
                                       fs::exists(part) ? fmt::format(" (the partial download {} is kept; running "
                                                                      "`bench fetch-data` again resumes it)", part)
                                                        : std::string(" (nothing was installed)")));
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
  download(f, url, part, dest, log);
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
