#include "harness/runtime/tokenizer/bpe_model.h"

#include <queue>

namespace bp::rt {

void BpeModel::MergeTable::build(const std::vector<BpeMerge>& merges) {
  size_t cap = 16;
  int bits = 4;
  while (cap < merges.size() * 2) cap <<= 1, ++bits;  // load factor <= 1/2
  keys_.assign(cap, kEmpty);
  vals_.assign(cap, MergeInfo{});
  mask_ = cap - 1;
  shift_ = 64 - bits;
  for (size_t r = 0; r < merges.size(); ++r) {
    const uint64_t key = pair_key(merges[r].left, merges[r].right);
    size_t i = slot(key);
    while (keys_[i] != kEmpty && keys_[i] != key) i = (i + 1) & mask_;
    keys_[i] = key;  // a pair listed again takes its later rank, as in Hugging Face `tokenizers`
    vals_[i] = {static_cast<int32_t>(r), merges[r].result};
  }
}

BpeModel::BpeModel(Options o) : opt_(std::move(o)) {
  merges_.build(opt_.merges);
  opt_.merges.clear();
  opt_.merges.shrink_to_fit();
}

void BpeModel::encode(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  const bool cacheable = piece.size() <= kCacheMaxPieceBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(piece);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t start = out.size();
  encode_uncached(piece, out);
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.size() >= kCacheMaxEntries) cache_.clear();
    cache_.emplace(std::string(piece), std::vector<int32_t>(out.begin() + start, out.end()));
  }
}

void BpeModel::encode_uncached(std::string_view piece, std::vector<int32_t>& out) const {
  if (opt_.ignore_merges) {
    auto it = opt_.raw_vocab.find(std::string(piece));
    if (it != opt_.raw_vocab.end()) {
      out.push_back(it->second);
      return;
    }
  }

  // Symbols form a doubly linked list over the piece; a merged-away symbol gets len 0.
  struct Symbol {
    int32_t id;
    int32_t prev, next;
    int32_t len;
  };
  std::vector<Symbol> sym;
  sym.reserve(piece.size());
  auto add = [&](int32_t id, int32_t len) {
    const auto n = static_cast<int32_t>(sym.size());
    if (n > 0) sym.back().next = n;
    sym.push_back({id, n - 1, -1, len});
  };
  int32_t pending_unk_len = 0;  // bytes covered by an unknown symbol not yet added (for fuse_unk)
  for (char c : piece) {
    const int32_t id = opt_.byte_ids[static_cast<uint8_t>(c)];
    if (id >= 0) {
      if (pending_unk_len) add(opt_.unk_id, pending_unk_len), pending_unk_len = 0;
      add(id, 1);
    } else if (opt_.unk_id >= 0) {
      if (pending_unk_len && !opt_.fuse_unk) add(opt_.unk_id, pending_unk_len), pending_unk_len = 0;
      pending_unk_len += 1;
    }
  }
  if (pending_unk_len) add(opt_.unk_id, pending_unk_len);

  struct Candidate {
    int32_t rank, pos, result;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto consider = [&](int32_t pos) {
    const int32_t next = sym[pos].next;
    if (next < 0) return;
    if (const MergeInfo* m = merges_.find(sym[pos].id, sym[next].id)) queue.push({m->rank, pos, m->result});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(sym.size()); ++i) consider(i);

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& s = sym[top.pos];
    if (s.len == 0 || s.next < 0) continue;
    const int32_t next = s.next;
    // Skip stale entries: the pair at this position must still merge into the same token.
    const MergeInfo* m = merges_.find(s.id, sym[next].id);
    if (!m || m->result != top.result) continue;
    s.id = top.result;
    s.len += sym[next].len;
    s.next = sym[next].next;
    sym[next].len = 0;
    if (s.next >= 0) sym[s.next].prev = top.pos;
    if (s.prev >= 0) consider(s.prev);
    consider(top.pos);
  }
  for (const Symbol& s : sym)
    if (s.len > 0) out.push_back(s.id);
}

}  // namespace bp::rt
