// BpeTokenizer: the one Tokenizer implementation. Added tokens are cut out first, the rest is normalized (NFC, when
// the tokenizer.json asks for it), pre-tokenized, and each piece is BPE-encoded (bpe_model.h). Decoding maps
// byte-level text back to bytes; added tokens decode as their text.
#include "harness/runtime/tokenizer/tokenizer.h"

#include <fmt/format.h>

#include <fstream>
#include <limits>
#include <sstream>

#include "harness/common/error.h"
#include "harness/runtime/tokenizer/bpe_model.h"
#include "harness/runtime/tokenizer/byte_level.h"
#include "harness/runtime/tokenizer/nfc.h"
#include "harness/runtime/tokenizer/tokenizer_spec.h"
#include "harness/runtime/tokenizer/unicode.h"

namespace bp::rt {

std::pair<std::string, std::string> split_merge(const std::string& merge, const std::string& source,
                                                const std::string& pointer) {
  const size_t sp = merge.find(' ');
  if (sp == std::string::npos || sp == 0 || sp + 1 == merge.size() || merge.find(' ', sp + 1) != std::string::npos)
    throw InputError(source, pointer, fmt::format("expected \"left right\" (two tokens, one space), got \"{}\"", merge));
  return {merge.substr(0, sp), merge.substr(sp + 1)};
}

namespace {

BpeModel::Options bpe_options(const TokenizerSpec& s) {
  BpeModel::Options o;
  for (int b = 0; b < 256; ++b) {
    std::string text;
    unicode::append_utf8(text, byte_level::byte_to_codepoint(static_cast<uint8_t>(b)));
    auto it = s.vocab.find(text);
    o.byte_ids[b] = it == s.vocab.end() ? -1 : it->second;
  }
  o.merges.reserve(s.merges.size());
  auto lookup = [&](const std::string& text, size_t i, const char* role) {
    auto it = s.vocab.find(text);
    if (it == s.vocab.end())
      throw InputError(s.source, fmt::format("{}/{}", s.merges_pointer, i),
                       fmt::format("expected a merge of two vocabulary tokens, got {} \"{}\" which is not a token",
                                   role, text));
    return it->second;
  };
  for (size_t i = 0; i < s.merges.size(); ++i) {
    const auto& [l, r] = s.merges[i];
    const int32_t left = lookup(l, i, "left part");
    const int32_t right = lookup(r, i, "right part");
    auto it = s.vocab.find(l + r);
    if (it == s.vocab.end())
      throw InputError(s.source, fmt::format("{}/{}", s.merges_pointer, i),
                       fmt::format("expected the merged token \"{}\" to be in the vocabulary, got no such token", l + r));
    o.merges.push_back({left, right, it->second});
  }
  o.ignore_merges = s.ignore_merges;
  if (s.ignore_merges) {
    // Keyed by raw bytes, since pieces are raw bytes; texts outside the byte-level alphabet can never match.
    for (const auto& [text, id] : s.vocab) {
      if (byte_level::encode(byte_level::decode(text)) == text) o.raw_vocab.emplace(byte_level::decode(text), id);
    }
  }
  o.unk_id = s.unk_id;
  o.fuse_unk = s.fuse_unk;
  return o;
}

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(TokenizerSpec s)
      : source_(s.source),
        bpe_(bpe_options(s)),
        nfc_(s.nfc),
        pre_(s.pre),
        added_(std::move(s.added)),
        prefix_(std::move(s.prefix_ids)),
        suffix_(std::move(s.suffix_ids)),
        bos_(s.bos_id),
        eos_(s.eos_id) {
    decoded_.resize(s.id_to_text.size());
    for (size_t i = 0; i < s.id_to_text.size(); ++i)
      decoded_[i] = s.verbatim[i] ? s.id_to_text[i] : byte_level::decode(s.id_to_text[i]);
  }

  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const override {
    check_size(text);
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 3 + prefix_.size() + suffix_.size() + 1);
    if (add_special) ids.insert(ids.end(), prefix_.begin(), prefix_.end());
    std::vector<std::string_view> pieces;
    for_each_segment(text, parse_special, [&](std::string_view seg, int32_t id) {
      if (id >= 0) {
        ids.push_back(id);
        return;
      }
      pieces.clear();
      pre_.split(seg, pieces);
      for (std::string_view p : pieces) bpe_.encode(p, ids);
    });
    if (add_special) ids.insert(ids.end(), suffix_.begin(), suffix_.end());
    return ids;
  }

