#include "datasets/wikitext2/perplexity.h"

#include <algorithm>
#include <stdexcept>

namespace bp::data {

std::string perplexity_text(std::string bytes) {
  if (!bytes.empty() && bytes.back() == '\n') bytes.pop_back();
  return bytes;
}

std::vector<int32_t> perplexity_tokens(const rt::Tokenizer& tok, const std::string& text) {
  // BOS added by hand rather than through add_special, which would also append EOS for vocabularies with add_eos.
  std::vector<int32_t> ids = tok.encode(text, /*add_special=*/false, /*parse_special=*/false);
  if (tok.add_bos() && tok.bos_id() >= 0) ids.insert(ids.begin(), tok.bos_id());
  return ids;
}

int64_t perplexity_chunks(size_t n_tokens, int n_ctx, int64_t max_chunks) {
  int64_t n = (int64_t)(n_tokens / (size_t)n_ctx);
  return max_chunks > 0 ? std::min(n, max_chunks) : n;
}

std::vector<int32_t> perplexity_chunk(const std::vector<int32_t>& tokens, const rt::Tokenizer& tok, int64_t chunk,
                                      int n_ctx) {
  const size_t start = (size_t)chunk * (size_t)n_ctx;
  if (start + (size_t)n_ctx > tokens.size()) throw std::out_of_range("perplexity_chunk: chunk beyond the tokens");
  std::vector<int32_t> c(tokens.begin() + (ptrdiff_t)start, tokens.begin() + (ptrdiff_t)(start + n_ctx));
  if (tok.add_bos() && tok.bos_id() >= 0) c[0] = tok.bos_id();
  return c;
}

void run_chunk(rt::Session& s, std::span<const int32_t> chunk, PplMode mode, int step, const ScoredRow& row) {
  const int n_ctx = (int)chunk.size();
  const int first = first_scored(n_ctx), last = n_ctx - 2;  // scored positions first..last
  if (first > last) throw std::invalid_argument("run_chunk: chunk too short to score any token");
  const size_t V = (size_t)s.model().config().vocab_size;
  if (mode == PplMode::Plain) {
    const float* logits = s.prefill(chunk, rt::Logits::All);
    for (int j = first; j <= last; ++j) row(j, logits + (size_t)j * V);
    return;
  }
  if (step < 1) throw std::invalid_argument("run_chunk: step must be >= 1");
  // Streaming: positions 0..first-1 go through the method's prefill (and its compression); position j's logits
  // then come from decoding token j, k tokens per call, each call attending to the method's cache.
  s.prefill(chunk.subspan(0, first), rt::Logits::None);
  for (int j0 = first; j0 <= last; j0 += step) {
    const int n = std::min(step, last - j0 + 1);
    const float* logits = s.decode(chunk.subspan(j0, n), rt::Logits::All);
    for (int i = 0; i < n; ++i) row(j0 + i, logits + (size_t)i * V);
  }
}

}  // namespace bp::data
