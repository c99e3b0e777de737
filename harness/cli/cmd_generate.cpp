// `bench generate`: greedy continuation of a prompt, with any KV method, and the tokens/s — the human check that the
// model (and a compressed cache) behaves.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "harness/cli/command.h"
#include "harness/common/error.h"
#include "harness/core/model_registry.h"
#include "harness/core/param_cli.h"
#include "harness/core/registry.h"
#include "harness/core/session_factory.h"
#include "harness/core/suite.h"
#include "harness/runtime/model.h"

namespace bp::cli {
namespace {

// Tokens generated at most: far beyond the context of any model the harness runs.
constexpr long long kMaxGenerateTokens = 1 << 20;

std::string resolve_model(const std::string& m) {
  if (const ModelEntry* e = find_model_entry(m)) return model_cache_path(*e);
  return m;
}

const CommandSpec kSpec{
    .name = "generate",
    .summary = "greedy continuation of a prompt with any KV method (a human check)",
    .description = "Prints the greedy continuation of TEXT and the prefill and decode speed.",
    .options =
        {{.name = "--model", .value_name = "NAME|PATH", .help = "a registry model name or a model file",
          .required = true},
         {.name = "--prompt", .value_name = "TEXT", .help = "the prompt", .required = true},
         {.name = "-n", .value_name = "TOKENS", .help = "tokens to generate at most (default 64)",
          .range = IntRange{0, kMaxGenerateTokens}},
         {.name = "--method", .value_name = "NAME",
          .help = "the KV-cache method (default fp16, see `bench list methods`)"},
         {.name = "--param", .value_name = "K=V", .help = "a parameter of the method", .repeated = true},
         {.name = "--threads", .value_name = "N", .help = "threads (default 2)", .range = IntRange{1, kMaxThreads}},
         {.name = "--storage", .value_name = "f32|f16", .help = "storage of the weights (default f32)"},
         {.name = "--device", .value_name = "cpu|cuda", .help = "where the model runs (default cpu)"},
         {.name = "--chat", .takes_value = false,
          .help = "wrap the prompt in the model's ChatML turn markers (SmolLM2-Instruct style)"}},
};

int cmd_generate(const ParsedArgs& a) {
  // Integers are checked by the parser against their range: "-n abc" is a usage error (exit code 2) naming the
  // option.
  const std::string model = *a.get("--model"), prompt = *a.get("--prompt");
  const std::string method = a.get("--method").value_or("fp16"), storage = a.get("--storage").value_or("f32"),
                    device = a.get("--device").value_or("cpu");
  const std::vector<std::string>& params = a.all("--param");
  const int n = (int)a.get_int("-n").value_or(64), threads = (int)a.get_int("--threads").value_or(2);
  const bool chat = a.flag("--chat");
  if (model.empty()) throw InputError("", "--model", "expected a model name or path, got an empty string");
  if (prompt.empty()) throw InputError("", "--prompt", "expected a non-empty prompt");
  if (storage != "f32" && storage != "f16") throw InputError("", "--storage", "expected f32 or f16, got " + storage);
  const MethodInfo* info = MethodRegistry::find(method);
  if (!info) throw InputError("", "--method", "unknown method \"" + method + "\" (see `bench list methods`)");
  Params p(info->schema.canonicalize(parse_param_assignments(info->schema, params, "--param"), "--param", ""));
  if (info->validate) info->validate(p, "--param", "");

  auto t0 = std::chrono::steady_clock::now();
  rt::LoadOptions lo;
  lo.storage = storage == "f16" ? rt::WeightStorage::F16 : rt::WeightStorage::F32;
  lo.threads = threads;
  auto m = rt::Model::load(resolve_model(model), lo);
  // A weights method transforms the loaded model before the session is made, as `bench run` does. Calibration
  // needs the evaluation data, which only `bench run` resolves.
  if (info->fills(Role::Weights)) {
    MethodContext mc;
    mc.geometry = m->kv_geometry(threads);
    mc.config = &m->config();
    std::unique_ptr<rt::WeightTransform> t = info->make_weight_transform(mc, p);
    if (t->wants_calibration())
      throw InputError("", "--method", "method \"" + method + "\" calibrates on data; expected a method without "
                                       "calibration here (run it with `bench run`)");
    m->apply_weight_transform(*t, {}, threads);
  }
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  if (device != "cpu" && device != "cuda") throw InputError("", "--device", "expected cpu or cuda, got " + device);
  SessionFactory factory(rt::parse_device(device), threads, 0, "--device");
  std::unique_ptr<rt::Session> session = factory.make(*m, *info, p);
  rt::Session& s = *session;
  const std::string text = chat ? "<|im_start|>user\n" + prompt + "<|im_end|>\n<|im_start|>assistant\n" : prompt;
  std::vector<int32_t> ids = m->tokenizer().encode(text, true, /*parse_special=*/chat);

  // Greedy decoding, timed in two parts: the prompt's prefill, then the generated tokens one at a time.
  using clock = std::chrono::steady_clock;
  const int V = m->config().vocab_size;
  const int32_t eos = m->tokenizer().eos_id();
  const auto t1 = clock::now();
  const float* logits = s.prefill(ids, rt::Logits::Last);
  const auto t2 = clock::now();
  std::vector<int32_t> out;
  for (int step = 0; step < n; ++step) {
    const int32_t next = (int32_t)(std::max_element(logits, logits + V) - logits);
    if (next == eos) break;
    out.push_back(next);
    if (step + 1 < n) logits = s.decode(std::span<const int32_t>(&out.back(), 1), rt::Logits::Last);
  }
  const auto t3 = clock::now();
  const double prefill_s = std::chrono::duration<double>(t2 - t1).count();
  const double decode_s = std::chrono::duration<double>(t3 - t2).count();

  std::printf("%s%s\n", prompt.c_str(), m->tokenizer().decode(out).c_str());
  std::fprintf(stderr,
               "\n[%s, %s weights, method %s %s, %s, %d threads] load %.2f s | prompt %zu tokens: %.1f tok/s | "
               "generated %zu tokens: %.1f tok/s | KV cache %zu bytes held, %zu allocated\n",
               m->file_info().path.c_str(), m->weight_format().c_str(), method.c_str(), p.canonical_text().c_str(),
               s.device_name().c_str(), threads, load_s, ids.size(), ids.size() / prefill_s, out.size(),
               out.size() > 1 && decode_s > 0 ? (out.size() - 1) / decode_s : 0.0, s.kv_bytes().total(),
               s.kv_bytes_allocated());
  return 0;
}

}  // namespace

BENCH_REGISTER_COMMAND(generate, kSpec, cmd_generate);

}  // namespace bp::cli
