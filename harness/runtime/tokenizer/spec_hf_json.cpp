// TokenizerSpec from a Hugging Face tokenizer.json (the `tokenizers` serialization). Only what byte-level BPE
// models need is accepted; anything that would change the ids in a way we do not implement is rejected with the
// JSON pointer of the field, rather than silently tokenizing differently from the reference.
#include <fmt/format.h>

#include <algorithm>

#include "harness/common/error.h"
#include "harness/runtime/tokenizer/byte_level.h"
#include "harness/runtime/tokenizer/tokenizer_spec.h"

namespace bp::rt {

namespace {

using nlohmann::json;

constexpr int64_t kMaxVocab = int64_t{1} << 24;

class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& ptr, const std::string& expected) const {
    throw InputError(source_, ptr, expected);
  }
  static std::string describe(const json& j) {
    std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
    return s.size() > 80 ? s.substr(0, 77) + "..." : s;
  }
  const json& member(const json& obj, const std::string& ptr, const char* key, json::value_t type) const {
    const std::string p = json_pointer_append(ptr, key);
    auto it = obj.find(key);
    if (it == obj.end()) fail(p, fmt::format("expected a {}, got nothing", type_name(type)));
    if (!same_type(*it, type)) fail(p, fmt::format("expected a {}, got {}", type_name(type), describe(*it)));
    return *it;
  }
  // Optional member: null when absent or null.
  const json* optional(const json& obj, const char* key) const {
    auto it = obj.find(key);
    return (it == obj.end() || it->is_null()) ? nullptr : &*it;
  }
  bool flag(const json& obj, const std::string& ptr, const char* key, bool dflt) const {
    const json* v = optional(obj, key);
    if (!v) return dflt;
    if (!v->is_boolean()) fail(json_pointer_append(ptr, key), "expected true or false, got " + describe(*v));
    return v->get<bool>();
  }
  std::string string_member(const json& obj, const std::string& ptr, const char* key) const {
    return member(obj, ptr, key, json::value_t::string).get<std::string>();
  }
  std::string type_of(const json& obj, const std::string& ptr) const {
    if (!obj.is_object()) fail(ptr, "expected an object, got " + describe(obj));
    return string_member(obj, ptr, "type");
  }
  int32_t id(const json& v, const std::string& ptr) const {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= kMaxVocab)
      fail(ptr, fmt::format("expected a token id in [0, {}), got {}", kMaxVocab, describe(v)));
    return static_cast<int32_t>(v.get<int64_t>());
  }
  const std::string& source() const { return source_; }

 private:
  static bool same_type(const json& j, json::value_t t) {
    if (t == json::value_t::number_integer) return j.is_number_integer();
    return j.type() == t;
  }
  static const char* type_name(json::value_t t) {
    switch (t) {
      case json::value_t::object: return "object";
      case json::value_t::array: return "array";
      case json::value_t::string: return "string";
      case json::value_t::boolean: return "boolean";
      case json::value_t::number_integer: return "integer";
      default: return "value";
    }
  }
  std::string source_;
};

