// CUDA twins of the KV kernels against the CPU references: FP16 conversions and quantization bit for bit,
// dequantization bit for bit (both sides compute code·scale + min as one FMA), attention within 1e-4 (relative, on
// log-sum-exp and normalized outputs; other summation order). Every test skips when no CUDA device is present.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/common/fp16.h"
#include "kernels/common/kv_layout.h"
#include "kernels/cpu/attention_f32.h"
#include "kernels/cpu/kv_quant.h"
#include "kernels/cpu/packed_attention.h"
#include "kernels/cuda/kv_cuda.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/kernels/kv_test_util.h"

namespace bp::kern {
namespace {

using cuda::DeviceBuffer;
using test::Partial;

using cudatest::to_device;
using cudatest::to_host;

TEST(CudaFp16, ConversionsMatchTheCpuBitForBit) {
  BP_REQUIRE_GPU();
  std::vector<uint16_t> halves(65536);
  for (uint32_t h = 0; h < 65536; ++h) halves[h] = (uint16_t)h;
  DeviceBuffer dh = to_device(halves), df(65536 * sizeof(float));
  cuda::f16_to_f32_array(dh.as<uint16_t>(), df.as<float>(), 65536);
  const auto back = to_host<float>(df, 65536);
  for (uint32_t h = 0; h < 65536; ++h) {
    const float want = f16_to_f32_soft((uint16_t)h);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(back[h])) << h;  // NaN payloads may be canonicalized by the device
    } else {
      ASSERT_EQ(f32_bits(back[h]), f32_bits(want)) << h;
    }
  }
  // Midpoints between neighbouring halves and their float neighbours: the rounding-sensitive inputs.
  std::vector<float> in;
  for (uint32_t a = 0; a < 0x7C00; ++a) {
    const float fa = f16_to_f32_soft((uint16_t)a);
    const float mid = (fa + f16_to_f32_soft((uint16_t)(a + 1))) * 0.5f;
    for (float x : {fa, mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY)}) {
      in.push_back(x);
      in.push_back(-x);
    }
  }
  DeviceBuffer di = to_device(in), dout(in.size() * sizeof(uint16_t));
  cuda::f32_to_f16_array(di.as<float>(), dout.as<uint16_t>(), in.size());
  const auto got = to_host<uint16_t>(dout, in.size());
  for (size_t i = 0; i < in.size(); ++i) ASSERT_EQ(got[i], f32_to_f16_soft(in[i])) << in[i];
}

KvLayout layout(KvRole role, int D, int bits, KvAxis axis, int group, bool sym = false, bool norm = false) {
  return make_kv_layout(role, D, bits, axis, group, sym, norm);
}

std::vector<float> kv_data(int T, int D, uint32_t seed) {
  auto x = test::randn((size_t)T * D, seed);
  for (int t = 0; t < T; ++t)
    for (int d = 0; d < D; d += 9) x[(size_t)t * D + d] = x[(size_t)t * D + d] * 6.0f + 3.0f;
  return x;
}

// A store on the device, zero-initialized like KvStore.
struct DeviceStore {
  KvLayout L;
  int64_t T;
  KvStoreBytes b;
  DeviceBuffer codes, scales, mins, norms;
  DeviceStore(const KvLayout& l, int64_t t, const std::vector<uint16_t>& host_norms)
      : L(l), T(t), b(kv_store_bytes(l, t)), codes(b.codes), scales(b.scales), mins(b.mins + 2),
        norms(host_norms.size() * 2 + 2) {
    codes.zero();
    scales.zero();
    mins.zero();
    if (!host_norms.empty()) norms.upload(host_norms.data(), host_norms.size() * 2);
  }
  PackedKvMut mut() {
    return {L, T, codes.as<uint8_t>(), scales.as<uint16_t>(), L.symmetric ? nullptr : mins.as<uint16_t>(),
            L.channel_norm ? norms.as<uint16_t>() : nullptr};
  }
  PackedKv view() { return mut().view(); }
  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> out(b.codes + b.scales + b.mins);
    codes.download(out.data(), b.codes);
    scales.download(out.data() + b.codes, b.scales);
    mins.download(out.data() + b.codes + b.scales, b.mins);
    return out;
  }
};

