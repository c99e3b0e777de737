#include "harness/core/download.h"

#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "harness/core/file_hash.h"
#include "harness/core/subprocess.h"

namespace fs = std::filesystem;

namespace bp {

namespace {

std::string tail(const std::string& s, size_t n = 1500) { return s.size() > n ? "..." + s.substr(s.size() - n) : s; }

// curl exit codes this code reacts to (curl(1), EXIT CODES).
constexpr int kCurlPartialFile = 18;      // the transfer ended early: the .part file is resumable
constexpr int kCurlHttpError = 22;        // --fail: an HTTP status >= 400 (e.g. 416 for a stale .part file)
constexpr int kCurlRangeUnsupported = 33; // the server ignores range requests: start again from byte 0

}  // namespace

void download_verified(const std::string& url, const std::string& dest, const std::string& sha256,
                       const std::string& label, std::FILE* log) {
  const std::string part = dest + ".part";
  if (!program_available("curl"))
    throw std::runtime_error(fmt::format("cannot download {}: curl is not installed (install it, e.g. `apt-get "
                                         "install curl`, or use a local mirror)",
                                         label));
  std::string last_error;
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::error_code ec;
    const auto have = fs::exists(part, ec) ? fs::file_size(part, ec) : 0;
    const bool resume = have > 0;
    if (log) {
      if (resume)
        std::fprintf(log, "resuming %s at byte %llu from %s\n", label.c_str(), (unsigned long long)have,
                     url.c_str());
      else
        std::fprintf(log, "downloading %s from %s\n", label.c_str(), url.c_str());
    }
    std::vector<std::string> argv = {"curl", "--fail", "--location", "--silent", "--show-error",
                                     "--connect-timeout", "30", "--output", part};
    if (resume) argv.insert(argv.end(), {"--continue-at", "-"});
    argv.push_back(url);
    ProcessResult r = run_process(argv, /*merge_stderr=*/true);
    if (r.exit_code == 0) {
      std::string sha = sha256_file(part);
      if (sha == sha256) {
        fs::rename(part, dest);
        return;
      }
      fs::remove(part, ec);
      last_error = fmt::format("the downloaded file has sha256 {}; expected {}", sha, sha256);
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
  throw std::runtime_error(fmt::format("cannot fetch {} from {}: {}{}", label, url, last_error,
                                       fs::exists(part) ? fmt::format(" (the partial download {} is kept: the next "
                                                                      "attempt resumes it)", part)
                                                        : std::string(" (nothing was installed)")));
}

}  // namespace bp
