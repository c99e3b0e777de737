// `bench tokenize`: token ids of a text with a model's tokenizer. The Python parity tests compare its output with
// Hugging Face `tokenizers`; it is also the quick way to see how a prompt is split.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "harness/cli/command.h"
#include "harness/common/error.h"
#include "harness/core/model_registry.h"
#include "harness/runtime/io/model_file.h"
#include "harness/runtime/tokenizer/tokenizer.h"

namespace bp::cli {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InputError(path, "", "expected a readable file (--file), got none");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::unique_ptr<rt::Tokenizer> load_tokenizer(const std::string& model) {
  if (ends_with(model, ".json")) return rt::Tokenizer::create(rt::read_tokenizer_json(model));
  std::string path = model;
  if (const ModelEntry* e = find_model_entry(model)) path = model_cache_path(*e);
  auto mf = rt::ModelFile::open(path);
  return rt::Tokenizer::create(mf->tokenizer());
}

std::vector<std::string> read_batch(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(path, "", std::string("expected a JSON array of strings, got a parse error: ") + e.what());
  }
  if (!j.is_array()) throw InputError(path, "", "expected a JSON array of strings, got " + std::string(j.type_name()));
  std::vector<std::string> out;
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string())
      throw InputError(path, json_pointer_append("", i), "expected a string, got " + std::string(j[i].type_name()));
    out.push_back(j[i].get<std::string>());
  }
  return out;
}

const CommandSpec kSpec{
    .name = "tokenize",
    .summary = "token ids of a text with a model's tokenizer",
    .description = "Prints the token ids of the text (one of --text, --file, --batch), separated by spaces, on one line.",
    .options =
        {{.name = "--model", .value_name = "NAME|PATH",
          .help = "a registry name, a GGUF file, a Hugging Face directory, or a tokenizer.json file", .required = true},
         {.name = "--text", .value_name = "STR", .help = "the text to tokenize"},
         {.name = "--file", .value_name = "PATH", .help = "tokenize the file's bytes exactly (no newline is stripped)"},
         {.name = "--batch", .value_name = "PATH",
          .help = "the file is a JSON array of strings; prints a JSON array with the ids (or pieces) of each"},
         {.name = "--special", .takes_value = false, .help = "add BOS/EOS as the vocabulary asks (add_bos / add_eos)"},
         {.name = "--parse-special", .takes_value = false,
          .help = "match special-token text such as <|im_start|> as single tokens"},
         {.name = "--json", .takes_value = false, .help = "print {\"n_tokens\": N, \"ids\": [...]} instead"},
         {.name = "--pieces", .takes_value = false,
          .help = "print the pre-tokenized pieces as a JSON array of strings instead of ids"},
         {.name = "--time", .takes_value = false, .help = "print the encoding time to stderr"}},
};

int cmd_tokenize(const ParsedArgs& a) {
  const std::string model = *a.get("--model"), file = a.get("--file").value_or(""),
                    batch = a.get("--batch").value_or("");
  const bool have_text = a.get("--text").has_value();
  std::string text = a.get("--text").value_or("");
  const bool special = a.flag("--special"), parse_special = a.flag("--parse-special"), as_json = a.flag("--json"),
             pieces = a.flag("--pieces"), timing = a.flag("--time");
  if (model.empty()) throw InputError("", "--model", "expected a model name or path, got an empty string");
  if (int(have_text) + int(!file.empty()) + int(!batch.empty()) != 1)
    throw InputError("", "", "expected exactly one of --text, --file, --batch; see `bench tokenize --help`");
  if (!file.empty()) text = read_file(file);
  auto tok = load_tokenizer(model);

  const auto t0 = std::chrono::steady_clock::now();
  const std::clock_t c0 = std::clock();  // CPU time too: wall time on a busy shared machine says little
  std::string out;
  size_t n = 0;
  if (!batch.empty()) {
    const std::vector<std::string> texts = read_batch(batch);
    nlohmann::json results = nlohmann::json::array();
    for (const std::string& t : texts) {
      if (pieces) results.push_back(tok->pre_tokenize(t, parse_special));
      else results.push_back(tok->encode(t, special, parse_special));
      n += results.back().size();
      text.append(t);  // only for the byte count of --time
    }
    out = results.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else if (pieces) {
    const std::vector<std::string> p = tok->pre_tokenize(text, parse_special);
    n = p.size();
    out = nlohmann::json(p).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    const std::vector<int32_t> ids = tok->encode(text, special, parse_special);
    n = ids.size();
    out = as_json ? nlohmann::json{{"n_tokens", ids.size()}, {"ids", ids}}.dump() : fmt::format("{}", fmt::join(ids, " "));
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const double cpu_ms = 1000.0 * static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fputc('\n', stdout);
  if (timing)
    std::fprintf(stderr, "%s %zu bytes into %zu %s in %.1f ms (%.1f ms CPU)\n", pieces ? "split" : "encoded",
                 text.size(), n, pieces ? "pieces" : "tokens", ms, cpu_ms);
  return 0;
}

}  // namespace

BENCH_REGISTER_COMMAND(tokenize, kSpec, cmd_tokenize);

}  // namespace bp::cli
