// `text-ppl`: perplexity on any text file exactly as llama.cpp's llama-perplexity computes it (protocols.md),
// optionally in the "streaming" mode that makes KV compression show, and the KL divergence of the configuration's
// next-token distributions from the reference configuration's (fp16 cache, unmodified model) on the same scored
// tokens, as llama-perplexity --kl-divergence reports it. The suite names the file and its sha256.
// `wikitext2` is the same task on WikiText-2's raw test file: one implementation, two registrations.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "datasets/common/data_file.h"
#include "datasets/common/kl.h"
#include "datasets/common/logprob.h"
#include "datasets/common/rng.h"
#include "datasets/common/user_file.h"
#include "datasets/wikitext2/perplexity.h"
#include "harness/common/error.h"
#include "harness/core/registry.h"
#include "harness/core/stats.h"

namespace bp::data {
namespace {

// Seed of a record's tail draws: fixed per scored position, so every run draws the same tail tokens.
uint64_t record_seed(int64_t chunk, int pos) { return mix_seed(0x6b6c2d7461696cULL, (uint64_t)chunk, (uint64_t)pos); }

class PerplexityTask : public Task {
 public:
  PerplexityTask(std::string name, DataFile file) : name_(std::move(name)), file_(std::move(file)) {}

  void run(TaskContext& ctx) override {
    const int n_ctx = (int)ctx.options.get_int("n_ctx");
    const int64_t max_chunks = ctx.options.get_int("max_chunks");
    const bool streaming = ctx.options.get_string("mode") == "streaming";
    const PplMode mode = streaming ? PplMode::Streaming : PplMode::Plain;
    const int step = (int)ctx.options.get_int("step");
    const bool kl = ctx.options.get_bool("kl");
    const rt::Tokenizer& tok = ctx.model->tokenizer();
    const int V = ctx.model->config().vocab_size;

    const std::vector<int32_t> tokens = perplexity_tokens(tok, perplexity_text(read_verified(ctx.data_root, file_)));
    const int64_t n_chunks = perplexity_chunks(tokens.size(), n_ctx, max_chunks);
    if (n_chunks < 1)
      throw InputError(data_path(ctx.data_root, file_.relative_path), "",
                       fmt::format("expected at least n_ctx = {} tokens, got {}", n_ctx, tokens.size()));
    const int first = first_scored(n_ctx);

    // The reference's records are cached per chunk under a key naming everything they depend on: the reference
    // model file and weight storage, the data, the protocol settings and the record size.
    const int top_k = (int)std::min<long long>(ctx.options.get_int("kl_top_k"), V);
    const int tail_samples = top_k == V ? 0 : (int)ctx.options.get_int("kl_tail_samples");
    const size_t stride = reference_record_floats(top_k, tail_samples);
    std::string ref_prefix;
    bool self_is_reference = false;
    if (kl) {
      if (!ctx.reference_cache) throw std::runtime_error(name_ + ": kl=true needs the run's reference cache");
      std::unique_ptr<rt::Session> probe = ctx.new_reference_session();
      const rt::Model& rm = probe->model();
      ref_prefix = fmt::format("{}/kl-reference|model={}|storage={}|data={}|n_ctx={}|mode={}|step={}|top_k={}|tail={}",
                               name_, rm.file_info().sha256, rm.storage() == rt::WeightStorage::F16 ? "f16" : "f32",
                               file_.sha256, n_ctx, streaming ? "streaming" : "plain", streaming ? step : 0, top_k,
                               tail_samples);
      // The reference configuration itself (fp16 on the unmodified model) records its own rows instead of running
      // the reference a second time.
      self_is_reference = ctx.is_reference;
    }

    NllStats nll_stats;
    std::vector<double> kls;
    size_t same_top1 = 0;
    double tail_sum = 0;
    std::vector<uint8_t> mark;
    for (int64_t c = 0; c < n_chunks; ++c) {
      const std::vector<int32_t> chunk = perplexity_chunk(tokens, tok, c, n_ctx);
      const std::string progress_label = fmt::format("chunk {}/{}", c + 1, n_chunks);
      std::shared_ptr<const std::vector<float>> ref;
      std::vector<float> own;
      bool record_own = false;
      std::string key;
      if (kl) {
        key = ref_prefix + "|chunk=" + std::to_string(c);
        ref = ctx.reference_cache->get(key);
        if (!ref && self_is_reference) {
          record_own = true;
          own.reserve((size_t)scored_per_chunk(n_ctx) * stride);
        } else if (!ref) {
          ctx.progress((double)c / (double)n_chunks, progress_label + " (reference)");
          std::vector<float> rec;
          rec.reserve((size_t)scored_per_chunk(n_ctx) * stride);
          {
            std::unique_ptr<rt::Session> rs = ctx.new_reference_session();
            run_chunk(*rs, chunk, mode, step, [&](int j, const float* logits) {
              append_reference_record(logits, V, top_k, tail_samples, record_seed(c, j), rec);
            });
          }
          ctx.reference_cache->put(key, std::move(rec));
          ref = ctx.reference_cache->get(key);
        }
        if (ref && ref->size() != (size_t)scored_per_chunk(n_ctx) * stride)
          throw std::runtime_error(name_ + ": cached reference records have the wrong size for " + key);
      }
      ctx.progress((double)c / (double)n_chunks, progress_label);
      std::unique_ptr<rt::Session> s = ctx.new_session();
      run_chunk(*s, chunk, mode, step, [&](int j, const float* logits) {
        const double nll = token_nll(logits, V, chunk[(size_t)j + 1]);
        nll_stats.add(nll);
        json detail = json::object();
        if (kl) {
          const float* rec;
          if (record_own) {
            append_reference_record(logits, V, top_k, tail_samples, record_seed(c, j), own);
            rec = own.data() + (size_t)(j - first) * stride;
          } else {
            rec = ref->data() + (size_t)(j - first) * stride;
          }
          KlPoint p = kl_from_record(rec, logits, V, mark);
          kls.push_back(p.kl);
          same_top1 += p.same_top1;
          tail_sum += p.ref_tail;
          detail = {{"kl", p.kl}, {"top1", p.same_top1 ? 1 : 0}};
        }
        ctx.sink->item(fmt::format("{}/{}", c, j), nll, detail);
      });
      if (record_own) ctx.reference_cache->put(key, std::move(own));
    }
    ctx.progress(1.0, "done");

    json labels = {{"n_ctx", n_ctx}, {"mode", streaming ? "streaming" : "plain"}};
    if (streaming) labels["step"] = step;
    ctx.sink->metric("ppl", nll_stats.ppl(), "", 0, labels);
    ctx.sink->metric("ppl_stderr", nll_stats.ppl_stderr(), "", 0, labels);
    ctx.sink->metric("nll_mean", nll_stats.mean(), "nats", 0, labels);
    ctx.sink->metric("tokens_scored", (double)nll_stats.count(), "tokens", 0, labels);
    ctx.sink->metric("chunks", (double)n_chunks, "count", 0, labels);
    if (kl && !kls.empty()) {
      const double n = (double)kls.size();
      double sum = 0, sum2 = 0;
      for (double v : kls) {
        sum += v;
        sum2 += v * v;
      }
      const double mean = sum / n;
      const double var = kls.size() > 1 ? std::max(0.0, (sum2 / n - mean * mean) / (n - 1)) : 0.0;
      std::vector<double> sorted = kls;
      std::sort(sorted.begin(), sorted.end());
      ctx.sink->metric("kl_mean", mean, "nats", 0, labels);
      ctx.sink->metric("kl_mean_stderr", std::sqrt(var), "nats", 0, labels);
      ctx.sink->metric("kl_median", quantile_sorted(sorted, 0.5), "nats", 0, labels);
      ctx.sink->metric("kl_p99", quantile_sorted(sorted, 0.99), "nats", 0, labels);
      ctx.sink->metric("kl_max", sorted.back(), "nats", 0, labels);
      ctx.sink->metric("top1_agree", (double)same_top1 / n, "fraction", 0, labels);
      ctx.sink->metric("kl_ref_tail_mass", tail_sum / n, "fraction", 0, labels);
    }
  }

