#pragma once
// Opening a model checkpoint: a GGUF file, or a Hugging Face directory (config.json + *.safetensors, single or
// sharded with model.safetensors.index.json, + tokenizer.json). The result is format-neutral:
//   - the ModelConfig (architecture validated: anything outside the Llama family is rejected with a clear error),
//   - tensors under canonical names, in Hugging Face layout (see below), still in their stored dtype (memory-mapped),
//   - the tokenizer's data,
//   - identity (sha256 of the file(s)) and a summary for provenance.
//
// Canonical tensor names (GGUF spelling) and shapes, row-major, outermost dimension first:
//   tok_embd            [vocab, d_model]
//   output_norm         [d_model]
//   output              [vocab, d_model]        absent when the embeddings are tied
//   blk.{i}.attn_norm   [d_model]
//   blk.{i}.attn_q      [n_heads*head_dim, d_model]     (+ blk.{i}.attn_q_bias [n_heads*head_dim] when attn_bias)
//   blk.{i}.attn_k      [n_kv_heads*head_dim, d_model]  (+ blk.{i}.attn_k_bias)
//   blk.{i}.attn_v      [n_kv_heads*head_dim, d_model]  (+ blk.{i}.attn_v_bias)
//   blk.{i}.attn_output [d_model, n_heads*head_dim]
//   blk.{i}.ffn_norm    [d_model]
//   blk.{i}.ffn_gate    [d_ff, d_model]
//   blk.{i}.ffn_up      [d_ff, d_model]
//   blk.{i}.ffn_down    [d_model, d_ff]
// Layout: the runtime applies RoPE in the Hugging Face "rotate_half" convention (dimension j pairs with j + D/2).
// llama.cpp's converter permutes the rows of attn_q / attn_k of "llama" GGUF files for its interleaved RoPE; the
// loader undoes that permutation (exactly as transformers' GGUF loader does) when it dequantizes those tensors,
// so both sources give identical canonical weights.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness/runtime/model_config.h"

namespace bp::rt {

// Storage types a tensor may have. Values equal ggml's type ids where ggml has the type.
enum class DType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q4_K = 12, Q6_K = 14, BF16 = 30,
};
const char* dtype_name(DType t);

// A tensor as stored in the file: memory-mapped bytes, never copied by the loader.
struct TensorRef {
  std::string name;             // canonical name
  std::string source_name;      // name inside the file (e.g. "blk.0.attn_q.weight" or "model.layers.0.self_attn.q_proj.weight")
  DType dtype = DType::F32;
  std::vector<int64_t> shape;   // canonical, outermost first
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  int unpermute_heads = 0;      // > 0: rows must be un-permuted from llama.cpp's RoPE order with this many heads
  int64_t numel() const;
};

// Tokenizer data as found in the checkpoint; harness/runtime/tokenizer builds a Tokenizer from it.
struct TokenizerData {
  std::string model;                    // "gpt2" (byte-level BPE) is supported; others are rejected by the tokenizer
  std::string pre;                      // pre-tokenizer family: "smollm", "gpt2", "llama3", "qwen2", ...
  std::vector<std::string> tokens;      // id -> token text (byte-level encoded)
  std::vector<int32_t> token_types;     // ggml token types (1 normal, 2 unknown, 3 control, 4 user-defined, 6 byte); may be empty
  std::vector<std::string> merges;      // "a b" in rank order
  int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;
  bool add_bos = false, add_eos = false;
  nlohmann::json hf_tokenizer_json;     // the whole tokenizer.json when the source was Hugging Face (null otherwise)
  std::string source;                   // file the data came from (for error messages)
};

struct ModelFileInfo {
  std::string path;                          // as given by the user
  std::string format;                        // "gguf" or "safetensors"
  std::string sha256;                        // of the GGUF file, or of the concatenated safetensors shards in index order
  std::map<std::string, int64_t> dtype_counts;  // stored tensor types -> number of tensors (e.g. {"Q4_1": 210, ...})
  nlohmann::json metadata;                   // GGUF key/values (arrays longer than 64 elided) or config.json
};

class ModelFile {
 public:
  virtual ~ModelFile() = default;
  // Opens and fully validates the checkpoint. Throws bp::InputError naming the file and what is wrong.
  static std::unique_ptr<ModelFile> open(const std::string& path);

  virtual const ModelConfig& config() const = 0;
  virtual const ModelFileInfo& info() const = 0;
  virtual const TokenizerData& tokenizer() const = 0;
  // nullptr when absent (e.g. "output" with tied embeddings, biases without attn_bias).
  virtual const TensorRef* find(const std::string& canonical_name) const = 0;
  // Throws InputError when missing.
  const TensorRef& get(const std::string& canonical_name) const;
  virtual std::vector<std::string> tensor_names() const = 0;
};

// Dequantizes a whole tensor to F32 in canonical layout (applying the head un-permutation when set).
// `out` has t.numel() floats. Runs block by block over the stored type.
void dequantize_tensor(const TensorRef& t, float* out);

}  // namespace bp::rt
