#pragma once
// GPTQ (Frantar et al., 2023) for one linear layer: quantize W[N][K] column by column, each column's rounding error
// spread over the columns not yet quantized through the inverse Hessian of the layer's inputs, so that the layer's
// output on the calibration inputs changes as little as possible.
//
//   H = 2/n · Xᵀ X + λ·mean(diag H)·I            (X: n calibration input rows; λ = `damp`)
//   U = upper Cholesky factor of H⁻¹               (H⁻¹ = Uᵀ U)
//   for each column i (in order, or by descending diag H with act_order):
//     q_i = quant(w_i) on its group's grid          (a group's grid is fitted when its first column is reached, on
//                                                    the columns' values as updated so far)
//     e_i = (w_i − q_i) / U[i][i]
//     w_j −= e_i · U[i][j]   for every later column j
// The lazy-batch form applies the updates to columns beyond the current block of `block` columns once per block
// (a matrix product), which is the same arithmetic regrouped. Everything runs in double.
// Dead inputs (H[i][i] = 0: never active on the calibration text) get H[i][i] = 1 and W[:, i] = 0, as the paper's
// code does.
#include <cstdint>
#include <vector>

#include "kernels/cpu/wq_gemm.h"

namespace bp::methods::gptq {

struct Options {
  kern::WqFormat format;
  double damp = 0.01;     // λ, relative to the mean of diag(H)
  int block = 128;        // lazy-batch width (1: the unbatched algorithm)
  bool act_order = false; // quantize columns by descending diag(H) (per-channel grids only: see gptq.cpp)
};

struct Result {
  std::vector<uint8_t> codes;         // [N][K], one code per byte, in the original column order
  std::vector<kern::WqGrid> grids;    // [N][groups]
};

// hessian: H[K][K] row-major as accumulated from the inputs (2/n · XᵀX), before damping.
Result quantize(const float* w, int N, int K, std::vector<double> hessian, const Options& o);

// 2/n · XᵀX for rows x[n][K] (float products and sums, returned as double).
std::vector<double> hessian_of(const float* x, int64_t n, int K, int threads);
// The same from an accumulated gram[K][K] = Σ x xᵀ over n rows (symmetrized).
std::vector<double> hessian_of_gram(const float* gram, int64_t n, int K);

}  // namespace bp::methods::gptq
