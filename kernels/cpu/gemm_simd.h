#pragma once
// The packed-weight GEMM panel kernel (gemm.h), written once over kv_simd.h's Vec and compiled as gemm_avx2.cpp
// and gemm_avx512.cpp. A panel (kPanel = 32 outputs, k-major) is cut into column blocks of NV vectors; each block
// runs register tiles of MR rows x NV vectors: MR·NV accumulators, NV weight vectors and one broadcast must fit
// the register file without spilling, hence
//   AVX2    (16 ymm):  MR 6 x 2 vectors of 8  = 12 accumulators + 2 + 1 = 15 registers, two blocks per panel;
//   AVX-512 (32 zmm):  MR 8 x 2 vectors of 16 = 16 accumulators + 2 + 1 = 19 registers, one block per panel.
// (The AVX2 kernel used to run 3 x 4 vectors, 12 accumulators + 4 + 1 = 17 registers: one spill per FMA group.)
// One or two rows (decode, and the last rows of a prefill) have too few accumulators in such a tile to hide the
// FMA latency, so they run across the whole panel instead: up to 2 x kPanel/W accumulators (AVX2: 8).
// Every output is one chain of fused multiply-adds over k = 0..K-1 in order, whatever the tile shape, so the
// results are those of the former kernels bit for bit and do not depend on the thread count.
#include <cstdint>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/kv_simd.h"

namespace bp::kern::BP_SIMD_NS::gemm {

using V = Vec;
using F = Vec::F;
constexpr int W = Vec::W;
constexpr int NV = 2;                  // vectors per column block
constexpr int NB = NV * W;             // outputs per column block
constexpr int kBlocks = kPanel / NB;   // column blocks per panel
constexpr int MR = W == 16 ? 8 : 6;    // rows per register tile
static_assert(kPanel % NB == 0, "a panel is a whole number of column blocks");

// y[0..R)[0..nr) (+ bias) for R rows of x and the NVEC-vector column block starting at `col` of one panel.
template <int R, int NVEC, bool F16>
struct Tile {
  static constexpr int NV = NVEC, NB = NVEC * W;
  static void run(const float* x, int K, const void* panel, int col, const float* bias, float* y, int64_t ldy,
                  int nr) {
    F c[R][NV];
    static_for<R>([&](auto i) { static_for<NV>([&](auto j) { c[i][j] = V::zero(); }); });
    const float* pf = static_cast<const float*>(panel) + col;
    const uint16_t* ph = static_cast<const uint16_t*>(panel) + col;
    for (int k = 0; k < K; ++k) {
      F b[NV];
      static_for<NV>([&](auto j) {
        if constexpr (F16) b[j] = V::load_f16(ph + (int64_t)k * kPanel + j * W);
        else b[j] = V::load(pf + (int64_t)k * kPanel + j * W);
      });
      static_for<R>([&](auto i) {
        const F a = V::set1(x[(int64_t)decltype(i)::value * K + k]);
        static_for<NV>([&](auto j) { c[i][j] = V::fmadd(a, b[j], c[i][j]); });
      });
    }
    if (nr == NB) {
      F bb[NV];
      static_for<NV>([&](auto j) { bb[j] = bias ? V::load(bias + j * W) : V::zero(); });
      static_for<R>([&](auto i) {
        static_for<NV>([&](auto j) {
          V::store(y + (int64_t)decltype(i)::value * ldy + j * W, bias ? V::add(c[i][j], bb[j]) : c[i][j]);
        });
      });
      return;
    }
    // The last panel's tail: only nr < NB outputs exist.
    alignas(64) float tmp[NB];
    static_for<R>([&](auto i) {
      static_for<NV>([&](auto j) { V::store(tmp + j * W, c[i][j]); });
      float* yr = y + (int64_t)decltype(i)::value * ldy;
      for (int r = 0; r < nr; ++r) yr[r] = tmp[r] + (bias ? bias[r] : 0.0f);
    });
  }
};

template <int R>
struct TileF32 : Tile<R, NV, false> {};
template <int R>
struct TileF16 : Tile<R, NV, true> {};
template <int R>
struct WideF32 : Tile<R, kPanel / W, false> {};
template <int R>
struct WideF16 : Tile<R, kPanel / W, true> {};
constexpr int kWideRows = 2;  // at most this many rows run across the whole panel

template <bool F16>
void panel_impl(const float* x, int M, int K, const PackedWeights& w, int p, const float* bias, float* y,
                int64_t ldy) {
  const int n0 = p * kPanel;
  const void* panel = w.panel(p);
  const int full = M / MR * MR, rest = M - full;
  for (int blk = 0; blk < kBlocks; ++blk) {
    const int col = blk * NB;
    const int nr = (int)imin_(NB, (int64_t)w.N() - n0 - col);
    if (nr <= 0) break;
    const float* b = bias ? bias + n0 + col : nullptr;
    float* yb = y + n0 + col;
    for (int m = 0; m < full; m += MR)
      Tile<MR, NV, F16>::run(x + (int64_t)m * K, K, panel, col, b, yb + (int64_t)m * ldy, ldy, nr);
    if (rest > kWideRows) {
      const float* xr = x + (int64_t)full * K;
      float* yr = yb + (int64_t)full * ldy;
      if constexpr (F16) dispatch_n<MR - 1, TileF16>(rest, xr, K, panel, col, b, yr, ldy, nr);
      else dispatch_n<MR - 1, TileF32>(rest, xr, K, panel, col, b, yr, ldy, nr);
    }
  }
  if (rest > 0 && rest <= kWideRows) {
    const int nr = (int)imin_(kPanel, (int64_t)w.N() - n0);
    const float* xr = x + (int64_t)full * K;
    float* yr = y + (int64_t)full * ldy + n0;
    const float* b = bias ? bias + n0 : nullptr;
    if constexpr (F16) dispatch_n<kWideRows, WideF16>(rest, xr, K, panel, 0, b, yr, ldy, nr);
    else dispatch_n<kWideRows, WideF32>(rest, xr, K, panel, 0, b, yr, ldy, nr);
  }
}

}  // namespace bp::kern::BP_SIMD_NS::gemm