std::vector<uint8_t> host_bytes(const KvStore& s) {
  const KvStoreBytes b = kv_store_bytes(s.layout(), s.tokens());
  const PackedKv v = s.view();
  std::vector<uint8_t> out(b.codes + b.scales + b.mins);
  std::memcpy(out.data(), v.codes, b.codes);
  std::memcpy(out.data() + b.codes, v.scales, b.scales);
  if (b.mins) std::memcpy(out.data() + b.codes + b.scales, v.mins, b.mins);
  return out;
}

struct Case {
  KvRole role;
  int bits;
  KvAxis axis;
  int group;
  bool sym;
  bool norm;
};

std::vector<Case> cases() {
  std::vector<Case> c;
  for (int bits : {2, 4, 8})
    for (bool sym : {false, true}) {
      for (int g : {0, 32}) {
        c.push_back({KvRole::Keys, bits, KvAxis::PerToken, g, sym, false});
        c.push_back({KvRole::Keys, bits, KvAxis::PerChannel, g, sym, false});
        c.push_back({KvRole::Values, bits, KvAxis::PerToken, g, sym, g == 0});
        c.push_back({KvRole::Values, bits, KvAxis::PerChannel, g == 0 ? 0 : 5, sym, false});
      }
    }
  return c;
}

TEST(CudaKvQuant, QuantizeAndDequantizeMatchTheCpuBitForBit) {
  BP_REQUIRE_GPU();
  const int T = 150;
  for (int D : {64, 128}) {
    const auto x = kv_data(T, D, 3);
    std::vector<int32_t> idx(T);
    for (int t = 0; t < T; ++t) idx[t] = (t * 31) % T;
    DeviceBuffer dx = to_device(x), didx = to_device(idx);
    std::vector<uint16_t> norms(D);
    kv_channel_norms(x.data(), D, T, D, norms.data());
    DeviceBuffer dn(D * 2);
    cuda::kv_channel_norms(dx.as<float>(), D, T, D, dn.as<uint16_t>());
    EXPECT_EQ(to_host<uint16_t>(dn, D), norms);
    for (const Case& c : cases()) {
      const KvLayout L = layout(c.role, D, c.bits, c.axis, c.group, c.sym, c.norm);
      const int64_t t0 = (c.axis == KvAxis::PerChannel && c.group == 0) ? 0 : (c.axis == KvAxis::PerChannel ? c.group : 3);
      const int n = (int)(T - t0);
      KvStore hs(L);
      hs.resize(T);
      kv_quantize(hs.mut(norms.data()), x.data(), D, t0, n, idx.data());
      DeviceStore ds(L, T, c.norm ? norms : std::vector<uint16_t>{});
      cuda::kv_quantize(ds.mut(), dx.as<float>(), D, t0, n, didx.as<int32_t>());
      std::ostringstream os;
      os << "D " << D << " role " << (int)c.role << " bits " << c.bits << " axis " << (int)c.axis << " G " << c.group
         << " sym " << c.sym;
      const std::string what = os.str();
      ASSERT_EQ(ds.bytes(), host_bytes(hs)) << what;
      std::vector<float> want((size_t)n * D);
      kv_dequantize(hs.view(norms.data()), t0, n, want.data(), D);
      DeviceBuffer dy((size_t)n * D * 4);
      cuda::kv_dequantize(ds.view(), t0, n, dy.as<float>(), D);
      ASSERT_EQ(to_host<float>(dy, (size_t)n * D), want) << what;
    }
  }
}

