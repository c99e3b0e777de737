#pragma once
// Greedy continuation of a prompt through a session (the configuration's KV cache), with stop strings, and the
// answer extraction helpers of the generation tasks.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "harness/runtime/model.h"

namespace bp::data {

struct Continuation {
  std::vector<int32_t> ids;  // generated tokens (a token that completes a stop string is kept)
  std::string text;          // decoded text, cut before the first stop string
  std::string stop;          // "eos", "max_tokens", or the stop string that ended generation
};

// Prefills `prompt` (one batch, the method's prefill path) and decodes greedily one token at a time, stopping at
// EOS, after `max_new` tokens, or when the decoded text contains one of `stops`.
Continuation greedy_continue(rt::Session& s, std::span<const int32_t> prompt, int max_new,
                             const std::vector<std::string>& stops = {});

// The first run of ASCII digits in `text` (an optional leading '-' kept), e.g. " <34884>" -> "34884".
std::optional<std::string> first_integer(const std::string& text);

// A number as answers write it, normalised for exact match: commas removed, a leading '+' and trailing '.'
// dropped, "12.0" -> "12", "-0" -> "0". Returns nullopt when `s` is not a number after that.
std::optional<std::string> normalize_number(const std::string& s);

// The last number in `text` (digits with optional sign, commas and decimal point), normalised; nullopt if none.
std::optional<std::string> last_number(const std::string& text);

}  // namespace bp::data