 private:
  std::string name_;  // the registered task's name (messages, the reference cache's keys)
  DataFile file_;
};

// The protocol's options, shared by every registration of the task.
TaskInfo perplexity_task(std::string name, std::string description) {
  TaskInfo t;
  t.name = std::move(name);
  t.description = std::move(description);
  t.protocol = "llama-perplexity";
  t.protocol_version = 1;
  t.options.integer("n_ctx", 512, 16, 131072, "chunk length in tokens; positions n_ctx/2..n_ctx-2 are scored")
      .integer("max_chunks", 0, 0, 1000000, "evaluate at most this many chunks from the start (0 = every chunk)")
      .enumeration("mode", "plain", {"plain", "streaming"},
                   "plain: one prefill per chunk (llama-perplexity; hides most KV compression); streaming: prefill "
                   "the first half through the method's cache, decode the rest `step` tokens per call (BenchPress "
                   "extension, protocols.md)")
      .integer("step", 1, 1, 65536, "streaming only: tokens per decode call (1 = true decoding); keep 1 with plain")
      .boolean("kl", true, "also report the KL divergence from the reference configuration (fp16 cache, unmodified "
                           "model) on the same scored tokens: kl_mean, kl_p99, top1_agree, ...")
      .integer("kl_top_k", 256, 1, 16777216,
               "reference tokens kept exactly per scored token for KL (>= the vocabulary: the whole distribution, "
               "exact KL); kl_ref_tail_mass reports the mean mass outside them")
      .integer("kl_tail_samples", 256, 0, 65536,
               "tokens sampled (proportionally to the reference's probability) from outside the top-k to estimate "
               "the tail's KL term without bias (0: the coarsened lower bound p_rest*log(p_rest/q_rest)); memory "
               "per scored token = 8*(kl_top_k + kl_tail_samples) + 12 bytes");
  constexpr Better L = Better::Lower, H = Better::Higher, N = Better::None;
  t.metrics = {{"ppl", "", L},           {"ppl_stderr", "", N},       {"nll_mean", "nats", L},
               {"tokens_scored", "tokens", N}, {"chunks", "count", N},  {"kl_mean", "nats", L},
               {"kl_mean_stderr", "nats", N},  {"kl_median", "nats", L}, {"kl_p99", "nats", L},
               {"kl_max", "nats", L},          {"top1_agree", "fraction", H},
               // A property of the fp16 reference's records (how much mass the top-k leaves out), not the method's.
               {"kl_ref_tail_mass", "fraction", N}};
  t.validate = [](const Params& p, const std::string& file, const std::string& pointer) {
    if (p.get_string("mode") == "plain" && p.get_int("step") != 1)
      throw InputError(file, json_pointer_append(json_pointer_append(pointer, "options"), "step"),
                       fmt::format("expected step 1 with mode \"plain\" (step applies to mode \"streaming\" only), "
                                   "got {}", p.get_int("step")));
  };
  return t;
}

}  // namespace
}  // namespace bp::data

