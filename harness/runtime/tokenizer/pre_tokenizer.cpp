#include "harness/runtime/tokenizer/pre_tokenizer.h"

#include <fmt/format.h>

#include <limits>

#include "harness/common/error.h"
#include "harness/runtime/tokenizer/unicode.h"

namespace bp::rt {

const std::string_view kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const std::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const std::string_view kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

const char* pre_step_name(PreStep s) {
  switch (s) {
    case PreStep::kDigitsIndividual: return "digits(individual)";
    case PreStep::kDigitsRuns: return "digits";
    case PreStep::kGpt2Regex: return "gpt2-regex";
    case PreStep::kLlama3Regex: return "llama3-regex";
    case PreStep::kQwen2Regex: return "qwen2-regex";
  }
  return "?";
}

std::optional<PreStep> pre_step_for_pattern(std::string_view regex) {
  if (regex == kGpt2Pattern) return PreStep::kGpt2Regex;
  if (regex == kLlama3Pattern) return PreStep::kLlama3Regex;
  if (regex == kQwen2Pattern) return PreStep::kQwen2Regex;
  return std::nullopt;
}

namespace {

using unicode::DecodedText;

struct Span {
  uint32_t begin, end;  // code-point indices into the DecodedText
};

// Matchers: given a start i < end, return the end of the regex match starting at i. Every code point is covered
// by some alternative of these patterns, so a match always exists and is non-empty (no unmatched gaps).
class Matcher {
 public:
  explicit Matcher(const DecodedText& t) : t_(t) {}

  bool letter(size_t i) const { return t_.cls[i] & unicode::kLetter; }
  bool number(size_t i) const { return t_.cls[i] & unicode::kNumber; }
  bool space(size_t i) const { return t_.cls[i] & unicode::kSpace; }
  // [^\s\p{L}\p{N}]
  bool other(size_t i) const { return (t_.cls[i] & (unicode::kLetter | unicode::kNumber | unicode::kSpace)) == 0; }
  bool digits_numeric(size_t i) const { return t_.cls[i] & unicode::kDigitsNumeric; }
  uint32_t cp(size_t i) const { return t_.cp[i]; }

  size_t run(size_t i, size_t end, bool (Matcher::*pred)(size_t) const) const {
    while (i < end && (this->*pred)(i)) ++i;
    return i;
  }

  // 's|'t|'re|'ve|'m|'ll|'d, case-sensitive or (?i:...). Returns the end or 0 when none matches.
  size_t contraction(size_t i, size_t end, bool ignore_case) const {
    if (cp(i) != '\'' || i + 1 >= end) return 0;
    auto fold = [&](uint32_t c) -> uint32_t {
      if (!ignore_case) return c;
      if (c >= 'A' && c <= 'Z') return c + 32;
      if (c == 0x17F) return 's';  // LATIN SMALL LETTER LONG S case-folds to 's' (Oniguruma honours it)
      return c;
    };
    const uint32_t a = fold(cp(i + 1));
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
    if (i + 2 >= end) return 0;
    uint32_t b = cp(i + 2);
    if (ignore_case && b >= 'A' && b <= 'Z') b += 32;  // no non-ASCII code point folds to e or l
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    return 0;
  }

  // \s+(?!\S)|\s+ at a whitespace code point: the whole run when it reaches the end of the piece, else the run
  // minus its last code point (which is left to prefix the next word), else (a run of one) that one.
  size_t trailing_space(size_t i, size_t end) const {
    const size_t k = run(i, end, &Matcher::space);
    if (k == end) return k;
    return k - i >= 2 ? k - 1 : k;
  }

  size_t gpt2(size_t i, size_t end) const {
    if (size_t c = contraction(i, end, false)) return c;
    const size_t j = (cp(i) == ' ' && i + 1 < end) ? i + 1 : i;  // the optional leading ' '
    if (letter(j)) return run(j, end, &Matcher::letter);
    if (number(j)) return run(j, end, &Matcher::number);
    if (other(j)) return run(j, end, &Matcher::other);
    return trailing_space(i, end);
  }

  size_t llama3(size_t i, size_t end, size_t max_digits) const {
    if (size_t c = contraction(i, end, true)) return c;
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (letter(i)) return run(i, end, &Matcher::letter);
    if (cp(i) != '\r' && cp(i) != '\n' && !number(i) && i + 1 < end && letter(i + 1))
      return run(i + 1, end, &Matcher::letter);
    // \p{N}{1,max}
    if (number(i)) {
      size_t j = i;
      while (j < end && j - i < max_digits && number(j)) ++j;
      return j;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    const size_t j = (cp(i) == ' ' && i + 1 < end) ? i + 1 : i;
    if (other(j)) {
      size_t k = run(j, end, &Matcher::other);
      while (k < end && (cp(k) == '\r' || cp(k) == '\n')) ++k;
      return k;
    }
    // Here cp(i) is whitespace. \s*[\r\n]+: backtracking leaves the match ending just after the last \r or \n of
    // the whitespace run.
    const size_t k = run(i, end, &Matcher::space);
    for (size_t p = k; p > i; --p) {
      if (cp(p - 1) == '\r' || cp(p - 1) == '\n') return p;
    }
    return trailing_space(i, end);
  }

 private:
  const DecodedText& t_;
};

void split_regex(const Matcher& m, PreStep step, Span s, std::vector<Span>& out) {
  size_t i = s.begin;
  while (i < s.end) {
    size_t j;
    switch (step) {
      case PreStep::kGpt2Regex: j = m.gpt2(i, s.end); break;
      case PreStep::kLlama3Regex: j = m.llama3(i, s.end, 3); break;
      default: j = m.llama3(i, s.end, 1); break;
    }
    out.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(j)});
    i = j;
  }
}

void split_digits(const Matcher& m, bool individual, Span s, std::vector<Span>& out) {
  size_t i = s.begin;
  while (i < s.end) {
    size_t j;
    if (m.digits_numeric(i)) j = individual ? i + 1 : m.run(i, s.end, &Matcher::digits_numeric);
    else {
      j = i + 1;
      while (j < s.end && !m.digits_numeric(j)) ++j;
    }
    out.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(j)});
    i = j;
  }
}

}  // namespace

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& out) const {
  if (text.empty()) return;
  if (text.size() >= std::numeric_limits<uint32_t>::max())  // offsets below are 32-bit
    throw InputError("", "text", fmt::format("expected less than 4 GiB of text, got {} bytes", text.size()));
  if (steps_.empty()) {
    out.push_back(text);
    return;
  }
  DecodedText t;
  t.assign(text);
  const Matcher m(t);
  std::vector<Span> cur{{0, static_cast<uint32_t>(t.size())}}, next;
  for (PreStep step : steps_) {
    next.clear();
    next.reserve(cur.size() * 2);
    for (const Span& s : cur) {
      if (step == PreStep::kDigitsIndividual || step == PreStep::kDigitsRuns)
        split_digits(m, step == PreStep::kDigitsIndividual, s, next);
      else
        split_regex(m, step, s, next);
    }
    cur.swap(next);
  }
  out.reserve(out.size() + cur.size());
  for (const Span& s : cur) out.push_back(text.substr(t.offset[s.begin], t.offset[s.end] - t.offset[s.begin]));
}

}  // namespace bp::rt
