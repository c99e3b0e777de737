// `latency`: efficiency of a configuration, measured for every configuration of a run: prefill latency and
// throughput at each context length, per-token decode latency after it, the KV cache's bytes from its own
// accounting (kv_bytes: the state held, with the breakdown; kv_bytes_allocated: its buffers' capacities) and the compression ratio against the fp16 cache at the same length, weight
// bytes, scratch bytes and peak RSS. On a device session also the device-timeline times of the same calls (CUDA
// events: prefill_device_ms, decode_device_ms_median; the wall-clock metrics include the logits copy and the
// launches) and the peak device memory. Every repetition is stored; the core computes the summaries.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "datasets/common/data_file.h"
#include "datasets/common/logprob.h"
#include "datasets/common/process_memory.h"
#include "datasets/common/rng.h"
#include "datasets/wikitext2/perplexity.h"
#include "harness/common/error.h"
#include "harness/core/registry.h"
#include "harness/core/stats.h"

namespace bp::data {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Measurement {
  double prefill_ms = 0;
  std::vector<double> decode_ms;  // one per decoded token
  rt::KvBytes kv_at_context;      // right after the prefill of the L prompt tokens: bytes of the state held
  size_t kv_after_decode = 0;
  // Bytes the cache's storage has allocated (buffer capacities) at the same two moments.
  size_t kv_allocated_at_context = 0, kv_allocated_after_decode = 0;
  size_t device_peak = 0;  // a device session's peak device memory (0 on the CPU or when not measurable)
  // Device-timeline times (CUDA events) of the prefill and of each decode step; empty/negative on the CPU.
  double prefill_device_ms = -1.0;
  std::vector<double> decode_device_ms;
  size_t scratch_bytes = 0;
};

// One timed pass in a fresh session: prefill the prompt (last logits, as generation needs), then decode greedily
// one token at a time (EOS does not stop it: the timing wants a fixed token count).
Measurement measure(TaskContext& ctx, const std::vector<int32_t>& prompt, int decode_tokens) {
  const int V = ctx.model->config().vocab_size;
  std::unique_ptr<rt::Session> s = ctx.new_session();
  Measurement m;
  auto t0 = Clock::now();
  const float* logits = s->prefill(prompt, rt::Logits::Last);
  m.prefill_ms = ms_since(t0);
  m.prefill_device_ms = s->last_device_ms();
  m.kv_at_context = s->kv_bytes();
  m.kv_allocated_at_context = s->kv_bytes_allocated();
  int32_t next = argmax(logits, V);
  m.decode_ms.reserve(decode_tokens);
  for (int i = 0; i < decode_tokens; ++i) {
    auto t = Clock::now();
    logits = s->decode(std::span<const int32_t>(&next, 1), rt::Logits::Last);
    next = argmax(logits, V);
    m.decode_ms.push_back(ms_since(t));
    if (s->last_device_ms() >= 0) m.decode_device_ms.push_back(s->last_device_ms());
  }
  m.kv_after_decode = s->kv_bytes().total();
  m.kv_allocated_after_decode = s->kv_bytes_allocated();
  m.scratch_bytes = s->scratch_bytes();
  if (s->on_device()) m.device_peak = s->device_session()->peak_device_bytes();
  return m;
}

// Byte counts go through the float-valued ReferenceCache as two exact 24-bit halves.
std::vector<float> pack_bytes(size_t b) { return {(float)(b >> 24), (float)(b & 0xFFFFFF)}; }
size_t unpack_bytes(const std::vector<float>& v) { return ((size_t)v.at(0) << 24) + (size_t)v.at(1); }

class LatencyTask : public Task {
 public:
  void run(TaskContext& ctx) override {
    const bool hwm_reset = reset_peak_rss();
    const std::vector<long long> contexts = ctx.options.get_int_list("contexts");
    const int decode_tokens = (int)ctx.options.get_int("decode_tokens");
    const int warmup = (int)ctx.options.get_int("warmup");
    const int reps = (int)ctx.options.get_int("repetitions");
    const uint64_t seed = task_seed(ctx.options.get_int("seed"), ctx.seed);
    const rt::Tokenizer& tok = ctx.model->tokenizer();
    const std::vector<int32_t> text =
        perplexity_tokens(tok, perplexity_text(read_verified(ctx.data_root, kWikiText2Test)));

    std::unique_ptr<rt::Session> probe = ctx.new_reference_session();
    const rt::Model& ref_model = probe->model();
    probe.reset();
    const bool self_is_reference = ctx.is_reference;

    const size_t planned = contexts.size() * (size_t)(warmup + reps);
    size_t done = 0;
    for (long long L : contexts) {
      if ((size_t)L > text.size())
        throw InputError(data_path(ctx.data_root, kWikiText2Test.relative_path), "",
                         fmt::format("expected at least {} tokens for a {}-token prompt, got {}", L, L, text.size()));
      // The prompt: L consecutive tokens of real text at an offset drawn from the seed (the same for every
      // configuration, so their timings compare the same work).
      std::mt19937_64 g(mix_seed(seed, (uint64_t)L));
      const size_t offset = (size_t)uniform_below(g, text.size() - (size_t)L + 1);
      const std::vector<int32_t> prompt(text.begin() + (ptrdiff_t)offset, text.begin() + (ptrdiff_t)(offset + L));
      const json lab = {{"context", L}};

      for (int w = 0; w < warmup; ++w) {
        ctx.progress((double)done++ / (double)planned, fmt::format("context {} warm-up {}/{}", L, w + 1, warmup));
        measure(ctx, prompt, decode_tokens);
      }
      Measurement first;
      for (int r = 0; r < reps; ++r) {
        ctx.progress((double)done++ / (double)planned, fmt::format("context {} repetition {}/{}", L, r + 1, reps));
        Measurement m = measure(ctx, prompt, decode_tokens);
        std::vector<double> sorted = m.decode_ms;
        std::sort(sorted.begin(), sorted.end());
        double decode_total = 0;
        for (double v : m.decode_ms) decode_total += v;
        ctx.sink->metric("prefill_ms", m.prefill_ms, "ms", r, lab);
        ctx.sink->metric("prefill_tok_s", (double)L / (m.prefill_ms / 1000.0), "tok/s", r, lab);
        if (!sorted.empty()) {
          ctx.sink->metric("decode_ms_median", quantile_sorted(sorted, 0.5), "ms", r, lab);
          ctx.sink->metric("decode_ms_p90", quantile_sorted(sorted, 0.9), "ms", r, lab);
          ctx.sink->metric("decode_tok_s", (double)sorted.size() / (decode_total / 1000.0), "tok/s", r, lab);
        }
        if (m.prefill_device_ms >= 0) ctx.sink->metric("prefill_device_ms", m.prefill_device_ms, "ms", r, lab);
        if (!m.decode_device_ms.empty()) {
          std::vector<double> dev = m.decode_device_ms;
          std::sort(dev.begin(), dev.end());
          ctx.sink->metric("decode_device_ms_median", quantile_sorted(dev, 0.5), "ms", r, lab);
        }
        if (r == 0) first = std::move(m);
      }

      // Memory at length L, from the cache's own accounting.
      const size_t kv = first.kv_at_context.total();
      ctx.sink->metric("kv_bytes", (double)kv, "bytes", 0, lab);
      const json parts = first.kv_at_context.to_json();
      for (auto it = parts.begin(); it != parts.end(); ++it)
        if (it.key() != "total")
          ctx.sink->metric("kv_bytes_part", it.value().get<double>(), "bytes", 0,
                           {{"context", L}, {"part", it.key()}});
      ctx.sink->metric("kv_bytes_after_decode", (double)first.kv_after_decode, "bytes", 0, lab);
      // Beside the held bytes: what the cache's buffers have allocated (capacities), after the prefill and after
      // the decode steps.
      ctx.sink->metric("kv_bytes_allocated", (double)first.kv_allocated_at_context, "bytes", 0, lab);
      ctx.sink->metric("kv_bytes_allocated_after_decode", (double)first.kv_allocated_after_decode, "bytes", 0, lab);
      ctx.sink->metric("scratch_bytes", (double)first.scratch_bytes, "bytes", 0, lab);
      if (first.device_peak > 0) ctx.sink->metric("device_peak_bytes", (double)first.device_peak, "bytes", 0, lab);
      const size_t ref_kv = reference_kv_bytes(ctx, ref_model, prompt, L, self_is_reference ? &kv : nullptr);
      ctx.sink->metric("kv_bytes_fp16", (double)ref_kv, "bytes", 0, lab);
      if (kv > 0) ctx.sink->metric("kv_ratio", (double)ref_kv / (double)kv, "x", 0, lab);
    }
    ctx.progress(1.0, "done");
    ctx.sink->metric("weight_bytes", (double)ctx.model->weight_bytes(), "bytes");
    ctx.sink->metric("threads", (double)ctx.threads, "count");
    if (std::optional<uint64_t> hwm = peak_rss_bytes())
      ctx.sink->metric("peak_rss_bytes", (double)*hwm, "bytes", 0,
                       {{"hwm_reset", hwm_reset}, {"scope", hwm_reset ? "this configuration" : "process lifetime"}});
  }

