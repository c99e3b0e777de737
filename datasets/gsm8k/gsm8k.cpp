// `gsm8k`: grade-school math, 8-shot chain of thought, exact match of the final number (slow on the CPU: each item
// generates up to max_new_tokens tokens after a ~900-token prompt).
#include "datasets/gsm8k/gsm8k.h"

#include <fmt/format.h>

#include <cctype>

#include "datasets/common/data_file.h"
#include "datasets/common/generation.h"
#include "datasets/common/jsonl.h"
#include "datasets/common/multiple_choice.h"
#include "datasets/common/rng.h"
#include "harness/common/error.h"
#include "harness/core/registry.h"

namespace bp::data {
namespace {

struct Exemplar {
  const char* question;
  const char* reasoning;
  const char* answer;
};

// The eight exemplars of the chain-of-thought paper's GSM8K prompt.
const Exemplar kExemplars[8] = {
    {"There are 15 trees in the grove. Grove workers will plant trees in the grove today. After they are done, there "
     "will be 21 trees. How many trees did the grove workers plant today?",
     "There are 15 trees originally. Then there were 21 trees after some more were planted. So there must have been "
     "21 - 15 = 6.",
     "6"},
    {"If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in the parking lot?",
     "There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5.", "5"},
    {"Leah had 32 chocolates and her sister had 42. If they ate 35, how many pieces do they have left in total?",
     "Originally, Leah had 32 chocolates. Her sister had 42. So in total they had 32 + 42 = 74. After eating 35, they "
     "had 74 - 35 = 39.",
     "39"},
    {"Jason had 20 lollipops. He gave Denny some lollipops. Now Jason has 12 lollipops. How many lollipops did Jason "
     "give to Denny?",
     "Jason started with 20 lollipops. Then he had 12 after giving some to Denny. So he gave Denny 20 - 12 = 8.", "8"},
    {"Shawn has five toys. For Christmas, he got two toys each from his mom and dad. How many toys does he have now?",
     "Shawn started with 5 toys. If he got 2 toys each from his mom and dad, then that is 4 more toys. 5 + 4 = 9.", "9"},
    {"There were nine computers in the server room. Five more computers were installed each day, from monday to "
     "thursday. How many computers are now in the server room?",
     "There were originally 9 computers. For each of 4 days, 5 more computers were added. So 5 * 4 = 20 computers "
     "were added. 9 + 20 is 29.",
     "29"},
    {"Michael had 58 golf balls. On tuesday, he lost 23 golf balls. On wednesday, he lost 2 more. How many golf balls "
     "did he have at the end of wednesday?",
     "Michael started with 58 golf balls. After losing 23 on tuesday, he had 58 - 23 = 35. After losing 2 more, he "
     "had 35 - 2 = 33 golf balls.",
     "33"},
    {"Olivia has $23. She bought five bagels for $3 each. How much money does she have left?",
     "Olivia had 23 dollars. 5 bagels for 3 dollars each will be 5 x 3 = 15 dollars. So she has 23 - 15 dollars "
     "left. 23 - 15 is 8.",
     "8"},
};

// Generation ends where the model starts another question or paragraph (the harness's stop sequences).
const std::vector<std::string> kStops = {"\n\n", "Q:", "<|im_end|>", "</s>"};

std::optional<std::string> number_after(const std::string& text, size_t pos) {
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == '$')) ++pos;
  size_t end = pos;
  if (end < text.size() && text[end] == '-') ++end;
  while (end < text.size() && (std::isdigit((unsigned char)text[end]) || text[end] == ',' || text[end] == '.')) ++end;
  if (end == pos) return std::nullopt;
  return normalize_number(text.substr(pos, end - pos));
}