  std::vector<std::string> pre_tokenize(std::string_view text, bool parse_special) const override {
    check_size(text);
    std::vector<std::string> out;
    std::vector<std::string_view> pieces;
    for_each_segment(text, parse_special, [&](std::string_view seg, int32_t id) {
      pieces.clear();
      if (id >= 0) pieces.push_back(seg);
      else pre_.split(seg, pieces);
      for (std::string_view p : pieces) out.emplace_back(p);
    });
    return out;
  }

  std::string decode(const std::vector<int32_t>& ids) const override {
    std::string out;
    for (size_t i = 0; i < ids.size(); ++i) {
      check_id(ids[i], i);
      out += decoded_[ids[i]];
    }
    return out;
  }

  std::string token_text(int32_t id) const override {
    check_id(id, 0);
    return decoded_[id];
  }

  int32_t vocab_size() const override { return static_cast<int32_t>(decoded_.size()); }
  int32_t bos_id() const override { return bos_; }
  int32_t eos_id() const override { return eos_; }
  bool add_bos() const override { return !prefix_.empty(); }

 private:
  void check_id(int32_t id, size_t index) const {
    if (id < 0 || id >= vocab_size())
      throw InputError("", fmt::format("ids/{}", index),
                       fmt::format("expected a token id in [0, {}) of {}, got {}", vocab_size(), source_, id));
  }
  // Calls f(segment, id) for each added token (id >= 0) and each plain, normalized segment (id -1), in order, as
  // Hugging Face does it: non-normalized added tokens are cut from the raw text, the rest is normalized, and then
  // normalized added tokens are cut from that.
  template <class F>
  void for_each_segment(std::string_view text, bool parse_special, F&& f) const {
    if (!nfc_) {
      std::vector<AddedTokenMatcher::Segment> segments;
      added_.split(text, parse_special, segments);
      for (const auto& seg : segments) f(seg.text, seg.id);
      return;
    }
    std::vector<AddedTokenMatcher::Segment> raw, normalized;
    added_.split_pass(text, parse_special, /*normalized_pass=*/false, raw);
    std::string buf;
    for (const auto& seg : raw) {
      if (seg.id >= 0) {
        f(seg.text, seg.id);
        continue;
      }
      buf.clear();
      unicode::append_nfc(seg.text, buf);
      normalized.clear();
      added_.split_pass(buf, parse_special, /*normalized_pass=*/true, normalized);
      for (const auto& n : normalized) f(n.text, n.id);
    }
  }

  // Offsets inside the pre-tokenizer are 32-bit.
  static void check_size(std::string_view text) {
    if (text.size() >= std::numeric_limits<uint32_t>::max())
      throw InputError("", "text", fmt::format("expected less than 4 GiB of text, got {} bytes", text.size()));
  }

  std::string source_;
  BpeModel bpe_;
  bool nfc_;
  PreTokenizer pre_;
  AddedTokenMatcher added_;
  std::vector<int32_t> prefix_, suffix_;
  int32_t bos_, eos_;
  std::vector<std::string> decoded_;  // id -> bytes
};

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::create(const TokenizerData& data) {
  TokenizerSpec spec = data.hf_tokenizer_json.is_null() ? spec_from_gguf(data) : spec_from_hf_json(data);
  return std::make_unique<BpeTokenizer>(std::move(spec));
}

TokenizerData read_tokenizer_json(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InputError(path, "", "expected a readable tokenizer.json file, got none");
  std::stringstream ss;
  ss << f.rdbuf();
  TokenizerData d;
  d.source = path;
  try {
    d.hf_tokenizer_json = nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(path, "", fmt::format("expected valid JSON, got a parse error: {}", e.what()));
  }
  if (d.hf_tokenizer_json.is_null()) throw InputError(path, "", "expected a tokenizer.json object, got null");
  return d;
}

}  // namespace bp::rt
