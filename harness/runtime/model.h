#pragma once
// The shared model runtime: a Llama-family transformer loaded from GGUF or safetensors, run on the CPU in F32
// (weights dequantized at load; F16 storage optional). Compression plugs in through KvCache (kv_cache.h),
// LinearOp/WeightTransform (linear_op.h) and TokenSelector (token_selector.h); the runtime knows no method.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "harness/runtime/device_session.h"
#include "harness/runtime/io/model_file.h"
#include "harness/runtime/kv_cache.h"
#include "harness/runtime/linear_op.h"
#include "harness/runtime/model_config.h"
#include "harness/runtime/rope.h"
#include "harness/runtime/token_selector.h"
#include "harness/runtime/tokenizer/tokenizer.h"

namespace bp::rt {

enum class WeightStorage { F32, F16 };

struct LoadOptions {
  WeightStorage storage = WeightStorage::F32;
  int threads = 1;  // threads used while loading (dequantization, packing)
};

class Session;

enum class Logits { None, Last, All };

class Model {
 public:
  // Throws bp::InputError for unreadable / invalid / unsupported checkpoints.
  static std::unique_ptr<Model> load(const std::string& path, const LoadOptions& opts = {});
  ~Model();

  const ModelConfig& config() const { return cfg_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const ModelFileInfo& file_info() const { return file_->info(); }
  const ModelFile& file() const { return *file_; }
  const Rope& rope() const { return *rope_; }
  WeightStorage storage() const { return opts_.storage; }
  // Bytes of every weight the forward pass reads (embeddings, norms, all linear layers as really stored).
  size_t weight_bytes() const;
  // Storage format of the linear layers, e.g. "f32" or a weight method's format (first layer's if mixed).
  std::string weight_format() const;
  KvGeometry kv_geometry(int threads) const;

  // Replaces linear layers through a weight method (calibrating first when it asks). Irreversible for this Model.
  // calib_tokens: tokens to run the unmodified model on for calibration (ignored when not wanted).
  void apply_weight_transform(WeightTransform& t, std::span<const int32_t> calib_tokens, int threads);

  // Runs the model over `tokens` in segments of `segment` tokens (each at positions 0.., from an empty cache) and
  // records each linear site's inputs: the first max_rows_per_site rows, or in gram mode Σ x xᵀ over all of them.
  CalibrationData calibrate(std::span<const int32_t> tokens, int threads, int64_t max_rows_per_site,
                            bool gram = false, int segment = WeightTransform::kCalibrationSegment) const;

  // Read access to the weights, for other backends (harness/runtime/cuda uploads them).
  const LinearOp& linear(const LinearSite& site) const;
  const std::vector<float>& attn_norm(int layer) const;
  const std::vector<float>& ffn_norm(int layer) const;
  const std::vector<float>& output_norm() const { return output_norm_; }
  const std::vector<float>& token_embeddings() const { return tok_embd_; }  // [vocab][d_model]

 private:
  friend class Session;
  Model() = default;
  struct Layer;
  void forward(Session& s, const int32_t* tokens, int n, Phase phase, Logits which, float* logits,
               CalibrationData* calib) const;

  LoadOptions opts_;
  ModelConfig cfg_;
  std::unique_ptr<ModelFile> file_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<Rope> rope_;
  std::vector<float> tok_embd_;     // [vocab][d_model], F32 (rows are gathered; the tied output reuses it via output_)
  std::vector<float> output_norm_;  // [d_model]
  std::unique_ptr<LinearOp> output_;
  std::vector<std::unique_ptr<Layer>> layers_;
};

// One sequence being processed: the KV cache (the method), positions and scratch buffers.
class Session {
 public:
  Session(const Model& m, std::unique_ptr<KvCache> cache, int threads, TokenSelector* selector = nullptr);
  // A session whose forward pass runs on another device (harness/runtime/cuda).
  Session(const Model& m, std::unique_ptr<DeviceSession> device, int threads);
  ~Session();

  // Processes tokens at positions n_past()..n_past()+n-1 as a prefill (one batched call) and returns the logits
  // asked for: Last -> [vocab] of the last token, All -> [n][vocab], None -> nullptr. The pointer stays valid until
  // the next call.
  const float* prefill(std::span<const int32_t> tokens, Logits which = Logits::Last);
  // Same for decode steps (k >= 1 new tokens attending to the cache); Phase::Decode for the cache.
  const float* decode(std::span<const int32_t> tokens, Logits which = Logits::Last);

  int64_t n_past() const { return n_past_; }
  // The CPU KV cache (throws std::logic_error for a device session: use kv_bytes()/kv_stats()).
  KvCache& cache();
  const KvCache& cache() const;
  // Bytes of the state the cache holds right now (KvBytes: what the held tokens need), on whichever device runs the
  // session.
  KvBytes kv_bytes() const;
  // Bytes the cache's storage has ALLOCATED right now (KvCache::bytes_allocated / DeviceKvCache::bytes_allocated):
  // buffer capacities, whatever part is in use.
  size_t kv_bytes_allocated() const;
  nlohmann::json kv_stats() const;
  // "cpu" or the device's name.
  std::string device_name() const;
  bool on_device() const { return device_ != nullptr; }
  // Device time of the last prefill/decode in ms (DeviceSession::last_run_ms); negative on the CPU.
  double last_device_ms() const;
  DeviceSession* device_session() const { return device_.get(); }
  const Model& model() const { return model_; }
  int threads() const { return threads_; }
  // Empties the cache and restarts at position 0.
  void reset();
  // Bytes of scratch memory the session holds (activations), for memory accounting.
  size_t scratch_bytes() const;

 private:
  friend class Model;
  const float* run(std::span<const int32_t> tokens, Phase phase, Logits which);
  const Model& model_;
  std::unique_ptr<KvCache> cache_;
  std::unique_ptr<DeviceSession> device_;
  TokenSelector* selector_;
  int threads_;
  int64_t n_past_ = 0;
  struct Scratch;
  std::unique_ptr<Scratch> scratch_;
  std::vector<float> logits_;
};

// Greedy generation: feeds `prompt` as a prefill, then decodes up to `max_new` tokens one at a time, stopping at
// EOS. Returns the generated ids (prompt excluded).
std::vector<int32_t> generate_greedy(Session& s, std::span<const int32_t> prompt, int max_new, bool stop_at_eos = true);

}  // namespace bp::rt
