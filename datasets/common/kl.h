#pragma once
// KL divergence of a configuration's next-token distribution from the reference's, KL(P_ref || Q) =
// sum_v p(v) (log p(v) - log q(v)), as llama-perplexity's --kl-divergence reports it, from a compact record of the
// reference distribution.
//
// Storage choice: the full reference distribution costs vocab x 4 bytes per scored token (200 MB per 2048-token
// chunk at vocab 49152; ~28 GB for all of WikiText-2), too much to keep for a run. We keep, per scored token, the
// reference's top-K tokens (id and log-prob, F32) and the probability mass of all other tokens together, p_rest.
// The KL computed from it is the KL of the two distributions coarsened to K+1 outcomes (the top-K tokens and
// "everything else"): exact on the top-K terms, and for the rest it uses p_rest·log(p_rest/q_rest), which by the
// log-sum inequality under-estimates the true tail term by at most p_rest · KL(tail of P || tail of Q). The tasks
// report the mean p_rest so the size of that bound is visible; with K = 256 it is small on WikiText-2.
// llama.cpp itself stores log-probs quantized to 16 bits and clamps them at max-16 nats, another approximation.
//
// Identical logits give KL exactly 0 and top-1 agreement exactly 1: the configuration side rounds the same
// intermediate values to F32 as the reference side did.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace bp::data {

// Floats one reference record takes: [k, p_rest, id_0, logp_0, ..., id_{k-1}, logp_{k-1}], sorted by descending
// log-prob (ties: lower id first), so id_0 is the reference's argmax. Ids are stored as exact float values
// (vocabularies up to 2^24 tokens).
size_t reference_record_floats(int top_k);

// Appends the record of `logits` (one row of `vocab` F32 logits) to `out`: reference_record_floats(k) floats with
// k = clamp(top_k, 1, vocab) (callers size their buffers with the clamped k).
void append_reference_record(const float* logits, int vocab, int top_k, std::vector<float>& out);

struct KlPoint {
  double kl = 0;          // KL(P_ref || Q) of the coarsened distributions, nats
  bool same_top1 = false; // argmax of Q equals the reference's argmax
  double ref_tail = 0;    // p_rest of the reference record
};

// Scores one row of configuration logits against a record written by append_reference_record for the same vocab.
// `mark` is scratch (resized to vocab, left all-zero).
KlPoint kl_from_record(const float* record, const float* logits, int vocab, std::vector<uint8_t>& mark);

}  // namespace bp::data
