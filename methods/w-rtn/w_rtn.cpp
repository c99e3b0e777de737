// w-rtn: round-to-nearest weight-only quantization, the baseline every weight method is measured against. Each
// linear layer's weights become b-bit codes in groups of G inputs per output row (or one group per row), with an
// FP16 scale per group and, when asymmetric, an FP16 minimum (kernels/cpu/wq_gemm.h has the exact format and the
// byte count). The product runs on those codes (harness/runtime/wq_linear.h): decode reads b/8 bytes per weight.
//
// Bytes on SmolLM2-135M (30 layers of 7 linear sites, d 576, ff 1536: 106.2M weights in the layers), 4 bits, G = 64,
// asymmetric: 0.5 B per weight + 4 B per 64 weights = 0.5625 B/weight = 4.5 bits per weight.
#include <string>

#include "harness/common/error.h"
#include "harness/core/registry.h"
#include "harness/runtime/wq_linear.h"

namespace {

class RtnTransform : public bp::rt::WeightTransform {
 public:
  RtnTransform(bp::kern::WqFormat f, bool include_output) : f_(f), include_output_(include_output) {}
  std::unique_ptr<bp::rt::LinearOp> transform(const bp::rt::LinearSite& site, const bp::rt::DenseWeights& w,
                                              const bp::rt::CalibrationData*) override {
    if (site.kind == bp::rt::LinearKind::Output && !include_output_) return nullptr;
    std::vector<float> bias = w.bias ? std::vector<float>(w.bias, w.bias + w.out) : std::vector<float>{};
    return std::make_unique<bp::rt::WqLinear>(bp::kern::WqMatrix(w.w, w.out, w.in, f_), std::move(bias));
  }

 private:
  bp::kern::WqFormat f_;
  bool include_output_;
};

}  // namespace

BENCH_REGISTER_METHOD(w_rtn) {
  using namespace bp;
  MethodInfo m;
  m.name = "w-rtn";
  m.roles = {Role::Weights};
  m.composes.partners = {Role::Tokens, Role::KvCache};
  m.description = "RTN weight-only quantization: b-bit codes per group of G inputs, FP16 scales (and minima), "
                  "integer codes multiplied without expanding the matrix";
  rt::add_wq_storage_params(m.schema);
  m.notes = "Quantizes the model's weights as loaded (dequantized to F32): on a GGUF file that is already 4-bit "
            "(SmolLM2's Q4_1, 32-input asymmetric blocks) bits=4 re-quantizes that grid, and group=32 asymmetric "
            "reproduces it up to FP16 rounding of scales and minima. Calibration-free. CPU only (the CUDA backend "
            "holds dense FP16 weights).";
  m.make_weight_transform = [](const MethodContext&, const Params& p) -> std::unique_ptr<rt::WeightTransform> {
    return std::make_unique<RtnTransform>(rt::wq_format_of(p), p.get_bool("include_output"));
  };
  return m;
}
