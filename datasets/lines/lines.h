#pragma once
// The LongEval line-retrieval prompt generator (as used by the ZipCache paper; protocols.md).
#include <cstdint>
#include <random>
#include <string>

#include "datasets/common/retrieval.h"

namespace bp::data {

// A pronounceable made-up word of 2-3 consonant-vowel syllables (the line keys are "word-word" pairs; the word
// list is generated in code rather than shipped).
std::string pseudo_word(std::mt19937_64& g);

// Prompt with `units` lines "line <key>: REGISTER_CONTENT is <NNNNN>" after LongEval's instruction, then the
// question for the line at round(depth * (units - 1)): "Tell me what is the <REGISTER_CONTENT> in line <key>? I
// need the number." With `cue`, the answer is started for the model in the record's own format:
// "\nline <key>: REGISTER_CONTENT is <".
// Keys are unique within a prompt; values are uniform 5-digit numbers; the line sequence depends only on the seed,
// so longer prompts extend shorter ones.
PromptBuilder lines_builder(uint64_t item_seed, double depth, bool cue);

// Correct when the first integer of the generation equals the value.
bool lines_correct(const std::string& generation, const std::string& value);

}  // namespace bp::data
