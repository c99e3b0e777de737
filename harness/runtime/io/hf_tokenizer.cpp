#include "harness/runtime/io/hf_tokenizer.h"

#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <optional>
#include <unordered_map>

#include "harness/common/error.h"
#include "harness/runtime/io/json_file.h"

namespace bp::rt {

namespace {

// Ids index the embedding rows, so vocab_size bounds them (and the allocation a hostile id could ask for).
void set_token(TokenizerData& t, int64_t id, const std::string& text, int32_t type, const std::string& file,
               const std::string& where, int vocab_size) {
  if (id < 0 || id >= vocab_size)
    throw InputError(file, where,
                     fmt::format("expected a token id in 0..{} (config.json vocab_size), got {}", vocab_size - 1, id));
  const auto i = static_cast<size_t>(id);
  if (i >= t.tokens.size()) {
    t.tokens.resize(i + 1);
    t.token_types.resize(i + 1, 0);  // 0 (undefined) marks ids no entry names
  }
  if (t.token_types[i] != 0 && t.tokens[i] != text)
    throw InputError(file, where,
                     fmt::format("expected id {} to name one token, got both '{}' and '{}'", id, t.tokens[i], text));
  t.tokens[i] = text;
  t.token_types[i] = type;
}

// True when a pre-tokenizer / decoder / post-processor (or a Sequence of them) is of type `type`.
bool has_component(const nlohmann::json& node, const std::string& type) {
  if (!node.is_object()) return false;
  if (node.value("type", std::string()) == type) return true;
  for (const char* list : {"pretokenizers", "decoders", "processors", "normalizers"})
    if (auto it = node.find(list); it != node.end() && it->is_array())
      for (const auto& child : *it)
        if (has_component(child, type)) return true;
  return false;
}

// The TemplateProcessing post-processor (alone or inside a Sequence), or nullptr.
const nlohmann::json* template_processor(const nlohmann::json& node) {
  if (!node.is_object()) return nullptr;
  if (node.value("type", std::string()) == "TemplateProcessing") return &node;
  if (auto it = node.find("processors"); it != node.end() && it->is_array())
    for (const auto& child : *it)
      if (const auto* p = template_processor(child)) return p;
  return nullptr;
}

// A special token as tokenizer_config.json spells it: a string, or {"content": "..."} (AddedToken), or null.
std::optional<std::string> special_text(const nlohmann::json& cfg, const char* key, const std::string& file) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  throw InputError(file, json_pointer_append("", key), "expected a string or {\"content\": string}");
}

}  // namespace

