#include "harness/core/shard.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "harness/common/error.h"

namespace bp {

ShardSpec parse_shard_spec(const std::string& text, const std::string& option) {
  auto fail = [&]() -> ShardSpec {
    throw InputError(option, "", fmt::format("expected i/N with integers 1 <= i <= N <= {} (e.g. 2/4), got \"{}\"",
                                             kMaxShards, text));
  };
  size_t slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == text.size()) return fail();
  auto number = [&](const std::string& s, long long& v) {
    if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
      return false;
    v = std::stoll(s);
    return true;
  };
  long long i = 0, n = 0;
  if (!number(text.substr(0, slash), i) || !number(text.substr(slash + 1), n)) return fail();
  if (i < 1 || n < 1 || i > n || n > kMaxShards) return fail();
  return ShardSpec{(int)i, (int)n};
}

namespace {

// Fitted to fp16 wall times of suites/kv.json's tasks on SmolLM2-135M, 2 threads (see the constants' uses): a
// token costs 1 unit plus attention growing with its position (ctx/kAttentionTokens more), and every forward call
// (a prefill, a decode step, a scored choice) has a fixed overhead (LM head, sampling, scoring) of kCallUnits. Rough
// on purpose: the estimate only has to rank configurations, and measured wall times (--costs-from) replace it once
// a sweep has run.
constexpr double kAttentionTokens = 600.0;
constexpr double kCallUnits = 90.0;
// Cost of one forward pass over `tokens` tokens starting at position `start`.
double forward_units(double tokens, double start = 0) {
  return tokens * (1.0 + (start + tokens / 2.0) / kAttentionTokens) + kCallUnits;
}

long long opt_int(const Params& p, const char* name, long long fallback) {
  return p.has(name) && p.values()[name].is_number_integer() ? p.get_int(name) : fallback;
}

// Items in the full data set, for limit 0 ("every item"), answer choices per item, and tokens scored per choice
// (context + continuation: each choice is one forward pass).
struct McShape {
  const char* task;
  double items, choices, tokens_per_choice;
};
constexpr McShape kMultipleChoice[] = {{"piqa", 1838, 2, 60},       {"arc-challenge", 1172, 4, 120},
                                       {"arc-easy", 2376, 4, 120},  {"hellaswag", 10042, 4, 110}};
// WikiText-2 raw test, in tokens of a Llama-style tokenizer (for max_chunks 0).
constexpr double kWikiText2Tokens = 300000;

}  // namespace

double static_cost(const Configuration& c) {
  const std::string& task = c.task->info->name;
  const Params& o = c.task->options;
  if (task == "wikitext2") {
    const double n_ctx = (double)opt_int(o, "n_ctx", 512);
    long long chunks = opt_int(o, "max_chunks", 0);
    const double n_chunks = chunks > 0 ? (double)chunks : std::floor(kWikiText2Tokens / n_ctx);
    // Plain: one prefill per chunk. Streaming: the first half prefilled, the second decoded `step` tokens per call.
    if (!(o.has("mode") && o.get_string("mode") == "streaming")) return n_chunks * forward_units(n_ctx);
    const double half = n_ctx / 2, step = (double)std::max<long long>(1, opt_int(o, "step", 1));
    const double calls = std::ceil(half / step);
    return n_chunks * (forward_units(half) + half * (1.0 + (half + half / 2) / kAttentionTokens) + calls * kCallUnits);
  }
  if (task == "passkey" || task == "lines") {
    const double ctx = (double)opt_int(o, "context", 2048);
    const double depths = o.has("depths_percent") ? (double)o.get_int_list("depths_percent").size() : 1.0;
    const double prompts = depths * (double)opt_int(o, "items", 1);
    return prompts * (forward_units(ctx) + (double)opt_int(o, "max_new_tokens", 16) * forward_units(1, ctx));
  }
  if (task == "latency") {
    const double runs = (double)(opt_int(o, "warmup", 1) + opt_int(o, "repetitions", 3));
    double cost = 0;
    for (long long ctx : o.has("contexts") ? o.get_int_list("contexts") : std::vector<long long>{512, 2048})
      cost += runs * (forward_units((double)ctx) + (double)opt_int(o, "decode_tokens", 32) * forward_units(1, (double)ctx));
    return cost;
  }
  if (task == "gsm8k") {
    const double limit = (double)std::max<long long>(1, opt_int(o, "limit", 10));
    const double prompt = (double)(opt_int(o, "shots", 8) + 1) * 120.0;
    return limit * (forward_units(prompt) + (double)opt_int(o, "max_new_tokens", 256) * forward_units(1, prompt));
  }
  for (const auto& mc : kMultipleChoice)
    if (task == mc.task) {
      long long limit = opt_int(o, "limit", 0);
      return (limit > 0 ? (double)limit : mc.items) * mc.choices * forward_units(mc.tokens_per_choice);
    }
  return 1000.0;  // a task this estimator does not know: all such configurations weigh the same
}

