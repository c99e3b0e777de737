#include "harness/runtime/tokenizer/added_tokens.h"

#include <algorithm>

#include "harness/runtime/tokenizer/unicode.h"

namespace bp::rt {

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  by_first_byte_.resize(256);
  for (uint32_t i = 0; i < tokens_.size(); ++i) {
    if (tokens_[i].content.empty()) continue;  // an empty token can never be matched
    by_first_byte_[static_cast<uint8_t>(tokens_[i].content[0])].push_back(i);
  }
  for (auto& v : by_first_byte_) {
    std::stable_sort(v.begin(), v.end(),
                     [&](uint32_t a, uint32_t b) { return tokens_[a].content.size() > tokens_[b].content.size(); });
  }
}

namespace {
bool is_space_at(std::string_view s, size_t i, size_t* len) {
  uint32_t cp;
  *len = unicode::decode_utf8(s, i, &cp);
  return cp != unicode::kInvalid && (unicode::flags(cp) & unicode::kSpace);
}
// Start of the whitespace run that ends at `end` (code-point aligned), not going below `floor`.
size_t strip_left(std::string_view s, size_t floor, size_t end) {
  size_t start = end;
  while (start > floor) {
    size_t p = start - 1;
    while (p > floor && (static_cast<uint8_t>(s[p]) & 0xC0) == 0x80) --p;  // back to a lead byte
    size_t len;
    if (!is_space_at(s, p, &len) || p + len != start) break;
    start = p;
  }
  return start;
}
size_t strip_right(std::string_view s, size_t begin) {
  size_t len;
  while (begin < s.size() && is_space_at(s, begin, &len)) begin += len;
  return begin;
}
}  // namespace

void AddedTokenMatcher::split_pass(std::string_view text, bool parse_special, bool normalized_pass,
                                   std::vector<Segment>& out) const {
  size_t plain_start = 0;  // start of the text not yet emitted
  size_t i = 0;
  while (i < text.size()) {
    const auto& cands = by_first_byte_[static_cast<uint8_t>(text[i])];
    const AddedToken* hit = nullptr;
    for (uint32_t k : cands) {  // longest first
      const AddedToken& t = tokens_[k];
      if (t.normalized != normalized_pass || (t.special && !parse_special)) continue;
      if (text.compare(i, t.content.size(), t.content) == 0) {
        hit = &t;
        break;
      }
    }
    if (!hit) {
      ++i;
      continue;
    }
    size_t begin = i, end = i + hit->content.size();
    if (hit->lstrip) begin = strip_left(text, plain_start, begin);
    if (hit->rstrip) end = strip_right(text, end);
    if (begin > plain_start) out.push_back({text.substr(plain_start, begin - plain_start), -1});
    out.push_back({text.substr(begin, end - begin), hit->id});
    plain_start = i = end;
  }
  if (plain_start < text.size()) out.push_back({text.substr(plain_start), -1});
}

void AddedTokenMatcher::split(std::string_view text, bool parse_special, std::vector<Segment>& out) const {
  if (tokens_.empty()) {
    if (!text.empty()) out.push_back({text, -1});
    return;
  }
  std::vector<Segment> first;
  split_pass(text, parse_special, /*normalized_pass=*/false, first);
  for (const Segment& s : first) {
    if (s.id >= 0) out.push_back(s);
    else split_pass(s.text, parse_special, /*normalized_pass=*/true, out);
  }
}

}  // namespace bp::rt
