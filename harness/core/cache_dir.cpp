#include "harness/core/cache_dir.h"

#include <cstdlib>

namespace bp {

std::string benchpress_cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && *xdg) return std::string(xdg) + "/benchpress";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.cache/benchpress";
}

}  // namespace bp
