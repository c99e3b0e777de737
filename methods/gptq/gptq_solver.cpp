#include "methods/gptq/gptq_solver.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "kernels/cpu/gemm.h"

namespace bp::methods::gptq {
namespace {

// In-place lower Cholesky factor of a symmetric positive definite A[n][n] (row-major); the upper part is zeroed.
void cholesky_lower(std::vector<double>& a, int n) {
  for (int j = 0; j < n; ++j) {
    double d = a[(size_t)j * n + j];
    for (int k = 0; k < j; ++k) d -= a[(size_t)j * n + k] * a[(size_t)j * n + k];
    if (!(d > 0)) throw std::runtime_error("GPTQ: the damped Hessian is not positive definite (raise damp)");
    d = std::sqrt(d);
    a[(size_t)j * n + j] = d;
    for (int i = j + 1; i < n; ++i) {
      double s = a[(size_t)i * n + j];
      const double* ri = &a[(size_t)i * n];
      const double* rj = &a[(size_t)j * n];
      for (int k = 0; k < j; ++k) s -= ri[k] * rj[k];
      a[(size_t)i * n + j] = s / d;
    }
    for (int k = j + 1; k < n; ++k) a[(size_t)j * n + k] = 0;
  }
}

// Upper Cholesky factor U of H⁻¹ (H⁻¹ = Uᵀ U) without forming H⁻¹: with P the order-reversing permutation and
// L' the lower Cholesky factor of P·H·P, H = R·Rᵀ for the upper triangular R = P·L'·P, so H⁻¹ = (R⁻¹)ᵀ R⁻¹ and
// U = R⁻¹ = P·L'⁻¹·P. One factorization and one triangular inverse (K³/3 in all), rows streamed contiguously.
std::vector<double> inverse_upper_factor(const std::vector<double>& h, int n) {
  std::vector<double> l((size_t)n * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) l[(size_t)i * n + j] = h[(size_t)(n - 1 - i) * n + (n - 1 - j)];
  cholesky_lower(l, n);
  // X = L'⁻¹, row by row: X[i][0..i] = (e_i − Σ_{k<i} L'[i][k] X[k][0..k]) / L'[i][i].
  std::vector<double> x((size_t)n * n, 0.0), acc(n);
  for (int i = 0; i < n; ++i) {
    std::fill(acc.begin(), acc.begin() + i + 1, 0.0);
    const double* li = &l[(size_t)i * n];
    for (int k = 0; k < i; ++k) {
      const double c = li[k];
      if (c == 0) continue;
      const double* xk = &x[(size_t)k * n];
      for (int j = 0; j <= k; ++j) acc[j] += c * xk[j];
    }
    const double inv_d = 1.0 / li[i];
    double* xi = &x[(size_t)i * n];
    for (int j = 0; j < i; ++j) xi[j] = -acc[j] * inv_d;
    xi[i] = inv_d;
  }
  std::vector<double> u((size_t)n * n, 0.0);
  for (int i = 0; i < n; ++i)
    for (int j = i; j < n; ++j) u[(size_t)i * n + j] = x[(size_t)(n - 1 - i) * n + (n - 1 - j)];
  return u;
}

}  // namespace

std::vector<double> hessian_of(const float* x, int64_t n, int K, int threads) {
  if (n <= 0) return std::vector<double>((size_t)K * K, 0.0);
  // XᵀX as one GEMM over the transposed rows (the packed F32 kernels: float products summed in float over the
  // calibration rows, as the reference implementations accumulate it).
  std::vector<float> xt((size_t)K * n);
  for (int64_t r = 0; r < n; ++r)
    for (int k = 0; k < K; ++k) xt[(size_t)k * n + r] = x[r * K + k];
  kern::PackedWeights pw(xt.data(), K, (int)n, kern::PackedType::F32);
  std::vector<float> xtx((size_t)K * K);
  kern::gemm_packed(xt.data(), K, pw, nullptr, xtx.data(), threads);
  return hessian_of_gram(xtx.data(), n, K);
}

std::vector<double> hessian_of_gram(const float* gram, int64_t n, int K) {
  std::vector<double> h((size_t)K * K, 0.0);
  if (n <= 0) return h;
  const double scale = 2.0 / (double)n;
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < K; ++j)  // symmetrized: the two halves are computed by different tiles
      h[(size_t)i * K + j] = 0.5 * scale * ((double)gram[(size_t)i * K + j] + (double)gram[(size_t)j * K + i]);
  return h;
}

