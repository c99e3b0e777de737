#pragma once
// The passkey prompt generator (Landmark Attention's test, protocols.md).
#include <cstdint>

#include "datasets/common/retrieval.h"

namespace bp::data {

// Prompt with `units` filler sentences: the instruction, the filler before the needle (round(depth * units)
// sentences), the needle "The pass key is NNNNN. Remember it. NNNNN is the pass key.", the rest of the filler, and
// "What is the pass key? The pass key is", joined by newlines (the Landmark layout). The 5-digit key is drawn from
// the item seed; the filler cycles the five sentences "The grass is green." ... "There and back again.".
PromptBuilder passkey_builder(uint64_t item_seed, double depth);

// Correct when the generation contains the key.
bool passkey_correct(const std::string& generation, const std::string& key);

}  // namespace bp::data
