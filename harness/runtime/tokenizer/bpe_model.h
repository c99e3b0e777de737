#pragma once
// The byte-level BPE model: encodes one pre-tokenized piece (raw bytes) into token ids by applying ranked merges,
// with the same algorithm and tie-breaking as Hugging Face `tokenizers` (a min-queue of (rank, position); stale
// entries are skipped), so ids are identical for every input, not only for the usual ones.
#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace bp::rt {

struct BpeMerge {
  int32_t left, right, result;  // token ids; merges are given in rank order (index = rank)
};

class BpeModel {
 public:
  struct Options {
    std::array<int32_t, 256> byte_ids;  // id of the one-byte token of each byte, -1 when the vocabulary lacks it
    std::vector<BpeMerge> merges;       // rank order; a pair listed twice keeps its last rank (as HF does)
    // Whole-word vocabulary keyed by raw bytes, consulted first when ignore_merges is set (Llama-3 style).
    std::unordered_map<std::string, int32_t> raw_vocab;
    bool ignore_merges = false;
    int32_t unk_id = -1;  // used for bytes without a one-byte token; -1: such bytes are dropped (as HF does)
    bool fuse_unk = false;
  };
  explicit BpeModel(Options o);

  // Appends the ids of one piece. Results are cached per piece; safe to call from several threads.
  void encode(std::string_view piece, std::vector<int32_t>& out) const;

 private:
  void encode_uncached(std::string_view piece, std::vector<int32_t>& out) const;

  struct MergeInfo {
    int32_t rank, result;
  };
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  // Pair -> merge lookups dominate the merge loop, so they use a flat open-addressing table (linear probing,
  // power-of-two size, multiplicative hash) rather than std::unordered_map's node chains.
  class MergeTable {
   public:
    void build(const std::vector<BpeMerge>& merges);
    const MergeInfo* find(int32_t a, int32_t b) const {
      const uint64_t key = pair_key(a, b);
      for (size_t i = slot(key);; i = (i + 1) & mask_) {
        if (keys_[i] == key) return &vals_[i];
        if (keys_[i] == kEmpty) return nullptr;
      }
    }

   private:
    static constexpr uint64_t kEmpty = ~uint64_t{0};  // ids are non-negative, so no pair has this key
    size_t slot(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_); }
    std::vector<uint64_t> keys_;
    std::vector<MergeInfo> vals_;
    size_t mask_ = 0;
    int shift_ = 64;
  };

  Options opt_;
  MergeTable merges_;

  // Per-piece cache. Natural text repeats a small set of words, so this turns the merge loop into a hash lookup
  // for almost every piece. Bounded: cleared when it grows past kCacheMaxEntries; long pieces are not cached.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  static constexpr size_t kCacheMaxEntries = 1 << 18;
  static constexpr size_t kCacheMaxPieceBytes = 256;
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace bp::rt
