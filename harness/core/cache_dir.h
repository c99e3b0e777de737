#pragma once
// The one place BenchPress keeps downloaded files: ${XDG_CACHE_HOME:-$HOME/.cache}/benchpress, outside any clone, so
// that models and data survive a fresh checkout and are never committed.
#include <string>

namespace bp {

// ${XDG_CACHE_HOME:-$HOME/.cache}/benchpress (no trailing slash).
std::string benchpress_cache_dir();

}  // namespace bp
