#include "harness/runtime/dense_linear.h"

namespace bp::rt {

DenseLinear::DenseLinear(const float* w, int out, int in, std::vector<float> bias, kern::PackedType storage)
    : w_(w, out, in, storage), bias_(std::move(bias)) {}

void DenseLinear::forward(const float* x, int n, float* y, int threads) const {
  kern::gemm_packed(x, n, w_, bias_.empty() ? nullptr : bias_.data(), y, threads);
}

std::vector<float> DenseLinear::weights() const {
  std::vector<float> w((size_t)w_.N() * w_.K());
  w_.unpack(w.data());
  return w;
}

}  // namespace bp::rt