Result quantize(const float* w_in, int N, int K, std::vector<double> h, const Options& o) {
  const kern::WqFormat& f = o.format;
  if (const char* e = kern::wq_format_error(f, K); *e) throw std::invalid_argument(std::string("GPTQ: ") + e);
  if (o.act_order && f.group != 0)
    throw std::invalid_argument("GPTQ: act_order needs per-channel grids (group 0): groups must stay contiguous");
  const int G = f.group == 0 ? K : std::min(f.group, K);
  const int groups = (K + G - 1) / G;
  std::vector<double> w((size_t)N * K);
  for (size_t i = 0; i < w.size(); ++i) w[i] = w_in[i];

  // Dead inputs, then the column order.
  for (int i = 0; i < K; ++i)
    if (h[(size_t)i * K + i] == 0) {
      h[(size_t)i * K + i] = 1;
      for (int n = 0; n < N; ++n) w[(size_t)n * K + i] = 0;
    }
  std::vector<int> perm(K);
  std::iota(perm.begin(), perm.end(), 0);
  if (o.act_order)
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int a, int b) { return h[(size_t)a * K + a] > h[(size_t)b * K + b]; });
  // Permuted copies: column c of the work matrices is original column perm[c].
  std::vector<double> hp((size_t)K * K), wp((size_t)N * K);
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < K; ++j) hp[(size_t)i * K + j] = h[(size_t)perm[i] * K + perm[j]];
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < K; ++c) wp[(size_t)n * K + c] = w[(size_t)n * K + perm[c]];
  double mean_diag = 0;
  for (int i = 0; i < K; ++i) mean_diag += hp[(size_t)i * K + i];
  mean_diag /= K;
  for (int i = 0; i < K; ++i) hp[(size_t)i * K + i] += o.damp * mean_diag;
  const std::vector<double> u = inverse_upper_factor(hp, K);

  Result r;
  r.codes.assign((size_t)N * K, 0);
  r.grids.assign((size_t)N * groups, kern::WqGrid{});
  const int B = std::max(1, o.block);
  std::vector<double> err((size_t)N * B);
  std::vector<float> tmp(G);
  for (int i1 = 0; i1 < K; i1 += B) {
    const int i2 = std::min(i1 + B, K);
    for (int c = i1; c < i2; ++c) {
      const int orig = perm[c];
      // Groups are contiguous in the original order (act_order implies one group per row): fit a group's grid
      // when its first column comes up, on the values as updated so far.
      if (orig % G == 0 && !o.act_order) {
        const int g = orig / G, len = std::min(G, K - orig);
        for (int n = 0; n < N; ++n) {
          for (int k = 0; k < len; ++k) tmp[k] = (float)wp[(size_t)n * K + c + k];
          r.grids[(size_t)n * groups + g] = kern::WqGrid::fit(tmp.data(), len, f);
        }
      } else if (o.act_order && c == 0) {
        std::vector<float> row(K);
        for (int n = 0; n < N; ++n) {
          for (int k = 0; k < K; ++k) row[k] = (float)wp[(size_t)n * K + k];
          r.grids[(size_t)n] = kern::WqGrid::fit(row.data(), K, f);
        }
      }
      const int g = orig / G;
      const double d = u[(size_t)c * K + c];
      for (int n = 0; n < N; ++n) {
        double* wr = &wp[(size_t)n * K];
        const kern::WqGrid& grid = r.grids[(size_t)n * groups + g];
        const int q = grid.code((float)wr[c], f);
        r.codes[(size_t)n * K + orig] = (uint8_t)q;
        const double e = (wr[c] - (double)grid.value(q)) / d;
        err[(size_t)n * B + (c - i1)] = e;
        const double* uc = &u[(size_t)c * K];
        for (int j = c + 1; j < i2; ++j) wr[j] -= e * uc[j];
      }
    }
    // The block's errors, applied to every later column at once.
    if (i2 < K)
      for (int n = 0; n < N; ++n) {
        double* wr = &wp[(size_t)n * K];
        for (int c = i1; c < i2; ++c) {
          const double e = err[(size_t)n * B + (c - i1)];
          if (e == 0) continue;
          const double* uc = &u[(size_t)c * K];
          for (int j = i2; j < K; ++j) wr[j] -= e * uc[j];
        }
      }
  }
  return r;
}

}  // namespace bp::methods::gptq