std::vector<ShardPart> partition_plan(const std::vector<Configuration>& order, int count,
                                      const std::function<double(const Configuration&)>& cost) {
  if (count < 1) throw std::invalid_argument("partition_plan: count must be at least 1");
  std::vector<double> costs(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    double v = cost(order[i]);
    // A zero, negative or NaN estimate would let one shard take everything for free.
    costs[i] = std::isfinite(v) && v > 0 ? v : 1e-9;
  }
  const double total = std::accumulate(costs.begin(), costs.end(), 0.0);
  const double target = total / count;

  // Model-instance groups, in order of first appearance (order_for_loading keeps each group contiguous).
  std::vector<std::string> keys;
  std::map<std::string, std::vector<size_t>> groups;
  for (size_t i = 0; i < order.size(); ++i) {
    std::string k = model_instance_key(order[i]);
    auto [it, fresh] = groups.try_emplace(k);
    if (fresh) keys.push_back(k);
    it->second.push_back(i);
  }

  // Pieces: whole groups, or consecutive cuts of a group that alone exceeds a shard's share.
  struct Piece {
    std::vector<size_t> members;
    double cost = 0;
  };
  std::vector<Piece> pieces;
  for (const auto& k : keys) {
    const std::vector<size_t>& g = groups.at(k);
    double gc = 0;
    for (size_t i : g) gc += costs[i];
    int cuts = 1;
    if (count > 1 && gc > target * (1.0 + 1e-9))
      cuts = std::min<int>({count, (int)std::ceil(gc / target - 1e-9), (int)g.size()});
    // Consecutive pieces whose largest is as small as possible: the smallest cap with which filling pieces up to
    // the cap, in order, needs at most `cuts` pieces (bisection; the cap lies between the largest member and gc).
    auto pieces_needed = [&](double cap) {
      int n = 1;
      double run = 0;
      for (size_t i : g) {
        if (run > 0 && run + costs[i] > cap) {
          ++n;
          run = 0;
        }
        run += costs[i];
      }
      return n;
    };
    double lo = 0, hi = gc;
    for (size_t i : g) lo = std::max(lo, costs[i]);
    if (cuts > 1)
      for (int it = 0; it < 60 && hi - lo > 1e-9 * hi; ++it) {
        const double mid = (lo + hi) / 2;
        (pieces_needed(mid) <= cuts ? hi : lo) = mid;
      }
    const double cap = cuts > 1 ? hi : gc;
    pieces.push_back(Piece{});
    int piece = 0;
    for (size_t j = 0; j < g.size(); ++j) {
      const double c = costs[g[j]];
      // A new piece when this member would exceed the cap, or when the members left are just enough to give each
      // remaining piece one (splitting a piece never raises the largest).
      const bool full = pieces.back().cost + c > cap;
      const bool needed = g.size() - j <= (size_t)(cuts - 1 - piece);
      if (piece + 1 < cuts && !pieces.back().members.empty() && (full || needed)) {
        pieces.push_back(Piece{});
        ++piece;
      }
      pieces.back().members.push_back(g[j]);
      pieces.back().cost += c;
    }
  }

  // Largest piece first to the least-loaded shard (ties: earlier piece, lower shard): deterministic.
  std::vector<size_t> by_cost(pieces.size());
  std::iota(by_cost.begin(), by_cost.end(), 0);
  std::stable_sort(by_cost.begin(), by_cost.end(), [&](size_t a, size_t b) { return pieces[a].cost > pieces[b].cost; });
  std::vector<ShardPart> parts(count);
  for (size_t p : by_cost) {
    size_t best = 0;
    for (size_t s = 1; s < parts.size(); ++s)
      if (parts[s].cost < parts[best].cost) best = s;
    parts[best].members.insert(parts[best].members.end(), pieces[p].members.begin(), pieces[p].members.end());
    parts[best].cost += pieces[p].cost;
  }
  for (auto& part : parts) {
    std::sort(part.members.begin(), part.members.end());
    std::string last;
    for (size_t i : part.members) {
      std::string k = model_instance_key(order[i]);
      if (k != last) ++part.instance_groups;
      last = k;
    }
  }
  return parts;
}

}  // namespace bp
