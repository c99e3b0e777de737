#pragma once
// The multiple-choice data files `bench fetch-data` provides, with their public sources (pinned commits).
#include "harness/core/task.h"

namespace bp::data {

// PIQA validation: questions, and their labels one per line in the same order.
inline const DataFile kPiqaQuestions{"piqa/valid.jsonl",
                                     "93503cc97c679e459b065c3d13e848282e44b2a25213985bed3e5d458abef72d",
                                     "https://raw.githubusercontent.com/ybisk/ybisk.github.io/21edab439af693b961be2f069e8690a88d3b4e37/piqa/data/valid.jsonl"};
inline const DataFile kPiqaLabels{"piqa/valid-labels.lst",
                                  "b4192dc3a2a0363d9d60ccf79800cbbe2f32ebb17726efdde6970e0b8131bceb",
                                  "https://raw.githubusercontent.com/ybisk/ybisk.github.io/21edab439af693b961be2f069e8690a88d3b4e37/piqa/data/valid-labels.lst"};
// ARC-Challenge test (AI2's jsonl format).
inline const DataFile kArcChallengeTest{"arc-challenge/ARC-Challenge-Test.jsonl",
                                        "9fa8ffb3e3a1f88cb302d53dd95aae81e39209ad9bcf974376b319d8fd35717c",
                                        "https://raw.githubusercontent.com/wjn1996/Chain-of-Knowledge/c2aace462aaca5a66ad00b2723aec5451df012f0/tasks/ARC-c/dataset/ARC-Challenge-Test.jsonl"};

}  // namespace bp::data