class Gsm8kTask : public Task {
 public:
  void run(TaskContext& ctx) override {
    std::vector<Gsm8kItem> all = load_gsm8k(ctx.data_root, kGsm8kTest);
    const std::vector<size_t> pick =
        choose_subset(all.size(), (size_t)ctx.options.get_int("limit"), task_seed(ctx.options.get_int("seed"), ctx.seed));
    const int shots = (int)ctx.options.get_int("shots");
    const int max_new = (int)ctx.options.get_int("max_new_tokens");
    const rt::Tokenizer& tok = ctx.model->tokenizer();
    size_t strict = 0, flexible = 0;
    for (size_t done = 0; done < pick.size(); ++done) {
      const Gsm8kItem& it = all[pick[done]];
      std::vector<int32_t> ids = tok.encode(gsm8k_prompt(it.question, shots), false, false);
      if (tok.add_bos() && tok.bos_id() >= 0) ids.insert(ids.begin(), tok.bos_id());
      std::unique_ptr<rt::Session> s = ctx.new_session();
      Continuation c = greedy_continue(*s, ids, max_new, kStops);
      const std::optional<std::string> got = gsm8k_extract_answer(c.text);
      const std::optional<std::string> last = last_number(c.text);
      const bool ok = got && *got == it.answer, ok_flex = last && *last == it.answer;
      strict += ok;
      flexible += ok_flex;
      ctx.sink->item(it.key, ok ? 1.0 : 0.0,
                     {{"gold", it.answer}, {"extracted", got ? json(*got) : json(nullptr)},
                      {"last_number", last ? json(*last) : json(nullptr)}, {"flexible", ok_flex ? 1 : 0},
                      {"generation", c.text}, {"stop", c.stop}, {"prompt_tokens", ids.size()},
                      {"generated_tokens", c.ids.size()}});
      ctx.progress((double)(done + 1) / (double)pick.size(), fmt::format("item {}/{}", done + 1, pick.size()));
    }
    const size_t n = pick.size();
    const double em = n ? (double)strict / (double)n : 0.0;
    ctx.sink->metric("exact_match", em, "fraction");
    ctx.sink->metric("exact_match_stderr", accuracy_stderr(em, n), "fraction");
    ctx.sink->metric("exact_match_flexible", n ? (double)flexible / (double)n : 0.0, "fraction");
    ctx.sink->metric("items", (double)n, "count");
  }
};

}  // namespace

std::vector<Gsm8kItem> load_gsm8k(const std::string& data_root, const DataFile& file) {
  const std::string path = data_path(data_root, file.relative_path);
  std::vector<Gsm8kItem> items;
  for (const JsonlRecord& r : parse_jsonl(read_verified(data_root, file), path)) {
    Gsm8kItem it;
    it.key = std::to_string(r.line - 1);
    it.question = string_field(r, "question", path);
    const std::string answer = string_field(r, "answer", path);
    const size_t at = answer.rfind("#### ");
    std::optional<std::string> n = at == std::string::npos ? std::nullopt : normalize_number(answer.substr(at + 5));
    if (!n)
      throw InputError(path, record_pointer(r, "answer"), "expected a solution ending in \"#### <number>\", got none");
    it.answer = *n;
    items.push_back(std::move(it));
  }
  return items;
}

std::string gsm8k_prompt(const std::string& question, int shots) {
  std::string p;
  for (int i = 0; i < shots && i < 8; ++i)
    p += fmt::format("Q: {}\nA: {} The answer is {}.\n\n", kExemplars[i].question, kExemplars[i].reasoning,
                     kExemplars[i].answer);
  return p + "Q: " + question + "\nA:";
}

std::optional<std::string> gsm8k_extract_answer(const std::string& generation) {
  const std::string marker = "The answer is";
  size_t at = generation.find(marker);
  if (at != std::string::npos) return number_after(generation, at + marker.size());
  at = generation.find("####");
  if (at != std::string::npos) return number_after(generation, at + 4);
  return std::nullopt;
}

}  // namespace bp::data

BENCH_REGISTER_TASK(gsm8k) {
  bp::TaskInfo t;
  t.name = "gsm8k";
  t.description = "GSM8K test: 8-shot chain-of-thought prompt, greedy generation, exact match of the final number";
  t.protocol = "gsm8k-cot-8shot";
  t.protocol_version = 1;
  bp::data::add_subset_options(t.options, 10);
  t.options.integer("shots", 8, 0, 8, "exemplars in the prompt (the standard prompt has 8)")
      .integer("max_new_tokens", 256, 1, 4096, "greedy tokens generated per question at most (stops at a blank "
                                               "line or \"Q:\")");
  t.metrics = {{"exact_match", "fraction", bp::Better::Higher},
               {"exact_match_stderr", "fraction", bp::Better::None},
               {"exact_match_flexible", "fraction", bp::Better::Higher},
               {"items", "count", bp::Better::None}};
  t.data_files = [](const bp::Params&) { return std::vector<bp::DataFile>{bp::data::kGsm8kTest}; };
  t.make = [](const bp::Params&) -> std::unique_ptr<bp::Task> { return std::make_unique<bp::data::Gsm8kTask>(); };
  return t;
}
