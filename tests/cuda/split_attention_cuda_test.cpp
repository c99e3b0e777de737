// The CUDA split attention kernel (packed prefix + FP16 rows per side, kernels/common/kv_split_rows.h) against the
// CPU's rt::kv::SplitKv::attend over the same stored data, for KIVI-like and per-channel layouts and split points
// on either side of each other. Skips when no CUDA device is present.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness/runtime/kv/split_kv.h"
#include "kernels/cuda/kv_cuda.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/kernels/kv_test_util.h"

namespace bp::kern {
namespace {

using cuda::DeviceBuffer;

template <class T>
DeviceBuffer upload(const T* p, size_t n) {
  DeviceBuffer b(std::max<size_t>(n * sizeof(T), 1));
  if (n) b.upload(p, n * sizeof(T));
  return b;
}

// A device copy of one side: its packed store's arrays and its FP16 rows.
struct DeviceSide {
  DeviceBuffer codes, scales, mins, rows;
  SplitRowsRef ref;
  explicit DeviceSide(const rt::kv::SplitSide& s) {
    const PackedKv& v = s.packed_view();
    const KvStoreBytes b = kv_store_bytes(v.layout, v.tokens);
    codes = upload(v.codes, b.codes);
    scales = upload(v.scales, b.scales / 2);
    mins = upload(v.mins, b.mins / 2);
    rows = upload(s.tail().data(), (size_t)s.fp16() * v.layout.head_dim);
    ref.packed = {v.layout, v.tokens, codes.as<uint8_t>(), scales.as<uint16_t>(),
                  v.layout.symmetric ? nullptr : mins.as<uint16_t>(), nullptr};
    ref.f16 = rows.as<uint16_t>();
    ref.f16_stride = v.layout.head_dim;
    ref.f16_rows = s.fp16();
  }
};

TEST(CudaSplitAttention, MatchesTheCpuSplitStore) {
  BP_REQUIRE_GPU();
  const int D = 64;
  struct Split {
    int T, key_packed, value_packed;
  };
  for (int bits : {2, 4, 8})
    for (KvAxis vaxis : {KvAxis::PerToken, KvAxis::PerChannel})
      for (Split sp : {Split{300, 256, 160}, Split{300, 128, 256}, Split{40, 0, 0}, Split{700, 640, 640}})
        for (int m : {1, 9, 20}) {
          rt::kv::SplitKv s(make_kv_layout(KvRole::Keys, D, bits, KvAxis::PerChannel, 32),
                            make_kv_layout(KvRole::Values, D, bits, vaxis, 32));
          const auto k = test::randn((size_t)sp.T * D, 11), v = test::randn((size_t)sp.T * D, 12);
          const auto q = test::randn((size_t)m * D, 13, 0.15f);
          s.append(k.data(), v.data(), D, sp.T);
          s.keys().flush(sp.key_packed);
          s.values().flush(sp.value_packed);
          test::Partial ref(m, D), got(m, D);
          s.attend(q.data(), m, ref.max.data(), ref.sum.data(), ref.acc.data());
          DeviceSide dk(s.keys()), dv(s.values());
          DeviceBuffer dq = upload(q.data(), q.size()), omax(m * 4), osum(m * 4), oacc((size_t)m * D * 4);
          cuda::split_attention(dq.as<float>(), D, m, dk.ref, dv.ref, omax.as<float>(), osum.as<float>(),
                                oacc.as<float>());
          omax.download(got.max.data(), m * 4);
          osum.download(got.sum.data(), m * 4);
          oacc.download(got.acc.data(), (size_t)m * D * 4);
          EXPECT_TRUE(test::same_partial(got, ref, m, D, 1e-4f))
              << "bits " << bits << " T " << sp.T << " packed " << sp.key_packed << "/" << sp.value_packed << " m "
              << m;
        }
}

}  // namespace
}  // namespace bp::kern