void parse_model(const Reader& r, const json& root, TokenizerSpec& s) {
  const std::string ptr = "/model";
  const json& m = r.member(root, "", "model", json::value_t::object);
  const std::string type = r.type_of(m, ptr);
  if (type != "BPE")
    r.fail(ptr + "/type", fmt::format("expected \"BPE\" (byte-level BPE is the only model supported), got \"{}\"", type));
  if (const json* d = r.optional(m, "dropout"); d && !(d->is_number() && d->get<double>() == 0.0))
    r.fail(ptr + "/dropout", "expected null (BPE dropout is not supported), got " + Reader::describe(*d));
  if (r.flag(m, ptr, "byte_fallback", false))
    r.fail(ptr + "/byte_fallback", "expected false (byte fallback is for SentencePiece-style BPE, not supported), got true");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (const json* v = r.optional(m, key); v && !(v->is_string() && v->get<std::string>().empty()))
      r.fail(json_pointer_append(ptr, key), "expected null or \"\" (not supported), got " + Reader::describe(*v));
  }
  s.ignore_merges = r.flag(m, ptr, "ignore_merges", false);
  s.fuse_unk = r.flag(m, ptr, "fuse_unk", false);

  const json& vocab = r.member(m, ptr, "vocab", json::value_t::object);
  int32_t max_id = -1;
  s.vocab.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const int32_t id = r.id(it.value(), json_pointer_append(ptr + "/vocab", it.key()));
    s.vocab[it.key()] = id;
    max_id = std::max(max_id, id);
  }
  s.id_to_text.assign(static_cast<size_t>(max_id) + 1, std::string());
  for (const auto& [text, id] : s.vocab) s.id_to_text[id] = text;

  if (const json* unk = r.optional(m, "unk_token")) {
    if (!unk->is_string()) r.fail(ptr + "/unk_token", "expected a string or null, got " + Reader::describe(*unk));
    auto it = s.vocab.find(unk->get<std::string>());
    if (it == s.vocab.end())
      r.fail(ptr + "/unk_token", fmt::format("expected a token of /model/vocab, got \"{}\"", unk->get<std::string>()));
    s.unk_id = it->second;
  }

  s.merges_pointer = ptr + "/merges";
  const json& merges = r.member(m, ptr, "merges", json::value_t::array);
  s.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& e = merges[i];
    const std::string p = json_pointer_append(s.merges_pointer, i);
    if (e.is_string()) {
      s.merges.push_back(split_merge(e.get<std::string>(), r.source(), p));
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      s.merges.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
    } else {
      r.fail(p, "expected \"left right\" or [\"left\", \"right\"], got " + Reader::describe(e));
    }
  }
}

void parse_added_tokens(const Reader& r, const json& root, TokenizerSpec& s) {
  const json* added = r.optional(root, "added_tokens");
  if (!added) return;
  if (!added->is_array()) r.fail("/added_tokens", "expected an array, got " + Reader::describe(*added));
  for (size_t i = 0; i < added->size(); ++i) {
    const json& e = (*added)[i];
    const std::string p = json_pointer_append("/added_tokens", i);
    if (!e.is_object()) r.fail(p, "expected an object, got " + Reader::describe(e));
    AddedToken t;
    t.id = r.id(r.member(e, p, "id", json::value_t::number_integer), p + "/id");
    t.content = r.string_member(e, p, "content");
    if (t.content.empty()) r.fail(p + "/content", "expected a non-empty string, got \"\"");
    t.special = r.flag(e, p, "special", false);
    t.lstrip = r.flag(e, p, "lstrip", false);
    t.rstrip = r.flag(e, p, "rstrip", false);
    t.normalized = r.flag(e, p, "normalized", !t.special);
    if (r.flag(e, p, "single_word", false))
      r.fail(p + "/single_word", "expected false (single_word added tokens are not supported), got true");
    if (static_cast<size_t>(t.id) >= s.id_to_text.size()) {
      s.id_to_text.resize(static_cast<size_t>(t.id) + 1);
    }
    s.id_to_text[t.id] = t.content;
    s.added.push_back(std::move(t));
  }
  s.verbatim.assign(s.id_to_text.size(), 0);
  for (const AddedToken& t : s.added) s.verbatim[t.id] = 1;
}

// NFC (alone or in a Sequence, possibly repeated) is the one normalizer byte-level BPE models use (Qwen2); returns
// whether NFC applies.
bool parse_normalizer(const Reader& r, const json& j, const std::string& ptr) {
  const std::string type = r.type_of(j, ptr);
  if (type == "NFC") return true;
  if (type == "Sequence") {
    const json& list = r.member(j, ptr, "normalizers", json::value_t::array);
    bool nfc = false;
    for (size_t i = 0; i < list.size(); ++i)
      nfc = parse_normalizer(r, list[i], json_pointer_append(ptr + "/normalizers", i)) || nfc;
    return nfc;
  }
  r.fail(ptr + "/type", fmt::format("expected a supported normalizer (NFC, or null), got \"{}\"", type));
}

