#include "harness/runtime/model.h"

#include <exception>
#include <new>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "harness/common/error.h"
#include "harness/runtime/dense_kv_cache.h"
#include "harness/runtime/dense_linear.h"
#include "kernels/common/fp16.h"
#include "kernels/cpu/activations.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/thread_pool.h"

namespace bp::rt {

struct Model::Layer {
  std::vector<float> attn_norm, ffn_norm;
  std::unique_ptr<LinearOp> q, k, v, o, gate, up, down;
  LinearOp* site(LinearKind kind) const {
    switch (kind) {
      case LinearKind::Q: return q.get();
      case LinearKind::K: return k.get();
      case LinearKind::V: return v.get();
      case LinearKind::O: return o.get();
      case LinearKind::Gate: return gate.get();
      case LinearKind::Up: return up.get();
      case LinearKind::Down: return down.get();
      default: return nullptr;
    }
  }
  std::unique_ptr<LinearOp>& slot(LinearKind kind) {
    switch (kind) {
      case LinearKind::Q: return q;
      case LinearKind::K: return k;
      case LinearKind::V: return v;
      case LinearKind::O: return o;
      case LinearKind::Gate: return gate;
      case LinearKind::Up: return up;
      default: return down;
    }
  }
};

namespace {

std::vector<float> dequantize(const ModelFile& f, const std::string& name, std::vector<int64_t> expect_shape) {
  const TensorRef& t = f.get(name);
  if (t.shape != expect_shape) {
    std::string got, want;
    for (auto d : t.shape) got += (got.empty() ? "" : "x") + std::to_string(d);
    for (auto d : expect_shape) want += (want.empty() ? "" : "x") + std::to_string(d);
    throw InputError(f.info().path, t.source_name, "expected shape " + want + " for " + name + ", got " + got);
  }
  std::vector<float> out(t.numel());
  dequantize_tensor(t, out.data());
  return out;
}

std::vector<float> optional_bias(const ModelFile& f, const std::string& name, int64_t n) {
  if (!f.find(name)) return {};
  return dequantize(f, name, {n});
}

constexpr LinearKind kLayerKinds[] = {LinearKind::Q,    LinearKind::K,  LinearKind::V,   LinearKind::O,
                                      LinearKind::Gate, LinearKind::Up, LinearKind::Down};

}  // namespace

Model::~Model() = default;

std::unique_ptr<Model> Model::load(const std::string& path, const LoadOptions& opts) {
  std::unique_ptr<Model> m(new Model());
  m->opts_ = opts;
  m->file_ = ModelFile::open(path);
  m->cfg_ = m->file_->config();
  const ModelConfig& c = m->cfg_;
  m->tokenizer_ = Tokenizer::create(m->file_->tokenizer());
  m->rope_ = std::make_unique<Rope>(c);
  const ModelFile& f = *m->file_;
  const kern::PackedType storage = opts.storage == WeightStorage::F16 ? kern::PackedType::F16 : kern::PackedType::F32;

  m->tok_embd_ = dequantize(f, "tok_embd", {c.vocab_size, c.d_model});
  m->output_norm_ = dequantize(f, "output_norm", {c.d_model});
  if (f.find("output")) {
    auto w = dequantize(f, "output", {c.vocab_size, c.d_model});
    m->output_ = std::make_unique<DenseLinear>(w.data(), c.vocab_size, c.d_model, std::vector<float>{}, storage);
  } else {
    m->output_ = std::make_unique<DenseLinear>(m->tok_embd_.data(), c.vocab_size, c.d_model, std::vector<float>{},
                                               storage);
  }
  if (storage == kern::PackedType::F16) {
    // Round the embedding table too, so every weight the model reads is F16.
    for (float& x : m->tok_embd_) x = kern::f16_to_f32(kern::f32_to_f16(x));
  }

  m->layers_.resize(c.n_layers);
  // Each layer's tensors are dequantized and packed independently: parallel over layers.
  // A layer's failure is kept as it was thrown: a malformed tensor is the file's fault (bad input, named by path),
  // but running out of memory or a broken invariant is not, and must not be reported as bad input.
  std::vector<std::exception_ptr> errors(c.n_layers);
  kern::parallel_dynamic(std::max(1, opts.threads), c.n_layers, [&](int64_t li, int) {
    const int l = (int)li;
    try {
      auto L = std::make_unique<Layer>();
      const std::string p = "blk." + std::to_string(l) + ".";
      L->attn_norm = dequantize(f, p + "attn_norm", {c.d_model});
      L->ffn_norm = dequantize(f, p + "ffn_norm", {c.d_model});
      auto lin = [&](const char* name, int out, int in, std::vector<float> bias) {
        auto w = dequantize(f, p + name, {out, in});
        return std::make_unique<DenseLinear>(w.data(), out, in, std::move(bias), storage);
      };
      L->q = lin("attn_q", c.q_dim(), c.d_model, optional_bias(f, p + "attn_q_bias", c.q_dim()));
      L->k = lin("attn_k", c.kv_dim(), c.d_model, optional_bias(f, p + "attn_k_bias", c.kv_dim()));
      L->v = lin("attn_v", c.kv_dim(), c.d_model, optional_bias(f, p + "attn_v_bias", c.kv_dim()));
      L->o = lin("attn_output", c.d_model, c.q_dim(), {});
      L->gate = lin("ffn_gate", c.d_ff, c.d_model, {});
      L->up = lin("ffn_up", c.d_ff, c.d_model, {});
      L->down = lin("ffn_down", c.d_model, c.d_ff, {});
      m->layers_[l] = std::move(L);
    } catch (...) {
      errors[l] = std::current_exception();
    }
  });
  for (const auto& e : errors) {
    if (!e) continue;
    try {
      std::rethrow_exception(e);
    } catch (const InputError&) {
      throw;
    } catch (const std::bad_alloc&) {
      throw;
    } catch (const std::logic_error&) {
      throw;
    } catch (const std::exception& x) {
      throw InputError(path, "", x.what());
    }
  }
  return m;
}

size_t Model::weight_bytes() const {
  const size_t embd_elem = opts_.storage == WeightStorage::F16 ? 2 : 4;
  size_t b = tok_embd_.size() * embd_elem + output_norm_.size() * 4 + output_->bytes();
  for (const auto& L : layers_) {
    b += (L->attn_norm.size() + L->ffn_norm.size()) * 4;
    for (LinearKind k : kLayerKinds) b += L->site(k)->bytes();
  }
  return b;
}

const LinearOp& Model::linear(const LinearSite& site) const {
  if (site.kind == LinearKind::Output) return *output_;
  if (site.layer < 0 || site.layer >= cfg_.n_layers) throw std::out_of_range("Model::linear: bad layer");
  return *layers_[site.layer]->site(site.kind);
}
const std::vector<float>& Model::attn_norm(int layer) const { return layers_.at(layer)->attn_norm; }
const std::vector<float>& Model::ffn_norm(int layer) const { return layers_.at(layer)->ffn_norm; }

std::string Model::weight_format() const { return layers_.empty() ? "?" : layers_[0]->q->format(); }

KvGeometry Model::kv_geometry(int threads) const {
  KvGeometry g;
  g.n_layers = cfg_.n_layers;
  g.n_q_heads = cfg_.n_heads;
  g.n_kv_heads = cfg_.n_kv_heads;
  g.head_dim = cfg_.head_dim;
  g.rope = rope_.get();
  g.threads = std::max(1, threads);
  return g;
}

void Model::apply_weight_transform(WeightTransform& t, std::span<const int32_t> calib_tokens, int threads) {
  CalibrationData calib;
  const bool want = t.wants_calibration();
  if (want) {
    if (calib_tokens.empty()) throw std::invalid_argument("weight method needs calibration tokens");
    calib = calibrate(calib_tokens, threads, 4096, t.calibration_gram());
  }
  auto replace = [&](std::unique_ptr<LinearOp>& slot, const LinearSite& site) {
    auto* dense = dynamic_cast<DenseLinear*>(slot.get());
    if (!dense) throw std::logic_error("weight transform applied twice to " + site.name());
    std::vector<float> w = dense->weights();
    DenseWeights dw;
    dw.w = w.data();
    dw.bias = dense->bias().empty() ? nullptr : dense->bias().data();
    dw.out = dense->out_features();
    dw.in = dense->in_features();
    auto repl = t.transform(site, dw, want ? &calib : nullptr);
    if (repl) {
      if (repl->in_features() != dw.in || repl->out_features() != dw.out)
        throw std::logic_error("weight transform changed the shape of " + site.name());
      slot = std::move(repl);
    }
  };
  for (int l = 0; l < cfg_.n_layers; ++l)
    for (LinearKind k : kLayerKinds) replace(layers_[l]->slot(k), LinearSite{l, k});
  replace(output_, LinearSite{-1, LinearKind::Output});
}

// ---- Session -------------------------------------------------------------------------------------------------

struct Session::Scratch {
  int cap = 0;
  std::vector<float> x, h, q, k, v, attn, tmp, gate, up;
  std::vector<int32_t> pos;
  void ensure(const ModelConfig& c, int n) {
    if (n <= cap) return;
    cap = n;
    x.resize((size_t)n * c.d_model);
    h.resize((size_t)n * c.d_model);
    tmp.resize((size_t)n * c.d_model);
    q.resize((size_t)n * c.q_dim());
    attn.resize((size_t)n * c.q_dim());
    k.resize((size_t)n * c.kv_dim());
    v.resize((size_t)n * c.kv_dim());
    gate.resize((size_t)n * c.d_ff);
    up.resize((size_t)n * c.d_ff);
    pos.resize(n);
  }
  size_t bytes() const {
    return (x.capacity() + h.capacity() + tmp.capacity() + q.capacity() + attn.capacity() + k.capacity() +
            v.capacity() + gate.capacity() + up.capacity()) *
               sizeof(float) +
           pos.capacity() * sizeof(int32_t);
  }
};

Session::Session(const Model& m, std::unique_ptr<KvCache> cache, int threads, TokenSelector* selector)
    : model_(m), cache_(std::move(cache)), selector_(selector), threads_(std::max(1, threads)),
      scratch_(std::make_unique<Scratch>()) {
  if (!cache_) throw std::invalid_argument("Session needs a KV cache");
}

Session::Session(const Model& m, std::unique_ptr<DeviceSession> device, int threads)
    : model_(m), device_(std::move(device)), selector_(nullptr), threads_(std::max(1, threads)),
      scratch_(std::make_unique<Scratch>()) {
  if (!device_) throw std::invalid_argument("Session needs a device session");
}

Session::~Session() = default;

KvCache& Session::cache() {
  if (!cache_) throw std::logic_error("Session::cache(): the session runs on " + device_name());
  return *cache_;
}
const KvCache& Session::cache() const {
  if (!cache_) throw std::logic_error("Session::cache(): the session runs on " + device_name());
  return *cache_;
}
KvBytes Session::kv_bytes() const { return device_ ? device_->kv_bytes() : cache_->bytes(); }
size_t Session::kv_bytes_allocated() const {
  return device_ ? device_->kv_bytes_allocated() : cache_->bytes_allocated();
}
nlohmann::json Session::kv_stats() const { return device_ ? device_->kv_stats() : cache_->stats(); }
std::string Session::device_name() const { return device_ ? device_->device_name() : "cpu"; }
double Session::last_device_ms() const { return device_ ? device_->last_run_ms() : -1.0; }

void Session::reset() {
  if (device_) device_->reset();
  else cache_->reset();
  n_past_ = 0;
}

size_t Session::scratch_bytes() const { return scratch_->bytes() + logits_.capacity() * sizeof(float); }

const float* Session::prefill(std::span<const int32_t> tokens, Logits which) {
  return run(tokens, Phase::Prefill, which);
}

const float* Session::decode(std::span<const int32_t> tokens, Logits which) {
  return run(tokens, Phase::Decode, which);
}

const float* Session::run(std::span<const int32_t> tokens, Phase phase, Logits which) {
  const int n = (int)tokens.size();
  if (n == 0) throw std::invalid_argument("Session: no tokens");
  const int V = model_.config().vocab_size;
  for (int32_t t : tokens)
    if (t < 0 || t >= V) throw std::invalid_argument("Session: token id " + std::to_string(t) + " outside vocabulary");
  const int rows = which == Logits::All ? n : which == Logits::Last ? 1 : 0;
  logits_.resize((size_t)rows * V);
  if (device_) {
    device_->run(tokens, n_past_, phase, which, logits_);
    n_past_ += n;
  } else {
    model_.forward(*this, tokens.data(), n, phase, which, rows ? logits_.data() : nullptr, nullptr);
  }
  return rows ? logits_.data() : nullptr;
}

// ---- forward -------------------------------------------------------------------------------------------------

namespace {
void rmsnorm_rows(const float* x, int n, int d, const float* w, float eps, float* y, int threads) {
  kern::parallel_chunks(n > 16 ? threads : 1, n, [&](int64_t a, int64_t e) {
    for (int64_t i = a; i < e; ++i) kern::rmsnorm_row(x + (size_t)i * d, d, w, eps, y + (size_t)i * d);
  });
}

void add_rows(float* x, const float* y, size_t count, int threads) {
  kern::parallel_chunks(count > 65536 ? threads : 1, (int64_t)count, [&](int64_t a, int64_t e) {
    for (int64_t i = a; i < e; ++i) x[i] += y[i];
  });
}

void record(CalibrationData* calib, const LinearSite& site, const float* x, int n, int in, int64_t max_rows,
            int threads) {
  if (!calib) return;
  const std::string name = site.name();
  CalibrationData::Site* s = nullptr;
  for (auto& [k, v] : calib->sites)
    if (k == name) s = &v;
  if (!s) {
    calib->sites.emplace_back(name, CalibrationData::Site{in, {}, {}, 0});
    s = &calib->sites.back().second;
  }
  if (calib->gram) {
    // XᵀX of this input, once per distinct input (q, k and v read the same rows): the transposed rows through the
    // packed GEMM, then added to the site's running sum.
    if (calib->last_x != x || calib->last_n != n || calib->last_xtx.size() != (size_t)in * in) {
      std::vector<float> xt((size_t)in * n);
      for (int r = 0; r < n; ++r)
        for (int k = 0; k < in; ++k) xt[(size_t)k * n + r] = x[(size_t)r * in + k];
      kern::PackedWeights pw(xt.data(), in, n, kern::PackedType::F32);
      calib->last_xtx.assign((size_t)in * in, 0.0f);
      kern::gemm_packed(xt.data(), in, pw, nullptr, calib->last_xtx.data(), threads);
      calib->last_x = x;
      calib->last_n = n;
    }
    if (s->gram.empty()) s->gram.assign((size_t)in * in, 0.0f);
    for (size_t i = 0; i < s->gram.size(); ++i) s->gram[i] += calib->last_xtx[i];
    s->gram_rows += n;
    return;
  }
  const int64_t room = max_rows - s->n_rows();
  const int take = (int)std::min<int64_t>(room, n);
  if (take > 0) s->rows.insert(s->rows.end(), x, x + (size_t)take * in);
}
}  // namespace

void Model::forward(Session& s, const int32_t* tokens, int n, Phase phase, Logits which, float* logits,
                    CalibrationData* calib) const {
  const ModelConfig& c = cfg_;
  const int d = c.d_model, T = s.threads_;
  Session::Scratch& S = *s.scratch_;
  S.ensure(c, n);
  for (int i = 0; i < n; ++i) {
    S.pos[i] = (int32_t)(s.n_past_ + i);
    std::memcpy(S.x.data() + (size_t)i * d, tok_embd_.data() + (size_t)tokens[i] * d, d * sizeof(float));
  }
  const int64_t max_calib_rows = calib ? calib->max_rows_per_site : 0;

  for (int l = 0; l < c.n_layers; ++l) {
    const Layer& L = *layers_[l];
    // Attention block.
    rmsnorm_rows(S.x.data(), n, d, L.attn_norm.data(), c.rms_eps, S.h.data(), T);
    record(calib, {l, LinearKind::Q}, S.h.data(), n, d, max_calib_rows, T);
    record(calib, {l, LinearKind::K}, S.h.data(), n, d, max_calib_rows, T);
    record(calib, {l, LinearKind::V}, S.h.data(), n, d, max_calib_rows, T);
    L.q->forward(S.h.data(), n, S.q.data(), T);
    L.k->forward(S.h.data(), n, S.k.data(), T);
    L.v->forward(S.h.data(), n, S.v.data(), T);

    AttnBatch b;
    b.layer = l;
    b.phase = phase;
    b.n = n;
    b.pos = S.pos.data();
    b.q = S.q.data();
    b.k = S.k.data();
    b.v = S.v.data();
    b.out = S.attn.data();
    TokenSelection sel;
    if (s.selector_ && phase == Phase::Prefill && s.selector_->select(b, *rope_, &sel)) b.selection = &sel;
    s.cache_->attend(b);

    record(calib, {l, LinearKind::O}, S.attn.data(), n, c.q_dim(), max_calib_rows, T);
    L.o->forward(S.attn.data(), n, S.tmp.data(), T);
    add_rows(S.x.data(), S.tmp.data(), (size_t)n * d, T);

    // Feed-forward block (SwiGLU).
    rmsnorm_rows(S.x.data(), n, d, L.ffn_norm.data(), c.rms_eps, S.h.data(), T);
    record(calib, {l, LinearKind::Gate}, S.h.data(), n, d, max_calib_rows, T);
    record(calib, {l, LinearKind::Up}, S.h.data(), n, d, max_calib_rows, T);
    L.gate->forward(S.h.data(), n, S.gate.data(), T);
    L.up->forward(S.h.data(), n, S.up.data(), T);
    {
      const size_t count = (size_t)n * c.d_ff;
      kern::parallel_chunks(count > 16384 ? T : 1, (int64_t)count, [&](int64_t a, int64_t e) {
        kern::swiglu(S.gate.data() + a, S.up.data() + a, (size_t)(e - a), S.gate.data() + a);
      });
    }
    record(calib, {l, LinearKind::Down}, S.gate.data(), n, c.d_ff, max_calib_rows, T);
    L.down->forward(S.gate.data(), n, S.tmp.data(), T);
    add_rows(S.x.data(), S.tmp.data(), (size_t)n * d, T);
  }
  s.n_past_ += n;

  if (calib) {
    // The output projection's inputs are recorded for every position, whether or not logits are asked for.
    rmsnorm_rows(S.x.data(), n, d, output_norm_.data(), c.rms_eps, S.h.data(), T);
    record(calib, {-1, LinearKind::Output}, S.h.data(), n, d, max_calib_rows, T);
  }
  if (which == Logits::None) return;
  const int first = which == Logits::Last ? n - 1 : 0;
  const int rows = n - first;
  rmsnorm_rows(S.x.data() + (size_t)first * d, rows, d, output_norm_.data(), c.rms_eps, S.h.data(), T);
  output_->forward(S.h.data(), rows, logits, T);
}

CalibrationData Model::calibrate(std::span<const int32_t> tokens, int threads, int64_t max_rows_per_site, bool gram,
                                 int segment) const {
  CalibrationData calib;
  calib.max_rows_per_site = max_rows_per_site;
  calib.gram = gram;
  for (size_t at = 0; at < tokens.size(); at += (size_t)segment) {
    const int n = (int)std::min<size_t>((size_t)segment, tokens.size() - at);
    Session s(*this, std::make_unique<DenseKvCache>(kv_geometry(threads), DenseKvType::F32), threads);
    forward(s, tokens.data() + at, n, Phase::Prefill, Logits::None, nullptr, &calib);
    calib.last_x = nullptr;  // the next segment's inputs reuse the same buffers
  }
  return calib;
}

std::vector<int32_t> generate_greedy(Session& s, std::span<const int32_t> prompt, int max_new, bool stop_at_eos) {
  std::vector<int32_t> out;
  const int V = s.model().config().vocab_size;
  const int32_t eos = s.model().tokenizer().eos_id();
  const float* logits = s.prefill(prompt, Logits::Last);
  for (int step = 0; step < max_new; ++step) {
    const int32_t next = (int32_t)(std::max_element(logits, logits + V) - logits);
    if (stop_at_eos && next == eos) break;
    out.push_back(next);
    if (step + 1 == max_new) break;
    logits = s.decode(std::span<const int32_t>(&out.back(), 1), Logits::Last);
  }
  return out;
}

}  // namespace bp::rt
