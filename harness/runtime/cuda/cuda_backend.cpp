#include "harness/runtime/cuda/cuda_backend.h"

#include <map>
#include <mutex>
#include <stdexcept>

#include "harness/runtime/dense_linear.h"
#include "kernels/common/fp16.h"
#include "kernels/cuda/kv_cuda.h"
#include "kernels/cuda/model_ops.h"

namespace bp::rt::cuda {

namespace kc = bp::kern::cuda;
using kc::DeviceBuffer;

namespace {

DeviceBuffer upload_f32(const std::vector<float>& v) {
  DeviceBuffer b(v.size() * sizeof(float));
  b.upload(v.data(), v.size() * sizeof(float));
  return b;
}

DeviceBuffer upload_f16(const float* v, size_t n) {
  std::vector<uint16_t> h(n);
  for (size_t i = 0; i < n; ++i) h[i] = kern::f32_to_f16(v[i]);
  DeviceBuffer b(n * 2);
  b.upload(h.data(), n * 2);
  return b;
}

struct DeviceLinear {
  DeviceBuffer w;     // FP16 [out][in]
  DeviceBuffer bias;  // F32 [out] or empty
  int out = 0, in = 0;
  size_t bytes() const { return w.size() + bias.size(); }
};

DeviceLinear upload_linear(const LinearOp& op, const std::string& site) {
  const auto* dense = dynamic_cast<const DenseLinear*>(&op);
  if (!dense)
    throw std::runtime_error("CUDA backend: layer " + site + " uses weight format \"" + op.format() +
                             "\"; weight methods run on the CPU backend only");
  DeviceLinear d;
  d.out = dense->out_features();
  d.in = dense->in_features();
  const std::vector<float> w = dense->weights();
  d.w = upload_f16(w.data(), w.size());
  if (!dense->bias().empty()) d.bias = upload_f32(dense->bias());
  return d;
}

}  // namespace

class CudaModel {
 public:
  explicit CudaModel(const Model& m) : model(m), cfg(m.config()) {
    const ModelConfig& c = cfg;
    embd = upload_f16(m.token_embeddings().data(), m.token_embeddings().size());
    out_norm = upload_f32(m.output_norm());
    output = upload_linear(m.linear({-1, LinearKind::Output}), "output");
    inv_freq = upload_f32(m.rope().inv_freq());
    layers.resize(c.n_layers);
    for (int l = 0; l < c.n_layers; ++l) {
      Layer& L = layers[l];
      L.attn_norm = upload_f32(m.attn_norm(l));
      L.ffn_norm = upload_f32(m.ffn_norm(l));
      for (LinearKind k : {LinearKind::Q, LinearKind::K, LinearKind::V, LinearKind::O, LinearKind::Gate,
                           LinearKind::Up, LinearKind::Down})
        L.lin[(int)k] = upload_linear(m.linear({l, k}), LinearSite{l, k}.name());
    }
  }
  size_t bytes() const {
    size_t b = embd.size() + out_norm.size() + output.bytes();
    for (const Layer& L : layers) {
      b += L.attn_norm.size() + L.ffn_norm.size();
      for (const DeviceLinear& d : L.lin) b += d.bytes();
    }
    return b;
  }

