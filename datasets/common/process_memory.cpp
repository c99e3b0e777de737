#include "datasets/common/process_memory.h"

#include <fstream>
#include <sstream>
#include <string>

namespace bp::data {
namespace {

std::optional<uint64_t> status_kib(const std::string& field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::istringstream in(line.substr(field.size() + 1));
    uint64_t kib = 0;
    std::string unit;
    if (in >> kib >> unit && unit == "kB") return kib * 1024;
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  f.flush();
  return (bool)f;
}

std::optional<uint64_t> peak_rss_bytes() { return status_kib("VmHWM"); }
std::optional<uint64_t> current_rss_bytes() { return status_kib("VmRSS"); }

}  // namespace bp::data
