#include "harness/core/progress.h"

#include <unistd.h>

#include <fmt/format.h>

namespace bp {

std::string format_duration(double seconds) {
  long long s = seconds < 0 ? 0 : (long long)(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02d}:{:02d}", s / 3600, (int)(s / 60 % 60), (int)(s % 60));
  return fmt::format("{}:{:02d}", s / 60, (int)(s % 60));
}

Progress::Progress(std::FILE* out, size_t total)
    : out_(out), total_(total), tty_(out && isatty(fileno(out))), t0_(std::chrono::steady_clock::now()) {}

double Progress::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

void Progress::start(size_t i, const std::string& label) {
  current_ = i;
  if (!out_) return;
  std::string eta = done_ ? format_duration(done_wall_ / done_ * (double)(total_ - done_)) : "--:--";
  std::fprintf(out_, "[%zu/%zu] %s  (elapsed %s, ETA %s)\n", i, total_, label.c_str(), format_duration(elapsed()).c_str(),
               eta.c_str());
  std::fflush(out_);
}

void Progress::finish(size_t i, bool ok, double wall_s, const std::string& error) {
  ++done_;
  done_wall_ += wall_s;
  if (!out_) return;
  if (partial_line_) std::fputc('\n', out_);
  partial_line_ = false;
  if (ok) std::fprintf(out_, "[%zu/%zu] done in %.1f s\n", i, total_, wall_s);
  else std::fprintf(out_, "[%zu/%zu] FAILED in %.1f s: %s\n", i, total_, wall_s, error.c_str());
  std::fflush(out_);
}

void Progress::task_progress(double fraction, const std::string& what) {
  if (!out_ || !tty_) return;
  std::fprintf(out_, "\r[%zu/%zu] %3.0f%% %s\033[K", current_, total_, fraction * 100.0, what.c_str());
  std::fflush(out_);
  partial_line_ = true;
}

}  // namespace bp