  struct Layer {
    DeviceBuffer attn_norm, ffn_norm;
    DeviceLinear lin[7];  // indexed by LinearKind Q..Down
  };
  const Model& model;
  ModelConfig cfg;
  DeviceBuffer embd, out_norm, inv_freq;
  DeviceLinear output;
  std::vector<Layer> layers;
};

std::shared_ptr<CudaModel> upload(const Model& m) {
  static std::mutex mu;
  static std::map<const Model*, std::weak_ptr<CudaModel>> cache;
  std::lock_guard<std::mutex> lock(mu);
  if (auto sp = cache[&m].lock()) return sp;
  auto sp = std::make_shared<CudaModel>(m);
  cache[&m] = sp;
  return sp;
}

DeviceGeometry device_geometry(const CudaModel& cm) {
  DeviceGeometry g;
  g.n_layers = cm.cfg.n_layers;
  g.n_q_heads = cm.cfg.n_heads;
  g.n_kv_heads = cm.cfg.n_kv_heads;
  g.head_dim = cm.cfg.head_dim;
  g.inv_freq = cm.inv_freq.as<float>();
  return g;
}

size_t device_weight_bytes(const CudaModel& cm) { return cm.bytes(); }

namespace {

class CudaSession : public DeviceSession {
 public:
  CudaSession(std::shared_ptr<CudaModel> cm, std::unique_ptr<DeviceKvCache> cache)
      : cm_(std::move(cm)), cache_(std::move(cache)) {
    stream_ = kc::stream_create();
    blas_ = kc::blas_create(stream_);
    events_ = kc::events_create();
    size_t free_b = 0, total_b = 0;
    kc::mem_info(&free_b, &total_b);
    used_at_start_ = total_b - free_b;
  }
  ~CudaSession() override {
    try {
      kc::events_destroy(events_);
      kc::blas_destroy(blas_);
      kc::stream_destroy(stream_);
    } catch (...) {
      // Destructors must not throw; a failing teardown leaves nothing to recover.
    }
  }

  void run(std::span<const int32_t> tokens, int64_t n_past, Phase phase, Logits which,
           std::vector<float>& logits) override {
    const ModelConfig& c = cm_->cfg;
    const int n = (int)tokens.size(), d = c.d_model;
    ensure(n);
    std::vector<int32_t> pos(n);
    for (int i = 0; i < n; ++i) pos[i] = (int32_t)(n_past + i);
    // Device time from here to the last kernel. Kernels the KV caches launch on the legacy default stream are
    // ordered with this (blocking) stream, so they fall inside the interval.
    kc::event_record(events_.start, stream_);
    kc::memcpy_h2d(tok_.get(), tokens.data(), n * sizeof(int32_t), stream_);
    kc::memcpy_h2d(pos_.get(), pos.data(), n * sizeof(int32_t), stream_);
    kc::embed_rows(cm_->embd.as<uint16_t>(), tok_.as<int32_t>(), n, d, x_.as<float>(), stream_);

    auto linear = [&](const DeviceLinear& L, const float* in, int rows, float* out) {
      kc::to_f16(in, h16_.as<uint16_t>(), (size_t)rows * L.in, stream_);
      kc::gemm_f16(blas_, h16_.as<uint16_t>(), rows, L.in, L.w.as<uint16_t>(), L.out,
                   L.bias.size() ? L.bias.as<float>() : nullptr, out, stream_);
    };
    for (int l = 0; l < c.n_layers; ++l) {
      const CudaModel::Layer& L = cm_->layers[l];
      kc::rmsnorm_rows(x_.as<float>(), n, d, L.attn_norm.as<float>(), c.rms_eps, h_.as<float>(), stream_);
      linear(L.lin[(int)LinearKind::Q], h_.as<float>(), n, q_.as<float>());
      linear(L.lin[(int)LinearKind::K], h_.as<float>(), n, k_.as<float>());
      linear(L.lin[(int)LinearKind::V], h_.as<float>(), n, v_.as<float>());
      DeviceAttnBatch b;
      b.layer = l;
      b.phase = phase;
      b.n = n;
      b.pos = pos_.as<int32_t>();
      b.pos_host = pos.data();
      b.q = q_.as<float>();
      b.k = k_.as<float>();
      b.v = v_.as<float>();
      b.out = attn_.as<float>();
      b.stream = stream_;
      cache_->attend(b);
      linear(L.lin[(int)LinearKind::O], attn_.as<float>(), n, tmp_.as<float>());
      kc::add_inplace(x_.as<float>(), tmp_.as<float>(), (size_t)n * d, stream_);
      kc::rmsnorm_rows(x_.as<float>(), n, d, L.ffn_norm.as<float>(), c.rms_eps, h_.as<float>(), stream_);
      linear(L.lin[(int)LinearKind::Gate], h_.as<float>(), n, gate_.as<float>());
      linear(L.lin[(int)LinearKind::Up], h_.as<float>(), n, up_.as<float>());
      kc::swiglu(gate_.as<float>(), up_.as<float>(), (size_t)n * c.d_ff, gate_.as<float>(), stream_);
      linear(L.lin[(int)LinearKind::Down], gate_.as<float>(), n, tmp_.as<float>());
      kc::add_inplace(x_.as<float>(), tmp_.as<float>(), (size_t)n * d, stream_);
    }
    const int rows = which == Logits::All ? n : which == Logits::Last ? 1 : 0;
    if (rows) {
      const int first = n - rows;
      kc::rmsnorm_rows(x_.as<float>() + (size_t)first * d, rows, d, cm_->out_norm.as<float>(), c.rms_eps,
                       h_.as<float>(), stream_);
      linear(cm_->output, h_.as<float>(), rows, logits_.as<float>());
      kc::event_record(events_.stop, stream_);
      logits.resize((size_t)rows * c.vocab_size);
      kc::memcpy_d2h(logits.data(), logits_.get(), logits.size() * sizeof(float), stream_);
    } else {
      kc::event_record(events_.stop, stream_);
      kc::stream_sync(stream_);
    }
    last_ms_ = kc::events_elapsed_ms(events_);
    size_t free_b = 0, total_b = 0;
    kc::mem_info(&free_b, &total_b);
    peak_ = std::max(peak_, total_b - free_b - std::min(used_at_start_, total_b - free_b));
  }