// Flattens the pre-tokenizer into steps. Exactly one ByteLevel is required and it must come last: it is what maps
// bytes to the byte-level alphabet, and steps after it would see that alphabet instead of the text.
void parse_pre(const Reader& r, const json& j, const std::string& ptr, std::vector<PreStep>& steps,
               bool& byte_level_seen) {
  const std::string type = r.type_of(j, ptr);
  if (byte_level_seen)
    r.fail(ptr + "/type", fmt::format("expected nothing after the ByteLevel pre-tokenizer, got \"{}\"", type));
  if (type == "Sequence") {
    const json& list = r.member(j, ptr, "pretokenizers", json::value_t::array);
    for (size_t i = 0; i < list.size(); ++i)
      parse_pre(r, list[i], json_pointer_append(ptr + "/pretokenizers", i), steps, byte_level_seen);
  } else if (type == "ByteLevel") {
    if (r.flag(j, ptr, "add_prefix_space", false))
      r.fail(ptr + "/add_prefix_space", "expected false (add_prefix_space is not supported), got true");
    if (r.flag(j, ptr, "use_regex", true)) steps.push_back(PreStep::kGpt2Regex);
    byte_level_seen = true;
  } else if (type == "Digits") {
    steps.push_back(r.flag(j, ptr, "individual_digits", false) ? PreStep::kDigitsIndividual : PreStep::kDigitsRuns);
  } else if (type == "Split") {
    const json& pattern = r.member(j, ptr, "pattern", json::value_t::object);
    const json* regex = r.optional(pattern, "Regex");
    if (!regex || !regex->is_string())
      r.fail(ptr + "/pattern", "expected {\"Regex\": <pattern>} (string patterns are not supported), got " +
                                   Reader::describe(pattern));
    auto step = pre_step_for_pattern(regex->get<std::string>());
    if (!step)
      r.fail(ptr + "/pattern/Regex",
             "expected the GPT-2, Llama-3 or Qwen2 pre-tokenizer regex (other regexes are not supported), got " +
                 Reader::describe(*regex));
    const std::string behavior = r.string_member(j, ptr, "behavior");
    if (behavior != "Isolated")
      r.fail(ptr + "/behavior", fmt::format("expected \"Isolated\", got \"{}\"", behavior));
    if (r.flag(j, ptr, "invert", false)) r.fail(ptr + "/invert", "expected false, got true");
    steps.push_back(*step);
  } else {
    r.fail(ptr + "/type",
           fmt::format("expected a supported pre-tokenizer (ByteLevel, Digits, Split, Sequence), got \"{}\"", type));
  }
}

// Prefix/suffix token ids from a TemplateProcessing "single" template; false when there is no template.
bool parse_post(const Reader& r, const json& j, const std::string& ptr, TokenizerSpec& s) {
  const std::string type = r.type_of(j, ptr);
  if (type == "ByteLevel") return false;  // offsets only
  if (type == "Sequence") {
    const json& list = r.member(j, ptr, "processors", json::value_t::array);
    bool any = false;
    for (size_t i = 0; i < list.size(); ++i)
      any = parse_post(r, list[i], json_pointer_append(ptr + "/processors", i), s) || any;
    return any;
  }
  if (type != "TemplateProcessing")
    r.fail(ptr + "/type",
           fmt::format("expected a supported post-processor (TemplateProcessing, ByteLevel, Sequence), got \"{}\"", type));
  const json& single = r.member(j, ptr, "single", json::value_t::array);
  const json& specials = r.member(j, ptr, "special_tokens", json::value_t::object);
  bool after_text = false;
  s.prefix_ids.clear();
  s.suffix_ids.clear();
  for (size_t i = 0; i < single.size(); ++i) {
    const std::string p = json_pointer_append(ptr + "/single", i);
    const json& piece = single[i];
    if (piece.is_object() && piece.contains("Sequence")) {
      after_text = true;
      continue;
    }
    if (!piece.is_object() || !piece.contains("SpecialToken"))
      r.fail(p, "expected {\"SpecialToken\": ...} or {\"Sequence\": ...}, got " + Reader::describe(piece));
    const std::string name = r.string_member(piece["SpecialToken"], p + "/SpecialToken", "id");
    auto it = specials.find(name);
    if (it == specials.end())
      r.fail(p + "/SpecialToken/id", fmt::format("expected a key of {}/special_tokens, got \"{}\"", ptr, name));
    const std::string sp = json_pointer_append(ptr + "/special_tokens", name);
    const json& ids = r.member(*it, sp, "ids", json::value_t::array);
    for (size_t k = 0; k < ids.size(); ++k) {
      const int32_t id = r.id(ids[k], json_pointer_append(sp + "/ids", k));
      if (static_cast<size_t>(id) >= s.id_to_text.size())
        r.fail(json_pointer_append(sp + "/ids", k), fmt::format("expected a token id below {}, got {}", s.id_to_text.size(), id));
      (after_text ? s.suffix_ids : s.prefix_ids).push_back(id);
    }
  }
  return true;
}

