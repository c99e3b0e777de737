// TokenizerSpec from GGUF metadata (tokenizer.ggml.*), following llama.cpp's reading of those keys.
#include <fmt/format.h>

#include "harness/common/error.h"
#include "harness/runtime/tokenizer/tokenizer_spec.h"

namespace bp::rt {

namespace {

// ggml token types (gguf TokenType): 3 control (e.g. "<|im_start|>"), 4 user-defined.
constexpr int32_t kTypeControl = 3, kTypeUserDefined = 4;

struct PreConfig {
  std::vector<PreStep> steps;
  bool ignore_merges;
};

// tokenizer.ggml.pre values we implement, with llama.cpp's meaning: "smollm" isolates every digit before the GPT-2
// regex (the official SmolLM tokenizer.json has Sequence[Digits(individual_digits), ByteLevel]); llama.cpp applies
// ignore_merges to the Llama-3 family only.
bool pre_config(const std::string& pre, PreConfig* out) {
  if (pre == "smollm") *out = {{PreStep::kDigitsIndividual, PreStep::kGpt2Regex}, false};
  else if (pre == "gpt2" || pre == "gpt-2") *out = {{PreStep::kGpt2Regex}, false};
  else if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe") *out = {{PreStep::kLlama3Regex}, true};
  else if (pre == "qwen2") *out = {{PreStep::kQwen2Regex}, false};
  else return false;
  return true;
}

void check_id(const TokenizerData& d, int32_t id, const char* key, size_t n) {
  if (id < -1 || id >= static_cast<int64_t>(n))
    throw InputError(d.source, key, fmt::format("expected a token id in [0, {}), got {}", n, id));
}

}  // namespace

TokenizerSpec spec_from_gguf(const TokenizerData& d) {
  TokenizerSpec s;
  s.source = d.source;
  if (d.model.empty() && d.tokens.empty())
    throw InputError(d.source, "", "expected tokenizer data (GGUF tokenizer.ggml.* metadata or a tokenizer.json), got none");
  if (d.model != "gpt2")
    throw InputError(d.source, "tokenizer.ggml.model",
                     fmt::format("expected \"gpt2\" (byte-level BPE, the only tokenizer model supported), got \"{}\"",
                                 d.model));
  PreConfig pc;
  if (!pre_config(d.pre, &pc))
    throw InputError(d.source, "tokenizer.ggml.pre",
                     fmt::format("expected a supported pre-tokenizer (smollm, gpt2, gpt-2, llama3, llama-v3, "
                                 "llama-bpe, qwen2), got \"{}\"", d.pre));
  s.pre = PreTokenizer(pc.steps);
  s.ignore_merges = pc.ignore_merges;

  const size_t n = d.tokens.size();
  if (n == 0) throw InputError(d.source, "tokenizer.ggml.tokens", "expected a non-empty token list, got none");
  if (!d.token_types.empty() && d.token_types.size() != n)
    throw InputError(d.source, "tokenizer.ggml.token_type",
                     fmt::format("expected one type per token ({}), got {}", n, d.token_types.size()));
  s.id_to_text = d.tokens;
  s.verbatim.assign(n, 0);
  s.vocab.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    s.vocab[d.tokens[i]] = static_cast<int32_t>(i);  // a duplicated text maps to its last id, as in llama.cpp
    const int32_t type = d.token_types.empty() ? 1 : d.token_types[i];
    if (type == kTypeControl || type == kTypeUserDefined) {
      s.verbatim[i] = 1;
      AddedToken t;
      t.content = d.tokens[i];
      t.id = static_cast<int32_t>(i);
      t.special = type == kTypeControl;
      s.added.push_back(std::move(t));
    }
  }

  s.merges_pointer = "tokenizer.ggml.merges";
  s.merges.reserve(d.merges.size());
  for (size_t i = 0; i < d.merges.size(); ++i)
    s.merges.push_back(split_merge(d.merges[i], d.source, fmt::format("tokenizer.ggml.merges/{}", i)));

  check_id(d, d.bos_id, "tokenizer.ggml.bos_token_id", n);
  check_id(d, d.eos_id, "tokenizer.ggml.eos_token_id", n);
  check_id(d, d.unk_id, "tokenizer.ggml.unknown_token_id", n);
  s.bos_id = d.bos_id;
  s.eos_id = d.eos_id;
  s.unk_id = d.unk_id;
  if (d.add_bos) {
    if (d.bos_id < 0)
      throw InputError(d.source, "tokenizer.ggml.add_bos_token", "expected a bos_token_id when add_bos_token is true");
    s.prefix_ids.push_back(d.bos_id);
  }
  if (d.add_eos) {
    if (d.eos_id < 0)
      throw InputError(d.source, "tokenizer.ggml.add_eos_token", "expected an eos_token_id when add_eos_token is true");
    s.suffix_ids.push_back(d.eos_id);
  }
  return s;
}

}  // namespace bp::rt
