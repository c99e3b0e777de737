#pragma once
// The device plug point of the runtime. The CPU forward pass in model.cpp is the reference; another device (CUDA,
// harness/runtime/cuda/) implements DeviceSession and a Session delegates to it, so tasks drive either through the
// same Session API. KV methods that run on a device provide a DeviceKvCache (all pointers device pointers).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/runtime/kv_cache.h"

namespace bp::rt {

class Model;
enum class Logits;

// One layer's new tokens on the device (same meaning as AttnBatch; every pointer is a device pointer except
// pos_host).
struct DeviceAttnBatch {
  int layer = 0;
  Phase phase = Phase::Prefill;
  int n = 0;
  const int32_t* pos = nullptr;       // device [n]
  const int32_t* pos_host = nullptr;  // host copy [n]
  float* q = nullptr;                 // [n][n_q_heads][head_dim], not rotated
  float* k = nullptr;                 // [n][n_kv_heads][head_dim], not rotated
  const float* v = nullptr;           // [n][n_kv_heads][head_dim]
  float* out = nullptr;               // [n][n_q_heads][head_dim]
  void* stream = nullptr;             // cudaStream_t the work is ordered on
};

// Shape of a device KV cache (plain data, like KvGeometry).
struct DeviceGeometry {
  int n_layers = 0, n_q_heads = 0, n_kv_heads = 0, head_dim = 0;
  const float* inv_freq = nullptr;  // device [head_dim/2]: the model's RoPE frequencies
  int group() const { return n_q_heads / n_kv_heads; }
};

class DeviceKvCache {
 public:
  virtual ~DeviceKvCache() = default;
  virtual void attend(DeviceAttnBatch& b) = 0;
  // Bytes of the state held (KvBytes, as the CPU cache counts them): `kv_bytes`.
  virtual KvBytes bytes() const = 0;
  // Bytes ALLOCATED by the cache's storage: the sizes of the device buffers holding keys, values, codes, stats and
  // FP16 windows (whatever part is in use), plus host side data (positions, scores, classes): `kv_bytes_allocated`.
  // Not counted: per-call working buffers (attention and observation scratch, F32 rows being quantized or
  // gathered), sized by the largest call and reused, which show in the session's device_peak_bytes.
  virtual size_t bytes_allocated() const = 0;
  virtual int64_t tokens(int layer, int kv_head) const = 0;
  virtual void reset() = 0;
  virtual nlohmann::json stats() const { return nlohmann::json::object(); }
};

// A forward pass on a device for one sequence.
class DeviceSession {
 public:
  virtual ~DeviceSession() = default;
  // Runs tokens at positions n_past.. ; fills `logits` (host) with the rows asked (see Session::prefill).
  virtual void run(std::span<const int32_t> tokens, int64_t n_past, Phase phase, Logits which,
                   std::vector<float>& logits) = 0;
  virtual KvBytes kv_bytes() const = 0;
  virtual size_t kv_bytes_allocated() const = 0;  // DeviceKvCache::bytes_allocated()
  virtual nlohmann::json kv_stats() const = 0;
  virtual void reset() = 0;
  virtual std::string device_name() const = 0;
  // Peak device memory used by this process since the session started, when measurable (0 otherwise).
  virtual size_t peak_device_bytes() const { return 0; }
  // Device time of the last run() in milliseconds, from events on the device's own timeline (CUDA events around the
  // forward pass, the logits copy excluded); negative when the device does not measure it.
  virtual double last_run_ms() const { return -1.0; }
};

// Device backends compiled into this binary. "cpu" is always available.
enum class Device { Cpu, Cuda };
const char* device_name(Device d);
// Parses "cpu" / "cuda"; throws std::invalid_argument otherwise.
Device parse_device(const std::string& s);
// Whether the device can run here; when not, *why says why (e.g. "this build has no CUDA backend" or the CUDA
// driver's error string).
bool device_available(Device d, std::string* why);

}  // namespace bp::rt