void check_decoder(const Reader& r, const json& j, const std::string& ptr) {
  const std::string type = r.type_of(j, ptr);
  if (type == "ByteLevel") return;
  if (type == "Sequence") {
    const json& list = r.member(j, ptr, "decoders", json::value_t::array);
    for (size_t i = 0; i < list.size(); ++i) check_decoder(r, list[i], json_pointer_append(ptr + "/decoders", i));
    return;
  }
  r.fail(ptr + "/type", fmt::format("expected the ByteLevel decoder, got \"{}\"", type));
}

}  // namespace

TokenizerSpec spec_from_hf_json(const TokenizerData& d) {
  const Reader r(d.source);
  const json& root = d.hf_tokenizer_json;
  if (!root.is_object()) r.fail("", "expected a tokenizer.json object, got " + Reader::describe(root));
  TokenizerSpec s;
  s.source = d.source;
  parse_model(r, root, s);
  parse_added_tokens(r, root, s);
  if (s.verbatim.size() != s.id_to_text.size()) s.verbatim.assign(s.id_to_text.size(), 0);

  if (const json* n = r.optional(root, "normalizer")) s.nfc = parse_normalizer(r, *n, "/normalizer");

  const json* pre = r.optional(root, "pre_tokenizer");
  if (!pre) r.fail("/pre_tokenizer", "expected a byte-level pre-tokenizer (ByteLevel, or a Sequence ending in ByteLevel), got null");
  std::vector<PreStep> steps;
  bool byte_level = false;
  parse_pre(r, *pre, "/pre_tokenizer", steps, byte_level);
  if (!byte_level)
    r.fail("/pre_tokenizer", "expected a ByteLevel pre-tokenizer (only byte-level BPE is supported), got none");
  s.pre = PreTokenizer(std::move(steps));

  if (const json* dec = r.optional(root, "decoder")) check_decoder(r, *dec, "/decoder");

  // BOS/EOS: ids the loader found (tokenizer_config.json / config.json) take precedence; add_special follows the
  // post-processor's template when there is one (that is what `tokenizers` applies), else the loader's flags.
  const json* post = r.optional(root, "post_processor");
  const bool has_template = post && parse_post(r, *post, "/post_processor", s);
  const auto n = static_cast<int64_t>(s.id_to_text.size());
  auto checked = [&](int32_t id, const char* what) {
    if (id < -1 || id >= n) r.fail("", fmt::format("expected the {} id in [0, {}), got {}", what, n, id));
    return id;
  };
  s.bos_id = checked(d.bos_id, "BOS");
  s.eos_id = checked(d.eos_id, "EOS");
  if (s.bos_id < 0 && s.prefix_ids.size() == 1) s.bos_id = s.prefix_ids[0];
  if (s.eos_id < 0 && s.suffix_ids.size() == 1) s.eos_id = s.suffix_ids[0];
  if (!has_template) {
    if (d.add_bos) {
      if (s.bos_id < 0) r.fail("", "expected a BOS token id since add_bos is set, got none");
      s.prefix_ids = {s.bos_id};
    }
    if (d.add_eos) {
      if (s.eos_id < 0) r.fail("", "expected an EOS token id since add_eos is set, got none");
      s.suffix_ids = {s.eos_id};
    }
  }
  return s;
}

}  // namespace bp::rt
