#include "harness/runtime/io/gguf_config.h"

#include <fmt/format.h>

#include <climits>

#include "harness/common/error.h"
#include "harness/runtime/io/float_field.h"

namespace bp::rt {

namespace {

const GgufKv* find_arch_key(const GgufFile& f, const std::string& arch, const char* key) {
  return f.find(arch + "." + key);
}

int int_key(const GgufFile& f, const std::string& arch, const char* key, int fallback, bool required) {
  const GgufKv* kv = find_arch_key(f, arch, key);
  if (!kv) {
    if (required) throw InputError(f.file, fmt::format("metadata '{}.{}'", arch, key), "expected this key, got none");
    return fallback;
  }
  const int64_t v = gguf_int(f, *kv);
  if (v < 0 || v > INT_MAX)
    throw InputError(f.file, fmt::format("metadata '{}'", kv->key), fmt::format("expected 0..{}, got {}", INT_MAX, v));
  return static_cast<int>(v);
}

float float_key(const GgufFile& f, const std::string& arch, const char* key, float fallback) {
  const GgufKv* kv = find_arch_key(f, arch, key);
  return kv ? float_field(gguf_float(f, *kv), f.file, fmt::format("metadata '{}'", kv->key)) : fallback;
}

// ids must name a token of the vocabulary (when there is one).
int32_t token_id(const GgufFile& f, const char* key, size_t n_tokens) {
  const GgufKv* kv = f.find(key);
  if (!kv) return -1;
  const int64_t v = gguf_int(f, *kv);
  if (v < 0 || (n_tokens > 0 && static_cast<uint64_t>(v) >= n_tokens) || v > INT32_MAX)
    throw InputError(f.file, fmt::format("metadata '{}'", key),
                     fmt::format("expected a token id in 0..{}, got {}", n_tokens == 0 ? 0 : n_tokens - 1, v));
  return static_cast<int32_t>(v);
}

}  // namespace

GgufArch gguf_arch(const GgufFile& f) {
  const GgufKv* kv = f.find("general.architecture");
  if (!kv) throw InputError(f.file, "metadata 'general.architecture'", "expected this key, got none");
  const std::string a = gguf_string(f, *kv);
  // llama.cpp writes Mistral and Llama 2/3 checkpoints as "llama" (q/k rows permuted for its interleaved RoPE);
  // Qwen2 uses NeoX-style RoPE in llama.cpp, so its rows are stored in Hugging Face order.
  if (a == "llama") return {a, true};
  if (a == "qwen2") return {a, false};
  throw InputError(
      f.file, "metadata 'general.architecture'",
      fmt::format("expected a Llama-family architecture (llama, qwen2), got '{}', which is not supported", a));
}

ModelConfig gguf_model_config(const GgufFile& f, const GgufArch& arch, int vocab_size, bool has_output,
                              bool has_attn_bias) {
  const std::string& a = arch.name;
  ModelConfig c;
  c.architecture = a;
  c.n_layers = int_key(f, a, "block_count", 0, true);
  c.d_model = int_key(f, a, "embedding_length", 0, true);
  c.d_ff = int_key(f, a, "feed_forward_length", 0, true);
  c.n_heads = int_key(f, a, "attention.head_count", 0, true);
  c.n_kv_heads = int_key(f, a, "attention.head_count_kv", c.n_heads, false);
  c.max_context = int_key(f, a, "context_length", 0, false);
  const int default_hd = c.n_heads > 0 ? c.d_model / c.n_heads : 0;
  c.head_dim = int_key(f, a, "attention.key_length", default_hd, false);
  const int value_len = int_key(f, a, "attention.value_length", c.head_dim, false);
  if (value_len != c.head_dim)
    throw InputError(f.file, fmt::format("metadata '{}.attention.value_length'", a),
                     fmt::format("expected the key length ({}), got {}", c.head_dim, value_len));
  c.rope_dim = int_key(f, a, "rope.dimension_count", c.head_dim, false);
  c.rope_theta = float_key(f, a, "rope.freq_base", 10000.0f);
  c.rms_eps = float_key(f, a, "attention.layer_norm_rms_epsilon", 1e-5f);
  if (const GgufKv* kv = find_arch_key(f, a, "rope.scaling.type")) {
    const std::string t = gguf_string(f, *kv);
    if (t != "none")
      throw InputError(f.file, fmt::format("metadata '{}'", kv->key),
                       fmt::format("expected 'none' (only Llama-3 RoPE scaling is supported, and GGUF stores it as a "
                                   "rope_freqs tensor), got '{}'",
                                   t));
  }
  if (const GgufKv* kv = f.find(a + ".vocab_size")) {
    const int64_t v = gguf_int(f, *kv);
    if (v != vocab_size)
      throw InputError(f.file, fmt::format("metadata '{}'", kv->key),
                       fmt::format("expected the token embedding rows ({}), got {}", vocab_size, v));
  }
  c.vocab_size = vocab_size;
  c.tied_embeddings = !has_output;
  c.attn_bias = has_attn_bias;
  if (a == "qwen2" && !has_attn_bias)
    throw InputError(f.file, "tensor 'blk.0.attn_q.bias'", "expected q/k/v biases in a qwen2 model, got none");
  return c;
}

TokenizerData gguf_tokenizer(const GgufFile& f) {
  TokenizerData t;
  t.source = f.file;
  if (const GgufKv* kv = f.find("tokenizer.ggml.model")) t.model = gguf_string(f, *kv);
  if (const GgufKv* kv = f.find("tokenizer.ggml.pre")) t.pre = gguf_string(f, *kv);
  if (const GgufKv* kv = f.find("tokenizer.ggml.tokens")) t.tokens = gguf_string_array(f, *kv);
  if (const GgufKv* kv = f.find("tokenizer.ggml.token_type")) {
    const auto types = gguf_int_array(f, *kv);
    if (types.size() != t.tokens.size())
      throw InputError(f.file, "metadata 'tokenizer.ggml.token_type'",
                       fmt::format("expected one type per token ({}), got {}", t.tokens.size(), types.size()));
    t.token_types.reserve(types.size());
    for (size_t i = 0; i < types.size(); ++i) {
      if (types[i] < 0 || types[i] > 6)
        throw InputError(f.file, fmt::format("metadata 'tokenizer.ggml.token_type'[{}]", i),
                         fmt::format("expected a token type 0..6, got {}", types[i]));
      t.token_types.push_back(static_cast<int32_t>(types[i]));
    }
  }
  if (const GgufKv* kv = f.find("tokenizer.ggml.merges")) t.merges = gguf_string_array(f, *kv);
  t.bos_id = token_id(f, "tokenizer.ggml.bos_token_id", t.tokens.size());
  t.eos_id = token_id(f, "tokenizer.ggml.eos_token_id", t.tokens.size());
  t.unk_id = token_id(f, "tokenizer.ggml.unknown_token_id", t.tokens.size());
  t.pad_id = token_id(f, "tokenizer.ggml.padding_token_id", t.tokens.size());
  // Absent flags take llama.cpp's defaults: SentencePiece ("llama") vocabularies add BOS, byte-level BPE does not.
  t.add_bos = t.model == "llama";
  if (const GgufKv* kv = f.find("tokenizer.ggml.add_bos_token")) t.add_bos = gguf_bool(f, *kv);
  if (const GgufKv* kv = f.find("tokenizer.ggml.add_eos_token")) t.add_eos = gguf_bool(f, *kv);
  return t;
}

std::string gguf_canonical_name(const std::string& n) {
  if (n == "token_embd.weight") return "tok_embd";
  if (n == "output_norm.weight") return "output_norm";
  if (n == "output.weight") return "output";
  if (n.rfind("blk.", 0) != 0) return {};
  const size_t dot = n.find('.', 4);
  if (dot == std::string::npos) return {};
  const std::string prefix = n.substr(0, dot + 1);  // "blk.{i}." (the index is checked by the layout validation)
  const std::string rest = n.substr(dot + 1);
  static const char* const kWeights[] = {"attn_norm", "attn_q",   "attn_k", "attn_v",  "attn_output",
                                         "ffn_norm",  "ffn_gate", "ffn_up", "ffn_down"};
  for (const char* w : kWeights)
    if (rest == std::string(w) + ".weight") return prefix + w;
  for (const char* b : {"attn_q", "attn_k", "attn_v"})
    if (rest == std::string(b) + ".bias") return prefix + b + "_bias";
  return {};
}

std::string gguf_file_name(const std::string& c) {
  if (c == "tok_embd") return "token_embd.weight";
  if (c.size() > 5 && c.compare(c.size() - 5, 5, "_bias") == 0) return c.substr(0, c.size() - 5) + ".bias";
  return c + ".weight";
}

}  // namespace bp::rt
