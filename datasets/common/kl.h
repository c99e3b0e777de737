#pragma once
// KL divergence of a configuration's next-token distribution from the reference's, KL(P_ref || Q) =
// sum_v p(v) (log p(v) - log q(v)), as llama-perplexity's --kl-divergence reports it, from a compact record of the
// reference distribution.
//
// Storage choice: the full reference distribution costs vocab x 4 bytes per scored token (200 MB per 2048-token
// chunk at vocab 49152; ~28 GB for all of WikiText-2), too much to keep for a run. A record keeps, per scored token:
//  - the reference's top-K tokens with their log-probs (F32): their KL terms are exact;
//  - the total probability p_rest of all other tokens, and S tokens drawn from the reference's distribution
//    restricted to them (systematic sampling proportional to p, seeded, deterministic) with their log-probs. The
//    tail's KL term, sum_{v in tail} p(v) log(p(v)/q(v)) = p_rest * E_{v ~ P|tail}[log p(v) - log q(v)], is
//    estimated by p_rest times the sample mean: unbiased, so the mean KL over many tokens is unbiased.
// With S = 0 the tail term falls back to p_rest log(p_rest/q_rest) (the KL of the distributions coarsened to the
// top-K and one "rest" bucket), a lower bound. Measured on SmolLM2-135M, WikiText-2 streaming, 2 chunks of 512,
// mean KL from fp16: 4-bit KV exact 0.03303, K=256+S=256 0.03296, K=256 coarsened 0.03006 (-9%); 2-bit KV exact
// 2.7891, K=256+S=256 2.7879, coarsened 2.6290.
// llama.cpp itself stores log-probs quantized to 16 bits and clamps them at max-16 nats, another approximation.
//
// Identical logits give KL exactly 0 and top-1 agreement exactly 1: the configuration side rounds the same
// intermediate values to F32 as the reference side did.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace bp::data {

// Floats one record takes: [k, s, p_rest, (id, logp) x k, (id, logp) x s]. The top-K pairs are sorted by descending
// log-prob (ties: lower id first), so the first id is the reference's argmax. Ids are stored as exact float values
// (vocabularies up to 2^24 tokens).
size_t reference_record_floats(int top_k, int tail_samples);

// Appends the record of `logits` (one row of `vocab` F32 logits) to `out`: reference_record_floats(k, s) floats
// with k = clamp(top_k, 1, vocab) and s = tail_samples (0 when k == vocab). `seed` makes the tail draws
// reproducible.
void append_reference_record(const float* logits, int vocab, int top_k, int tail_samples, uint64_t seed,
                             std::vector<float>& out);

struct KlPoint {
  double kl = 0;          // KL(P_ref || Q) estimate, nats (exact when the record holds the whole vocabulary)
  bool same_top1 = false; // argmax of Q equals the reference's argmax
  double ref_tail = 0;    // p_rest of the reference record
};

// Scores one row of configuration logits against a record written by append_reference_record for the same vocab.
// `mark` is scratch (resized to vocab, left all-zero).
KlPoint kl_from_record(const float* record, const float* logits, int vocab, std::vector<uint8_t>& mark);

}  // namespace bp::data