BENCH_REGISTER_TASK(wikitext2) {
  bp::TaskInfo t = bp::data::perplexity_task(
      "wikitext2",
      "WikiText-2 raw test perplexity as llama-perplexity computes it (plain or streaming through the method's "
      "cache), with KL divergence from the fp16 reference");
  t.data_files = [](const bp::Params&) { return std::vector<bp::DataFile>{bp::data::kWikiText2Test}; };
  t.make = [](const bp::Params&) -> std::unique_ptr<bp::Task> {
    return std::make_unique<bp::data::PerplexityTask>("wikitext2", bp::data::kWikiText2Test);
  };
  return t;
}

BENCH_REGISTER_TASK(text_ppl) {
  bp::TaskInfo t = bp::data::perplexity_task(
      "text-ppl",
      "perplexity of any text file the suite names (options file, sha256) as llama-perplexity computes it (plain "
      "or streaming through the method's cache), with KL divergence from the fp16 reference");
  bp::data::add_user_file_options(t.options, "");
  auto protocol_checks = t.validate;
  t.validate = [protocol_checks](const bp::Params& p, const std::string& file, const std::string& pointer) {
    bp::data::validate_user_file(p, file, pointer);
    protocol_checks(p, file, pointer);
  };
  t.data_files = [](const bp::Params& p) { return std::vector<bp::DataFile>{bp::data::user_file(p)}; };
  t.make = [](const bp::Params& p) -> std::unique_ptr<bp::Task> {
    return std::make_unique<bp::data::PerplexityTask>("text-ppl", bp::data::user_file(p));
  };
  return t;
}
