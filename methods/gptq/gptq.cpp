// gptq: weight-only quantization by GPTQ (gptq_solver.h): each linear layer's codes are chosen column by column
// with the rounding error pushed onto the columns still to come, through the inverse Hessian of the layer's inputs
// on the calibration text. The result is stored and multiplied exactly as w-rtn's (kernels/cpu/wq_gemm.h: b-bit
// codes per group of G inputs, FP16 scales and minima), so bytes and speed equal w-rtn's at the same format and
// only the accuracy differs.
//
// Departures from the paper's code: the calibration inputs of every layer are recorded in one pass of the
// unmodified model (the paper quantizes layer after layer, feeding each the outputs of the already quantized ones);
// the calibration text is the first calib_tokens tokens of WikiText-2's validation split in 2,048-token segments
// (the paper: 128 random 2,048-token segments of C4). With too few tokens GPTQ over-fits: at 2,048 rows the
// 1,536-input down projections' output error on held-out text was above round-to-nearest's (1.1-1.3x), at 6,144
// rows below it (0.7-0.8x), hence the default of 16,384; with act_order, grids are per output channel (group 0), since this storage format
// keeps a group's inputs contiguous (the paper's code allows groups in activation order with an index map).
#include <algorithm>
#include <string>

#include "harness/common/error.h"
#include "harness/core/registry.h"
#include "harness/runtime/wq_linear.h"
#include "methods/gptq/gptq_solver.h"

namespace {

class GptqTransform : public bp::rt::WeightTransform {
 public:
  GptqTransform(bp::methods::gptq::Options o, bool include_output, int64_t calib_tokens)
      : o_(o), include_output_(include_output), calib_tokens_(calib_tokens) {}
  bool wants_calibration() const override { return true; }
  // Second moments are all GPTQ needs: any number of tokens in K² floats per site.
  bool calibration_gram() const override { return true; }
  int64_t calibration_tokens() const override { return calib_tokens_; }
  std::unique_ptr<bp::rt::LinearOp> transform(const bp::rt::LinearSite& site, const bp::rt::DenseWeights& w,
                                              const bp::rt::CalibrationData* calib) override {
    if (site.kind == bp::rt::LinearKind::Output && !include_output_) return nullptr;
    const bp::rt::CalibrationData::Site* inputs = calib ? calib->find(site.name()) : nullptr;
    if (!inputs || inputs->gram_rows == 0 || inputs->gram.size() != (size_t)w.in * w.in)
      throw std::runtime_error("gptq: no calibration inputs were recorded for " + site.name());
    std::vector<double> h = bp::methods::gptq::hessian_of_gram(inputs->gram.data(), inputs->gram_rows, w.in);
    bp::methods::gptq::Result r = bp::methods::gptq::quantize(w.w, w.out, w.in, std::move(h), o_);
    std::vector<float> bias = w.bias ? std::vector<float>(w.bias, w.bias + w.out) : std::vector<float>{};
    return std::make_unique<bp::rt::WqLinear>(bp::kern::WqMatrix(w.out, w.in, o_.format, r.codes, r.grids),
                                              std::move(bias));
  }

 private:
  bp::methods::gptq::Options o_;
  bool include_output_;
  int64_t calib_tokens_;
};

}  // namespace

BENCH_REGISTER_METHOD(gptq) {
  using namespace bp;
  MethodInfo m;
  m.name = "gptq";
  m.roles = {Role::Weights};
  m.composes.partners = {Role::Tokens, Role::KvCache};
  m.description = "GPTQ weight-only quantization: codes chosen column by column with the rounding error spread "
                  "through the inverse Hessian of the calibration inputs; stored and run as w-rtn's format";
  rt::add_wq_storage_params(m.schema);
  m.schema.real("damp", 0.01, 0.0, 1.0, "Hessian damping: λ · mean(diag H) added to the diagonal")
      .integer("block", 128, 1, 4096, "lazy-batch width in columns (results do not depend on it)")
      .boolean("act_order", false, "quantize columns by descending Hessian diagonal (needs group 0: grids per channel)")
      .integer("calib_tokens", 16384, 2048, 262144,
               "calibration tokens from the start of WikiText-2's validation text, run in 2,048-token segments; "
               "fewer over-fit the larger layers (K = 1,536 inputs) to the calibration text");
  m.notes = "Calibration: the first calib_tokens tokens of WikiText-2's validation text (2,048-token segments), "
            "every layer's input second moments recorded in one pass of the unmodified model (the paper feeds each "
            "layer the already quantized layers' outputs). "
            "act_order needs group 0. On SmolLM2's Q4_1 file the weights quantized are the file's dequantized "
            "4-bit values. Measured there (WikiText-2, n_ctx 512, 10 chunks; fp16 26.62): 4-bit g64 36.28 vs w-rtn "
            "37.43 (better); 3-bit g64 285.1 vs w-rtn 229.7 (worse), although every layer's output error on "
            "held-out text is 0.24-0.88x w-rtn's at both widths: at 3 bits the errors of layers calibrated on the "
            "unquantized model's inputs compound; the paper's layer-by-layer (sequential) calibration is not "
            "implemented. CPU only.";
  m.validate = [](const Params& p, const std::string& file, const std::string& ptr) {
    if (p.get_bool("act_order") && p.get_int("group") != 0)
      throw InputError(file, json_pointer_append(json_pointer_append(ptr, "params"), "act_order"),
                       "act_order quantizes columns out of order, which needs one grid per output channel: expected "
                       "group 0 with act_order true (got group " + std::to_string(p.get_int("group")) + ")");
  };
  m.make_weight_transform = [](const MethodContext&, const Params& p) -> std::unique_ptr<rt::WeightTransform> {
    methods::gptq::Options o;
    o.format = rt::wq_format_of(p);
    o.damp = p.get_float("damp");
    o.block = (int)p.get_int("block");
    o.act_order = p.get_bool("act_order");
    return std::make_unique<GptqTransform>(o, p.get_bool("include_output"), p.get_int("calib_tokens"));
  };
  return m;
}
