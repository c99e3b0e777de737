#pragma once
// GGUF metadata -> format-neutral model description: the ModelConfig from "{arch}.*" keys, the tokenizer from
// "tokenizer.ggml.*", and GGUF tensor names -> canonical names.
#include <string>

#include "harness/runtime/io/gguf_reader.h"
#include "harness/runtime/io/model_file.h"

namespace bp::rt {

// Architectures whose GGUF files we can read, and whether llama.cpp's converter permuted their attn_q/attn_k rows.
struct GgufArch {
  std::string name;
  bool rope_permuted;
};

// Throws InputError naming the architecture when it is not Llama-family.
GgufArch gguf_arch(const GgufFile& f);

// The config from metadata; vocab_size, tied_embeddings and attn_bias come from the tensors (the caller passes
// what it found). Not yet validated (validate_config does that).
ModelConfig gguf_model_config(const GgufFile& f, const GgufArch& arch, int vocab_size, bool has_output,
                              bool has_attn_bias);

TokenizerData gguf_tokenizer(const GgufFile& f);

// "blk.3.attn_q.weight" -> "blk.3.attn_q", "blk.3.attn_q.bias" -> "blk.3.attn_q_bias", "token_embd.weight" ->
// "tok_embd". Empty for names outside the Llama layout.
std::string gguf_canonical_name(const std::string& gguf_name);
// The inverse, for the writer.
std::string gguf_file_name(const std::string& canonical_name);

}  // namespace bp::rt
