#pragma once
// Added tokens (special/control tokens such as "<|im_start|>", and user-defined ones) are cut out of the text
// before pre-tokenization, each as one whole token. Matching follows Hugging Face's AddedVocabulary:
//   - special tokens are matched only when parse_special is set; non-special added tokens always (llama.cpp does
//     the same with GGUF user-defined tokens);
//   - leftmost-longest: the earliest match wins, the longest at that position;
//   - tokens marked `normalized` are matched in a second pass over the text left between first-pass matches;
//   - lstrip / rstrip: the match swallows adjacent whitespace on that side.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bp::rt {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = true;
  bool lstrip = false, rstrip = false;
  bool normalized = false;
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

  struct Segment {
    std::string_view text;
    int32_t id;  // -1: plain text to pre-tokenize; else the added token covering `text`
  };
  // Splits text into plain and added-token segments, in order, covering it exactly. Empty plain segments are
  // left out. The first pass matches the tokens that are not `normalized` on the raw text; the second pass matches
  // the `normalized` ones on a plain segment of the first pass after the normalizer ran on it (split does both
  // when there is no normalizer).
  void split(std::string_view text, bool parse_special, std::vector<Segment>& out) const;
  void split_pass(std::string_view text, bool parse_special, bool normalized_pass, std::vector<Segment>& out) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:

  std::vector<AddedToken> tokens_;
  std::vector<std::vector<uint32_t>> by_first_byte_;  // first byte -> indices into tokens_, longest first
};

}  // namespace bp::rt