TokenizerData hf_tokenizer(const std::string& dir, const nlohmann::json& config, int vocab_size) {
  namespace fs = std::filesystem;
  TokenizerData t;
  const std::string tok_path = (fs::path(dir) / "tokenizer.json").string();
  t.source = tok_path;
  if (!fs::exists(tok_path)) return t;
  t.hf_tokenizer_json = read_json_file(tok_path);
  const nlohmann::json& tj = t.hf_tokenizer_json;
  if (!tj.is_object() || !tj.contains("model") || !tj["model"].is_object())
    throw InputError(tok_path, "/model", "expected a tokenizer model object");
  const nlohmann::json& model = tj["model"];
  const std::string type = model.value("type", std::string());

  // Family names follow GGUF's tokenizer.ggml.model: byte-level BPE is "gpt2", SentencePiece-style BPE "llama".
  if (type == "BPE") {
    const bool byte_level = has_component(tj.value("pre_tokenizer", nlohmann::json()), "ByteLevel") ||
                            has_component(tj.value("decoder", nlohmann::json()), "ByteLevel");
    t.model = byte_level ? "gpt2" : (model.value("byte_fallback", false) ? "llama" : "bpe");
  } else {
    for (char ch : type) t.model += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }

  if (auto vocab = model.find("vocab"); vocab != model.end() && vocab->is_object()) {
    for (const auto& [text, id] : vocab->items()) {
      const std::string where = json_pointer_append("/model/vocab", text);
      if (!id.is_number_integer()) throw InputError(tok_path, where, "expected an integer id");
      const bool is_byte = text.size() == 6 && text.rfind("<0x", 0) == 0 && text.back() == '>';
      set_token(t, id.get<int64_t>(), text, is_byte && t.model == "llama" ? 6 : 1, tok_path, where, vocab_size);
    }
  }
  if (auto added = tj.find("added_tokens"); added != tj.end() && added->is_array()) {
    for (size_t i = 0; i < added->size(); ++i) {
      const auto& a = (*added)[i];
      const std::string where = json_pointer_append("/added_tokens", i);
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
          !a["content"].is_string())
        throw InputError(tok_path, where, "expected {\"id\": integer, \"content\": string, ...}");
      const bool special = a.value("special", false);
      set_token(t, a["id"].get<int64_t>(), a["content"].get<std::string>(), special ? 3 : 4, tok_path, where,
                vocab_size);
    }
  }
  for (auto& ty : t.token_types)
    if (ty == 0) ty = 5;  // ggml's "unused" for ids no entry names

  if (auto merges = model.find("merges"); merges != model.end() && merges->is_array()) {
    t.merges.reserve(merges->size());
    for (size_t i = 0; i < merges->size(); ++i) {
      const auto& m = (*merges)[i];
      if (m.is_string()) {
        t.merges.push_back(m.get<std::string>());
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        t.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());  // tokenizers >= 0.20 format
      } else {
        throw InputError(tok_path, json_pointer_append("/model/merges", i), "expected \"a b\" or [\"a\", \"b\"]");
      }
    }
  }

  std::unordered_map<std::string, int32_t> ids;
  for (size_t i = 0; i < t.tokens.size(); ++i)
    if (t.token_types[i] != 5) ids.emplace(t.tokens[i], static_cast<int32_t>(i));
  auto id_of = [&](const std::string& text, const std::string& file, const std::string& where) {
    auto it = ids.find(text);
    if (it == ids.end())
      throw InputError(file, where, fmt::format("expected a token of the vocabulary, got '{}'", text));
    return it->second;
  };
  if (auto unk = json_opt_string(model, "unk_token", tok_path, "/model"))
    t.unk_id = id_of(*unk, tok_path, "/model/unk_token");

  // config.json's ids first, tokenizer_config.json's token texts override them (they are what tokenizers uses).
  auto cfg_id = [&](const char* key) -> int32_t {
    auto it = config.find(key);
    if (it == config.end() || it->is_null()) return -1;
    const nlohmann::json& v = it->is_array() && !it->empty() ? (*it)[0] : *it;  // eos may list several ids
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || static_cast<size_t>(v.get<int64_t>()) >= t.tokens.size())
      return -1;
    return static_cast<int32_t>(v.get<int64_t>());
  };
  t.bos_id = cfg_id("bos_token_id");
  t.eos_id = cfg_id("eos_token_id");
  t.pad_id = cfg_id("pad_token_id");

  const std::string cfg_path = (fs::path(dir) / "tokenizer_config.json").string();
  std::optional<bool> add_bos, add_eos;
  if (fs::exists(cfg_path)) {
    const nlohmann::json tc = read_json_file(cfg_path);
    if (!tc.is_object()) throw InputError(cfg_path, "", "expected a JSON object");
    if (auto s = special_text(tc, "bos_token", cfg_path)) t.bos_id = id_of(*s, cfg_path, "/bos_token");
    if (auto s = special_text(tc, "eos_token", cfg_path)) t.eos_id = id_of(*s, cfg_path, "/eos_token");
    if (auto s = special_text(tc, "pad_token", cfg_path)) t.pad_id = id_of(*s, cfg_path, "/pad_token");
    if (auto s = special_text(tc, "unk_token", cfg_path)) t.unk_id = id_of(*s, cfg_path, "/unk_token");
    add_bos = json_opt_bool(tc, "add_bos_token", cfg_path, "");
    add_eos = json_opt_bool(tc, "add_eos_token", cfg_path, "");
  }
  // Without explicit flags, the post-processor's single-sequence template says whether BOS/EOS are added
  // (Llama 3 adds <|begin_of_text|> this way).
  if (!add_bos || !add_eos) {
    bool tpl_bos = false, tpl_eos = false;
    const nlohmann::json post = tj.value("post_processor", nlohmann::json());
    if (const auto* tp = template_processor(post))
      if (auto single = tp->find("single"); single != tp->end() && single->is_array() && !single->empty()) {
        auto special_id = [&](const nlohmann::json& item) -> std::string {
          if (item.is_object() && item.contains("SpecialToken") && item["SpecialToken"].is_object())
            return item["SpecialToken"].value("id", std::string());
          return {};
        };
        const std::string first = special_id(single->front()), last = special_id(single->back());
        tpl_bos = !first.empty() && t.bos_id >= 0 && first == t.tokens[static_cast<size_t>(t.bos_id)];
        tpl_eos = !last.empty() && t.eos_id >= 0 && last == t.tokens[static_cast<size_t>(t.eos_id)];
      }
    if (!add_bos) add_bos = tpl_bos;
    if (!add_eos) add_eos = tpl_eos;
  }
  t.add_bos = *add_bos;
  t.add_eos = *add_eos;
  return t;
}

}  // namespace bp::rt
