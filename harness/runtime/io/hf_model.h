#pragma once
// Opening a Hugging Face checkpoint directory (config.json, model.safetensors or a sharded
// model.safetensors.index.json, tokenizer.json, tokenizer_config.json) as a ModelFile.
#include <memory>
#include <string>

#include "harness/runtime/io/model_file.h"

namespace bp::rt {

std::unique_ptr<ModelFile> open_hf_dir(const std::string& dir);

}  // namespace bp::rt
