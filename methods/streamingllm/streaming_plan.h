#pragma once
// StreamingLLM's bookkeeping as plain functions (streaming_cache.h has the algorithm), shared by the CPU cache and
// its CUDA twin so both hold exactly the same tokens in the same slots at the same in-cache positions.
// Slots [0, sinks) hold the sinks; slots [sinks, sinks + window) a ring of window tokens whose oldest is at
// sinks + head once the ring is full.
#include <algorithm>
#include <cstdint>
#include <vector>

namespace bp::methods::streamingllm {

// A run of slots [slot, slot + len) whose in-cache positions are pos, pos + 1, ...
struct SlotRun {
  int64_t slot, pos, len;
};

// Every held slot of a layer holding T tokens, in in-cache position order.
inline std::vector<SlotRun> held_runs(int64_t T, int64_t sinks, int64_t head) {
  const int64_t S = std::min(sinks, T), wc = T - S;
  std::vector<SlotRun> r;
  if (S > 0) r.push_back({0, 0, S});
  if (wc > head) r.push_back({S + head, S, wc - head});  // oldest window tokens first
  if (head > 0) r.push_back({S, S + wc - head, head});
  return r;
}

// What storing a call's n new tokens does to a layer holding T0 tokens:
//   new tokens [0, n_sink) are appended as sinks (the first tokens ever received);
//   new tokens [first, first + append) are appended to the window while the ring has room;
//   new tokens [first + append, n) each overwrite the oldest window slot, sinks + head, head advancing by one;
//   new tokens [n_sink, first) never enter (later tokens of the same call would overwrite them).
struct StorePlan {
  int64_t n_sink = 0, first = 0, append = 0;
  int64_t evicted = 0;  // tokens that leave the cache in this call (held ones overwritten + never entered)
};

inline StorePlan plan_store(int64_t T0, int64_t n, int64_t sinks, int64_t window) {
  StorePlan p;
  p.n_sink = std::max<int64_t>(0, std::min<int64_t>(sinks - T0, n));
  const int64_t m = n - p.n_sink;
  p.first = p.n_sink + std::max<int64_t>(0, m - window);
  const int64_t wc = std::max<int64_t>(0, T0 + p.n_sink - sinks);  // window tokens held before the appends
  p.append = std::min(window - wc, n - p.first);
  p.evicted = (m - (n - p.first)) + (n - p.first - p.append);
  return p;
}

}  // namespace bp::methods::streamingllm
