#pragma once
// Pre-tokenization: splitting text into the pieces ("words") that BPE then encodes one by one, so merges never
// cross a piece boundary. A pre-tokenizer is a sequence of steps, each splitting every piece produced by the
// previous one, exactly as a Hugging Face pre_tokenizers.Sequence does (a regex's look-ahead ends at its piece).
//
// The regexes are matched by hand-written code equivalent to these patterns under Oniguruma's leftmost-first
// alternation (the engine Hugging Face `tokenizers` uses), with \p{L}, \p{N} and \s from unicode_tables.cpp:
//   gpt2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   llama3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   qwen2:  the llama3 pattern with \p{N} instead of \p{N}{1,3}
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bp::rt {

enum class PreStep : uint8_t {
  kDigitsIndividual,  // Digits(individual_digits=true): every \p{N} code point is its own piece
  kDigitsRuns,        // Digits(individual_digits=false): every run of \p{N} is its own piece
  kGpt2Regex,
  kLlama3Regex,
  kQwen2Regex,
};

const char* pre_step_name(PreStep s);

// The regex strings exactly as they appear in tokenizer.json Split pre-tokenizers (and, for gpt2, as the one
// ByteLevel(use_regex=true) applies).
extern const std::string_view kGpt2Pattern;
extern const std::string_view kLlama3Pattern;
extern const std::string_view kQwen2Pattern;
// The step that implements a tokenizer.json regex, or nullopt when the pattern is not one of the above.
std::optional<PreStep> pre_step_for_pattern(std::string_view regex);

class PreTokenizer {
 public:
  PreTokenizer() = default;
  explicit PreTokenizer(std::vector<PreStep> steps) : steps_(std::move(steps)) {}
  const std::vector<PreStep>& steps() const { return steps_; }

  // Appends the pieces of text to out, in order; they cover text exactly. No steps: the whole text is one piece.
  // Thread-safe (no shared mutable state).
  void split(std::string_view text, std::vector<std::string_view>& out) const;

 private:
  std::vector<PreStep> steps_;
};

}  // namespace bp::rt
