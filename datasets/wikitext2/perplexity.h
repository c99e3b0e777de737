#pragma once
// The llama-perplexity protocol's pieces (protocols.md), separated from the task so tests can drive them:
// tokenizing the file, cutting chunks, and running one chunk in "plain" mode (one prefill of the whole chunk, as
// llama-perplexity) or "streaming" mode (the BenchPress extension: the first half prefilled through the method's
// cache, the rest decoded in steps of k tokens attending to it). Both hand back the logits of the scored positions
// j = n_ctx/2 .. n_ctx-2, each predicting token j+1.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "harness/core/task.h"
#include "harness/runtime/model.h"

namespace bp::data {

// The WikiText-2 raw test split (also the latency task's source of real-text prompts).
inline const DataFile kWikiText2Test{"wikitext-2-raw/wiki.test.raw",
                                     "173c87a53759e0201f33e0ccf978e510c2042d7f2cb78229d9a50d79b9e7dd08",
                                     "https://raw.githubusercontent.com/MichaelZhouwang/Commonsense_Pretraining/9ae917e83845a9af8f70c88252f82839de938772/datasets/wikitext-2-raw/wiki.test.raw"};

enum class PplMode { Plain, Streaming };

// The file's text as llama-perplexity reads it: exactly one trailing '\n' removed.
std::string perplexity_text(std::string file_bytes);
// Tokenized once: BOS first when the vocabulary adds BOS, special-token text not parsed, no EOS.
std::vector<int32_t> perplexity_tokens(const rt::Tokenizer& tok, const std::string& text);

// Number of chunks: floor(n_tokens / n_ctx), capped by max_chunks when > 0.
int64_t perplexity_chunks(size_t n_tokens, int n_ctx, int64_t max_chunks);
// First scored position (n_ctx/2) and the number of scored tokens per chunk (n_ctx - 1 - n_ctx/2).
inline int first_scored(int n_ctx) { return n_ctx / 2; }
inline int scored_per_chunk(int n_ctx) { return n_ctx - 1 - n_ctx / 2; }

// Chunk i's tokens, with the first replaced by BOS when the vocabulary adds BOS.
std::vector<int32_t> perplexity_chunk(const std::vector<int32_t>& tokens, const rt::Tokenizer& tok, int64_t chunk,
                                      int n_ctx);

// Runs one chunk (n_ctx tokens) through a fresh session and calls row(j, logits_of_position_j) for every scored
// position in increasing order. `step` is the decode step k (streaming only).
using ScoredRow = std::function<void(int pos, const float* logits)>;
void run_chunk(rt::Session& s, std::span<const int32_t> chunk, PplMode mode, int step, const ScoredRow& row);

}  // namespace bp::data