  KvBytes kv_bytes() const override { return cache_->bytes(); }
  size_t kv_bytes_allocated() const override { return cache_->bytes_allocated(); }
  nlohmann::json kv_stats() const override { return cache_->stats(); }
  void reset() override { cache_->reset(); }
  std::string device_name() const override { return "cuda"; }
  size_t peak_device_bytes() const override { return peak_; }
  double last_run_ms() const override { return last_ms_; }

 private:
  void ensure(int n) {
    if (n <= cap_) return;
    cap_ = n;
    const ModelConfig& c = cm_->cfg;
    const size_t f = sizeof(float);
    tok_ = DeviceBuffer(n * sizeof(int32_t));
    pos_ = DeviceBuffer(n * sizeof(int32_t));
    x_ = DeviceBuffer((size_t)n * c.d_model * f);
    h_ = DeviceBuffer((size_t)n * c.d_model * f);
    tmp_ = DeviceBuffer((size_t)n * c.d_model * f);
    q_ = DeviceBuffer((size_t)n * c.q_dim() * f);
    attn_ = DeviceBuffer((size_t)n * c.q_dim() * f);
    k_ = DeviceBuffer((size_t)n * c.kv_dim() * f);
    v_ = DeviceBuffer((size_t)n * c.kv_dim() * f);
    gate_ = DeviceBuffer((size_t)n * c.d_ff * f);
    up_ = DeviceBuffer((size_t)n * c.d_ff * f);
    const size_t widest = std::max({(size_t)c.d_model, (size_t)c.q_dim(), (size_t)c.d_ff});
    h16_ = DeviceBuffer((size_t)n * widest * 2);
    logits_ = DeviceBuffer((size_t)n * c.vocab_size * f);
  }

  std::shared_ptr<CudaModel> cm_;
  std::unique_ptr<DeviceKvCache> cache_;
  kc::Stream stream_ = nullptr;
  kc::BlasHandle blas_ = nullptr;
  kc::EventPair events_{};
  double last_ms_ = -1.0;
  int cap_ = 0;
  DeviceBuffer tok_, pos_, x_, h_, tmp_, q_, attn_, k_, v_, gate_, up_, h16_, logits_;
  size_t used_at_start_ = 0, peak_ = 0;
};

}  // namespace

std::unique_ptr<DeviceSession> make_session(std::shared_ptr<CudaModel> cm, std::unique_ptr<DeviceKvCache> cache) {
  if (!cache) throw std::invalid_argument("CUDA session needs a device KV cache");
  return std::make_unique<CudaSession>(std::move(cm), std::move(cache));
}

}  // namespace bp::rt::cuda
