#pragma once
// HellaSwag loader (the jsonl of the HellaSwag release / Hugging Face dataset: activity_label, ctx_a, ctx_b,
// endings, label) with lm-evaluation-harness's text clean-up.
#include <string>
#include <vector>

#include "datasets/common/multiple_choice.h"

namespace bp::data {

// The harness's preprocess(): strip surrounding whitespace, " [title]" -> ". ", remove every "[...]" (shortest
// match within a line), then replace each non-overlapping "  " by " " (one left-to-right pass, as Python's str.replace).
std::string hellaswag_preprocess(const std::string& text);
// Python's str.capitalize() for ASCII letters: first character upper-case, the rest lower-case (non-ASCII bytes
// are left as they are).
std::string capitalize_ascii(const std::string& text);

// Items: context = preprocess(activity_label + ": " + ctx_a + " " + capitalize(ctx_b)), choices =
// preprocess(ending) for each ending, gold = label (an integer or a digit string); key = "ind" when present (else
// the 1-based line number).
std::vector<McItem> load_hellaswag(const std::string& data_root, const DataFile& file);

}  // namespace bp::data
