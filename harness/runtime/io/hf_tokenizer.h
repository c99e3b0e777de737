#pragma once
// Hugging Face tokenizer files -> TokenizerData: tokenizer.json is kept whole (hf_tokenizer_json) for the tokenizer
// to interpret; the vocabulary, merges and special ids are also extracted here where the format makes it simple.
#include <nlohmann/json.hpp>
#include <string>

#include "harness/runtime/io/model_file.h"

namespace bp::rt {

// `dir` holds tokenizer.json (optional: absent leaves the data empty, which the tokenizer rejects) and
// tokenizer_config.json (optional). `config` is config.json, whose bos/eos ids are the fallback. Token ids must be
// below `vocab_size` (the embedding rows).
TokenizerData hf_tokenizer(const std::string& dir, const nlohmann::json& config, int vocab_size);

}  // namespace bp::rt
