#pragma once
// ARC loader (the AI2 jsonl format shared by ARC-Challenge and ARC-Easy).
#include <string>
#include <vector>

#include "datasets/common/multiple_choice.h"

namespace bp::data {

inline const DataFile kArcChallengeTest{"arc-challenge/ARC-Challenge-Test.jsonl",
                                        "9fa8ffb3e3a1f88cb302d53dd95aae81e39209ad9bcf974376b319d8fd35717c",
                                        "https://raw.githubusercontent.com/wjn1996/Chain-of-Knowledge/c2aace462aaca5a66ad00b2723aec5451df012f0/tasks/ARC-c/dataset/ARC-Challenge-Test.jsonl"};

// Items with context "Question: {stem}\nAnswer:", one choice per question.choices[].text, gold = the choice whose
// label equals answerKey (letters or digits); key = the item's id. Throws InputError for checksum or format errors
// (missing fields, no choice matching answerKey, duplicate ids).
std::vector<McItem> load_arc(const std::string& data_root, const DataFile& file);

}  // namespace bp::data
