#pragma once
// A format-neutral description of a byte-level BPE tokenizer, built from either GGUF metadata (spec_gguf.cpp) or a
// Hugging Face tokenizer.json (spec_hf_json.cpp). Everything format-specific (field names, defaults, what is
// rejected) lives in those two files; BpeTokenizer only consumes this.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "harness/runtime/io/model_file.h"
#include "harness/runtime/tokenizer/added_tokens.h"
#include "harness/runtime/tokenizer/pre_tokenizer.h"

namespace bp::rt {

struct TokenizerSpec {
  std::string source;                           // file, for error messages
  std::vector<std::string> id_to_text;          // byte-level text of model tokens, content of added tokens
  std::vector<uint8_t> verbatim;                // per id: 1 = decodes to its text as is (added/control tokens)
  std::unordered_map<std::string, int32_t> vocab;  // the BPE model's vocabulary: byte-level text -> id
  std::vector<std::pair<std::string, std::string>> merges;  // (left, right) byte-level texts in rank order ...
  std::string merges_pointer;  // ... and where they are, for errors: merge i is at merges_pointer + "/" + i
  bool nfc = false;  // normalizer: NFC (Qwen2's tokenizer.json) or none
  PreTokenizer pre;
  bool ignore_merges = false;
  int32_t unk_id = -1;
  bool fuse_unk = false;
  std::vector<AddedToken> added;
  std::vector<int32_t> prefix_ids, suffix_ids;  // what add_special puts around the text
  int32_t bos_id = -1, eos_id = -1;
};

TokenizerSpec spec_from_gguf(const TokenizerData& d);
TokenizerSpec spec_from_hf_json(const TokenizerData& d);

// Splits a merge written "left right" (GGUF, and tokenizer.json before tokenizers 0.20). Byte-level tokens never
// contain a raw space (it is written 'Ġ'), so exactly one space is required. Throws InputError naming pointer.
std::pair<std::string, std::string> split_merge(const std::string& merge, const std::string& source,
                                                const std::string& pointer);

}  // namespace bp::rt