TEST(CudaPackedAttention, MatchesTheCpuReference) {
  BP_REQUIRE_GPU();
  for (int D : {64, 128})
    for (int T : {1, 100, 700})
      for (int m : {1, 3, 19}) {
        const KvLayout kl = layout(KvRole::Keys, D, 2, KvAxis::PerChannel, 32);
        const KvLayout vl = layout(KvRole::Values, D, 4, KvAxis::PerToken, 32, false, true);
        const auto k = kv_data(T, D, 5), v = kv_data(T, D, 6), q = test::randn((size_t)m * D, 7, 0.15f);
        std::vector<uint16_t> norms(D);
        kv_channel_norms(v.data(), D, T, D, norms.data());
        KvStore hk(kl), hv(vl);
        hk.resize(T);
        hv.resize(T);
        kv_quantize(hk.mut(), k.data(), D, 0, T);
        kv_quantize(hv.mut(norms.data()), v.data(), D, 0, T);
        DeviceStore dk(kl, T, {}), dv(vl, T, norms);
        DeviceBuffer dkx = to_device(k), dvx = to_device(v), dq = to_device(q);
        cuda::kv_quantize(dk.mut(), dkx.as<float>(), D, 0, T);
        cuda::kv_quantize(dv.mut(), dvx.as<float>(), D, 0, T);
        for (auto [t0, t1] : {std::pair<int64_t, int64_t>{0, T}, {T / 3, T - T / 5}}) {
          Partial ref(m, D);
          PackedAttnArgs a;
          a.q = q.data();
          a.q_stride = D;
          a.m = m;
          a.k = hk.view();
          a.v = hv.view(norms.data());
          a.t0 = t0;
          a.t1 = t1;
          a.out_max = ref.max.data();
          a.out_sum = ref.sum.data();
          a.out_acc = ref.acc.data();
          packed_attention_ref(a);
          DeviceBuffer omax(m * 4), osum(m * 4), oacc((size_t)m * D * 4);
          PackedAttnArgs g = a;
          g.q = dq.as<float>();
          g.k = dk.view();
          g.v = dv.view();
          g.out_max = omax.as<float>();
          g.out_sum = osum.as<float>();
          g.out_acc = oacc.as<float>();
          cuda::packed_attention(g);
          Partial got(m, D);
          got.max = to_host<float>(omax, m);
          got.sum = to_host<float>(osum, m);
          got.acc = to_host<float>(oacc, (size_t)m * D);
          EXPECT_TRUE(test::same_partial(got, ref, m, D, 1e-4f)) << "D " << D << " T " << T << " m " << m;
          const int64_t n = t1 - t0;
          if (n <= 0) continue;
          std::vector<float> sref((size_t)m * n);
          packed_scores_ref(q.data(), D, m, hk.view(), t0, t1, sref.data(), n);
          DeviceBuffer ds((size_t)m * n * 4);
          cuda::packed_scores(dq.as<float>(), D, m, dk.view(), t0, t1, ds.as<float>(), n);
          const auto sg = to_host<float>(ds, (size_t)m * n);
          for (size_t i = 0; i < sref.size(); ++i) ASSERT_NEAR(sg[i], sref[i], 1e-4f * (1.0f + std::fabs(sref[i])));
        }
      }
}

TEST(CudaAttentionF32, MatchesTheCpuReference) {
  BP_REQUIRE_GPU();
  for (int D : {64, 128})
    for (int T : {1, 33, 300, 1000})
      for (int m : {1, 5, 64})
        for (int64_t off : {(int64_t)T - m, (int64_t)T, (int64_t)-3}) {
          const auto q = test::randn((size_t)m * D, 1, 0.2f), k = test::randn((size_t)T * D, 2),
                     v = test::randn((size_t)T * D, 3);
          AttnF32Args a;
          a.q = q.data();
          a.q_stride = D;
          a.m = m;
          a.k = k.data();
          a.v = v.data();
          a.kv_stride = D;
          a.T = T;
          a.head_dim = D;
          a.causal_offset = off;
          Partial ref(m, D);
          a.out_max = ref.max.data();
          a.out_sum = ref.sum.data();
          a.out_acc = ref.acc.data();
          attention_partial_f32_ref(a);
          DeviceBuffer dq = to_device(q), dk = to_device(k), dv = to_device(v), omax(m * 4), osum(m * 4),
                       oacc((size_t)m * D * 4);
          AttnF32Args g = a;
          g.q = dq.as<float>();
          g.k = dk.as<float>();
          g.v = dv.as<float>();
          g.out_max = omax.as<float>();
          g.out_sum = osum.as<float>();
          g.out_acc = oacc.as<float>();
          cuda::attention_partial_f32(g);
          Partial got(m, D);
          got.max = to_host<float>(omax, m);
          got.sum = to_host<float>(osum, m);
          got.acc = to_host<float>(oacc, (size_t)m * D);
          EXPECT_TRUE(test::same_partial(got, ref, m, D, 1e-4f)) << "D " << D << " T " << T << " m " << m << " off " << off;
        }
}

}  // namespace
}  // namespace bp::kern
