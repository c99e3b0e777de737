#pragma once
// The weight plug point. Every linear layer of the model is a LinearOp; a weight method (WeightTransform) may
// replace any of them with its own packed format and matrix-multiply kernel, with calibration activations at hand.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bp::rt {

enum class LinearKind { Q, K, V, O, Gate, Up, Down, Output };
const char* linear_kind_name(LinearKind k);

// Which linear layer: (layer, kind); the output projection has layer -1.
struct LinearSite {
  int layer = 0;
  LinearKind kind = LinearKind::Q;
  std::string name() const;  // e.g. "blk.3.attn_q", "output"
};

class LinearOp {
 public:
  virtual ~LinearOp() = default;
  virtual int in_features() const = 0;
  virtual int out_features() const = 0;
  // y[n][out] = x[n][in] · Wᵀ (+ bias). May use up to `threads` threads.
  virtual void forward(const float* x, int n, float* y, int threads) const = 0;
  // Bytes of weight storage really held: codes, scales, zero points, bias, everything.
  virtual size_t bytes() const = 0;
  // Short description of the storage format, e.g. "f32", "f16", "int4-g64-asym".
  virtual std::string format() const = 0;
};

// Full-precision weights of one site, handed to a weight method.
struct DenseWeights {
  const float* w = nullptr;     // [out][in]
  const float* bias = nullptr;  // [out] or nullptr
  int out = 0, in = 0;
};

// Inputs seen by each linear site while the unmodified model ran on calibration text: the first rows themselves,
// or (gram mode, for methods that only need second moments, at any number of tokens in bounded memory) the running
// sum XᵀX over every row.
struct CalibrationData {
  // Keyed by LinearSite::name(): rows of the layer's input, [rows][in]; in gram mode, gram[in][in] = Σ x xᵀ over
  // gram_rows rows instead (rows stays empty).
  struct Site {
    int in = 0;
    std::vector<float> rows;
    std::vector<float> gram;
    int64_t gram_rows = 0;
    int64_t n_rows() const { return in ? (int64_t)rows.size() / in : 0; }
  };
  std::vector<std::pair<std::string, Site>> sites;
  int64_t max_rows_per_site = 4096;  // rows kept per site (the first ones seen)
  bool gram = false;
  const Site* find(const std::string& name) const;
  // Gram mode: the last input's XᵀX, reused by the sites that read the same input (q, k, v; gate, up).
  const float* last_x = nullptr;
  int64_t last_n = 0;
  std::vector<float> last_xtx;
};

class WeightTransform {
 public:
  virtual ~WeightTransform() = default;
  // Whether transform() needs calibration data (the runtime then runs the model on the calibration tokens).
  virtual bool wants_calibration() const { return false; }
  // How many calibration tokens (from the start of the calibration text; run in segments of
  // kCalibrationSegment tokens, each from an empty cache), and whether second moments suffice (gram mode).
  virtual int64_t calibration_tokens() const { return kCalibrationSegment; }
  virtual bool calibration_gram() const { return false; }
  static constexpr int kCalibrationSegment = 2048;
  // A replacement for the site, or nullptr to keep the dense layer.
  virtual std::unique_ptr<LinearOp> transform(const LinearSite& site, const DenseWeights& w,
                                              const CalibrationData* calib) = 0;
};

}  // namespace bp::rt
