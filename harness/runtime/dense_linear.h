#pragma once
// The default LinearOp: full-precision weights (F32, or F16 storage) repacked for kernels/cpu/gemm.
#include <vector>

#include "harness/runtime/linear_op.h"
#include "kernels/cpu/gemm.h"

namespace bp::rt {

class DenseLinear : public LinearOp {
 public:
  // w: [out][in] F32; bias: [out] or empty.
  DenseLinear(const float* w, int out, int in, std::vector<float> bias, kern::PackedType storage);
  int in_features() const override { return w_.K(); }
  int out_features() const override { return w_.N(); }
  void forward(const float* x, int n, float* y, int threads) const override;
  size_t bytes() const override { return w_.bytes() + bias_.size() * sizeof(float); }
  std::string format() const override { return w_.type() == kern::PackedType::F32 ? "f32" : "f16"; }

  // The weights as F32 [out][in] (F16-rounded when stored as F16), for weight methods.
  std::vector<float> weights() const;
  const std::vector<float>& bias() const { return bias_; }

 private:
  kern::PackedWeights w_;
  std::vector<float> bias_;
};

}  // namespace bp::rt
