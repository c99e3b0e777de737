#pragma once
// A LinearOp over weight-only quantized storage (kernels/cpu/wq_gemm.h): b-bit integer codes in groups along the
// input with FP16 scales (and minima), multiplied without ever expanding the matrix. The building block of the
// weight-only methods (w-rtn; GPTQ and AWQ produce the same storage from other codes and scales).
#include <memory>
#include <string>
#include <vector>

#include "harness/common/param_schema.h"
#include "harness/runtime/linear_op.h"
#include "kernels/cpu/wq_gemm.h"

namespace bp::rt {

// The storage parameters every method on this storage shares, declared once: bits, group, symmetric and
// include_output (whether the LM head is quantized too).
void add_wq_storage_params(ParamSchema& s);
kern::WqFormat wq_format_of(const Params& p);

class WqLinear : public LinearOp {
 public:
  WqLinear(kern::WqMatrix w, std::vector<float> bias) : w_(std::move(w)), bias_(std::move(bias)) {}
  int in_features() const override { return w_.K(); }
  int out_features() const override { return w_.N(); }
  void forward(const float* x, int n, float* y, int threads) const override {
    kern::wq_gemm(x, n, w_, bias_.empty() ? nullptr : bias_.data(), y, threads);
  }
  // Codes + FP16 scales (+ FP16 minima) + F32 bias: every byte the kernel reads.
  size_t bytes() const override { return w_.bytes() + bias_.size() * sizeof(float); }
  // "int4-g64-asym", "int8-row-sym".
  std::string format() const override;
  const kern::WqMatrix& matrix() const { return w_; }

 private:
  kern::WqMatrix w_;
  std::vector<float> bias_;
};

}  // namespace bp::rt
