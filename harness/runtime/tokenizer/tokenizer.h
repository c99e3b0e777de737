#pragma once
// Byte-level BPE tokenizer (GPT-2 style byte-to-unicode mapping, model-specific pre-tokenization, ranked merges),
// built from GGUF metadata or tokenizer.json. Token ids must equal Hugging Face `tokenizers` on the same vocabulary.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "harness/runtime/io/model_file.h"

namespace bp::rt {

class Tokenizer {
 public:
  // Throws bp::InputError for unsupported models / pre-tokenizers, naming data.source.
  static std::unique_ptr<Tokenizer> create(const TokenizerData& data);
  virtual ~Tokenizer() = default;

  // add_special: prepend BOS / append EOS as the vocabulary asks (add_bos / add_eos).
  // parse_special: recognise special-token text (e.g. "<|im_start|>") in the input as single tokens; when false
  // such text is tokenized as ordinary text (the perplexity protocol requires false).
  // Non-special added tokens (tokenizer.json "special": false, GGUF user-defined) are always matched whole, as in
  // Hugging Face `tokenizers` and llama.cpp. Safe to call from several threads.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const = 0;
  // Throws bp::InputError for an id outside [0, vocab_size()).
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  virtual std::string token_text(int32_t id) const = 0;  // the decoded bytes of one token

  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;
  virtual int32_t eos_id() const = 0;
  virtual bool add_bos() const = 0;

  // The pieces BPE sees, in order (added tokens that are matched appear as their own piece): for checking the
  // pre-tokenizer against a reference (`bench tokenize --pieces`).
  virtual std::vector<std::string> pre_tokenize(std::string_view text, bool parse_special) const = 0;
};

// Reads a Hugging Face tokenizer.json into TokenizerData (hf_tokenizer_json and source set, nothing else), for
// using a tokenizer without its model. Throws bp::InputError when the file is missing or not JSON.
TokenizerData read_tokenizer_json(const std::string& path);

}  // namespace bp::rt
