#pragma once
// GSM8K with the standard 8-shot chain-of-thought prompt (Wei et al. 2022), greedy generation, exact match of the
// final number.
#include <optional>
#include <string>
#include <vector>

#include "harness/core/task.h"

namespace bp::data {

inline const DataFile kGsm8kTest{"gsm8k/test.jsonl", "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14",
                                "https://raw.githubusercontent.com/openai/grade-school-math/3101c7d5072418e28b9008a6636bde82a006892c/grade_school_math/data/test.jsonl"};

struct Gsm8kItem {
  std::string key;       // 0-based line index
  std::string question;
  std::string answer;    // the reference's final number, normalised (text after "#### ")
};
std::vector<Gsm8kItem> load_gsm8k(const std::string& data_root, const DataFile& file);

// "Q: <exemplar>\nA: <reasoning> The answer is <n>.\n\n" for the first `shots` exemplars, then "Q: <question>\nA:".
std::string gsm8k_prompt(const std::string& question, int shots);

// The number stated as the answer: after the first "The answer is" (else the first "####"), optional spaces and
// '$', normalised (commas dropped, trailing '.' removed). nullopt when the generation states none.
std::optional<std::string> gsm8k_extract_answer(const std::string& generation);

}  // namespace bp::data
