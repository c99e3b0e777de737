#pragma once
// The run's progress lines: "[i/N] label", elapsed time and an ETA from the mean wall time of the configurations
// finished so far.
#include <chrono>
#include <cstdio>
#include <string>

namespace bp {

// "1:02:03" / "2:03" style durations.
std::string format_duration(double seconds);

class Progress {
 public:
  Progress(std::FILE* out, size_t total);
  void start(size_t i, const std::string& label);  // i is 1-based
  void finish(size_t i, bool ok, double wall_s, const std::string& error = "");
  // Progress within the current task (0..1): redrawn in place on a terminal, silent otherwise.
  void task_progress(double fraction, const std::string& what);

 private:
  double elapsed() const;
  std::FILE* out_;
  size_t total_, done_ = 0, current_ = 0;
  double done_wall_ = 0;
  bool tty_;
  bool partial_line_ = false;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace bp