 private:
  // The fp16 cache's bytes after the same prompt, from a reference session's own accounting, once per run.
  static size_t reference_kv_bytes(TaskContext& ctx, const rt::Model& ref_model, const std::vector<int32_t>& prompt,
                                    long long L, const size_t* own) {
    const std::string key = fmt::format("latency/fp16-kv-bytes|model={}|storage={}|context={}|prompt={}",
                                        ref_model.file_info().sha256,
                                        ref_model.storage() == rt::WeightStorage::F16 ? "f16" : "f32", L,
                                        prompt_digest(prompt));
    if (ctx.reference_cache)
      if (auto v = ctx.reference_cache->get(key)) return unpack_bytes(*v);
    size_t bytes;
    if (own) {
      bytes = *own;
    } else {
      std::unique_ptr<rt::Session> rs = ctx.new_reference_session();
      rs->prefill(prompt, rt::Logits::None);
      bytes = rs->kv_bytes().total();
    }
    if (ctx.reference_cache) ctx.reference_cache->put(key, pack_bytes(bytes));
    return bytes;
  }

  // A short fingerprint of the prompt tokens for the cache key (FNV-1a over the ids).
  static std::string prompt_digest(const std::vector<int32_t>& p) {
    uint64_t h = 1469598103934665603ULL;
    for (int32_t t : p) {
      h ^= (uint32_t)t;
      h *= 1099511628211ULL;
    }
    return fmt::format("{:016x}", h);
  }
};

}  // namespace
}  // namespace bp::data

