#pragma once
// PIQA loader (validation split: valid.jsonl + valid-labels.lst, lined up by line).
#include <string>
#include <vector>

#include "datasets/common/multiple_choice.h"

namespace bp::data {

inline const DataFile kPiqaQuestions{"piqa/valid.jsonl",
                                     "93503cc97c679e459b065c3d13e848282e44b2a25213985bed3e5d458abef72d",
                                     "https://raw.githubusercontent.com/ybisk/ybisk.github.io/21edab439af693b961be2f069e8690a88d3b4e37/piqa/data/valid.jsonl"};
inline const DataFile kPiqaLabels{"piqa/valid-labels.lst",
                                  "b4192dc3a2a0363d9d60ccf79800cbbe2f32ebb17726efdde6970e0b8131bceb",
                                  "https://raw.githubusercontent.com/ybisk/ybisk.github.io/21edab439af693b961be2f069e8690a88d3b4e37/piqa/data/valid-labels.lst"};

// Items with context "Question: {goal}\nAnswer:", choices {sol1, sol2}, gold from the labels file; key = the
// 0-based line index. Throws InputError for checksum, format or count mismatches.
std::vector<McItem> load_piqa(const std::string& data_root, const DataFile& questions, const DataFile& labels);

}  // namespace bp::data