BENCH_REGISTER_TASK(latency) {
  bp::TaskInfo t;
  t.name = "latency";
  t.description = "prefill and per-token decode latency, KV-cache bytes and ratio vs fp16, weight bytes and peak RSS "
                  "at each context length (prompts of real WikiText-2 text)";
  t.protocol = "latency-memory";
  t.protocol_version = 1;
  t.options.integer_list("contexts", {512, 2048}, 1, 1048576, "prompt lengths in tokens")
      .integer("decode_tokens", 32, 1, 100000, "tokens decoded one at a time after each prompt")
      .integer("warmup", 1, 0, 100, "untimed runs per context length before the repetitions")
      .integer("repetitions", 3, 1, 1000, "timed runs per context length, each in a fresh session (all stored)")
      .integer("seed", 1234, 0, 2147483647, "chooses (with the suite's seed) where in WikiText-2's test tokens each prompt starts");
  constexpr auto L = bp::Better::Lower, H = bp::Better::Higher, N = bp::Better::None;
  t.metrics = {{"prefill_ms", "ms", L},         {"prefill_tok_s", "tok/s", H},   {"decode_ms_median", "ms", L},
               {"decode_ms_p90", "ms", L},      {"decode_tok_s", "tok/s", H},    {"kv_bytes", "bytes", L},
               {"kv_bytes_part", "bytes", L},   {"kv_bytes_after_decode", "bytes", L},
               {"scratch_bytes", "bytes", L},
               {"kv_bytes_fp16", "bytes", N},   // the fp16 reference's bytes, not the method's
               {"kv_ratio", "x", H},            {"weight_bytes", "bytes", L},    {"threads", "count", N},
               {"peak_rss_bytes", "bytes", L},  {"device_peak_bytes", "bytes", L}, {"prefill_device_ms", "ms", L},
               {"decode_device_ms_median", "ms", L}, {"kv_bytes_allocated", "bytes", L},
               {"kv_bytes_allocated_after_decode", "bytes", L}};
  t.validate = [](const bp::Params& p, const std::string& file, const std::string& pointer) {
    const std::vector<long long> c = p.get_int_list("contexts");
    for (size_t i = 0; i < c.size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if (c[i] == c[j])
          // The suite's "latency" section is the options object itself; a task entry keeps them under "options".
          throw bp::InputError(file,
                               bp::json_pointer_append(pointer == "/latency" ? pointer
                                                                             : bp::json_pointer_append(pointer, "options"),
                                                       "contexts"),
                               fmt::format("expected distinct context lengths, got {} twice", c[i]));
  };
  t.data_files = [](const bp::Params&) { return std::vector<bp::DataFile>{bp::data::kWikiText2Test}; };
  t.make = [](const bp::Params&) -> std::unique_ptr<bp::Task> { return std::make_unique<bp::data::LatencyTask>(); };
  return t;
}
