// The CUDA observation kernels (column sums of attention probabilities, row statistics) and the FP16 row gather of
// the device eviction caches, against the CPU references. Skips when no CUDA device is present.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "harness/runtime/kv/split_kv.h"
#include "kernels/common/fp16.h"
#include "kernels/common/softmax_math.h"
#include "kernels/cpu/attention_probs.h"
#include "kernels/cuda/kv_cuda.h"
#include "kernels/cuda/model_ops.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/kernels/kv_test_util.h"

namespace bp::kern {
namespace {

using cuda::DeviceBuffer;

using cudatest::to_device;
using cudatest::to_host;

void expect_close(const std::vector<float>& got, const std::vector<float>& ref, float tol, const std::string& what) {
  ASSERT_EQ(got.size(), ref.size());
  for (size_t j = 0; j < ref.size(); ++j)
    ASSERT_NEAR(got[j], ref[j], tol * (1.0f + std::fabs(ref[j]))) << what << " j " << j;
}

// Row statistics (max, sum) of m rows of random scores, as an attention pass would leave them.
void row_stats(int m, uint32_t seed, std::vector<float>& mx, std::vector<float>& sm) {
  const auto a = test::randn((size_t)m, seed), b = test::randn((size_t)m, seed + 1);
  mx.resize(m);
  sm.resize(m);
  for (int i = 0; i < m; ++i) {
    mx[i] = 2.0f * a[i];
    sm[i] = 20.0f + 10.0f * std::fabs(b[i]);
  }
}

TEST(CudaAttentionProbs, MergeRowStatsMatchesTheSharedRule) {
  BP_REQUIRE_GPU();
  const int m = 300;
  std::vector<float> am, as, bm, bs;
  row_stats(m, 1, am, as);
  row_stats(m, 5, bm, bs);
  for (int i = 0; i < m; i += 7) as[i] = 0.0f;  // empty partials on either side
  for (int i = 3; i < m; i += 11) bs[i] = 0.0f;
  DeviceBuffer dam = to_device(am), das = to_device(as), dbm = to_device(bm), dbs = to_device(bs), om(m * 4), os(m * 4);
  cuda::merge_row_stats(m, dam.as<float>(), das.as<float>(), dbm.as<float>(), dbs.as<float>(), om.as<float>(),
                        os.as<float>());
  const auto gm = to_host<float>(om, m), gs = to_host<float>(os, m);
  for (int i = 0; i < m; ++i) {
    float rm = am[i], rs = as[i];
    merge_row_stats(rm, rs, bm[i], bs[i]);
    EXPECT_NEAR(gs[i], rs, 1e-5f * rs) << i;
    if (rs > 0.0f) {
      EXPECT_NEAR(gm[i] + std::log(gs[i]), rm + std::log(rs), 1e-5f * (1.0f + std::fabs(rm))) << i;
    }
  }
}

// Every row, and a subset of rows given as a list (ZipCache's probes): the device sums over the listed rows only.
TEST(CudaAttentionProbs, ColumnSumsOverF32KeysMatchTheCpu) {
  BP_REQUIRE_GPU();
  for (int D : {64, 128})
    for (int T : {1, 37, 300})
      for (int m : {1, 6, 70})
        for (int64_t off : {(int64_t)T - m, (int64_t)0, (int64_t)T})
          for (bool subset : {false, true}) {
            const auto q = test::randn((size_t)m * D, 2, 0.15f), k = test::randn((size_t)T * D, 3);
            std::vector<float> mx, sm;
            row_stats(m, 4, mx, sm);
            std::vector<int32_t> rows;
            for (int r = 0; r < m; ++r)
              if (!subset || r % 3 == 0 || r == m - 1) rows.push_back(r);
            // CPU reference: the listed rows, one at a time.
            std::vector<float> ref(T, 0.5f);  // the kernels add to what is there
            for (int32_t r : rows) {
              AttnProbArgs a;
              a.q = q.data() + (size_t)r * D;
              a.q_stride = D;
              a.m = 1;
              a.k = k.data();
              a.k_stride = D;
              a.T = T;
              a.head_dim = D;
              a.causal_offset = off + r;
              a.row_max = &mx[r];
              a.row_sum = &sm[r];
              a.col_sum = ref.data();
              attention_probs_f32_ref(a);
            }
            DeviceBuffer dq = to_device(q), dk = to_device(k), dm = to_device(mx), ds = to_device(sm),
                         dr = to_device(rows), dc = to_device(std::vector<float>(T, 0.5f));
            cuda::column_probs_f32(dq.as<float>(), D, dr.as<int32_t>(), (int)rows.size(), dm.as<float>(),
                                   ds.as<float>(), dk.as<float>(), D, T, D, off, dc.as<float>());
            expect_close(to_host<float>(dc, T), ref, 1e-4f,
                         "D " + std::to_string(D) + " T " + std::to_string(T) + " m " + std::to_string(m) +
                             (subset ? " subset" : ""));
          }
}

TEST(CudaAttentionProbs, ColumnSumsOverASplitStoreMatchTheCpu) {
  BP_REQUIRE_GPU();
  const int D = 64, T = 260, m = 12;
  KvLayout kl;
  kl.role = KvRole::Keys;
  kl.head_dim = D;
  kl.bits = 4;
  kl.axis = KvAxis::PerChannel;
  kl.group = 32;
  KvLayout vl = kl;
  vl.role = KvRole::Values;
  vl.axis = KvAxis::PerToken;
  for (int64_t packed : {0, 128, 256}) {
    rt::kv::SplitKv s(kl, vl);
    const auto k = test::randn((size_t)T * D, 7), v = test::randn((size_t)T * D, 8);
    const auto q = test::randn((size_t)m * D, 9, 0.15f);
    s.append(k.data(), v.data(), D, T);
    s.keys().flush(packed);
    std::vector<float> mx, sm, scores((size_t)m * T), ref(T, 0.0f);
    row_stats(m, 10, mx, sm);
    s.scores(q.data(), m, scores.data(), T);
    for (int i = 0; i < m; ++i) add_probs_from_scores_ref(scores.data() + (size_t)i * T, T, mx[i], sm[i], ref.data());
    // Device copy of the key side.
    const PackedKv& pv = s.keys().packed_view();
    const KvStoreBytes b = kv_store_bytes(kl, pv.tokens);
    std::vector<uint8_t> codes(pv.codes, pv.codes + b.codes);
    std::vector<uint16_t> scales(pv.scales, pv.scales + b.scales / 2), mins(pv.mins, pv.mins + b.mins / 2);
    std::vector<uint16_t> rows(s.keys().tail().data(), s.keys().tail().data() + (size_t)s.keys().fp16() * D);
    DeviceBuffer dcodes = to_device(codes), dscales = to_device(scales), dmins = to_device(mins), drows = to_device(rows);
    SplitRowsRef r;
    r.packed = {kl, pv.tokens, dcodes.as<uint8_t>(), dscales.as<uint16_t>(), dmins.as<uint16_t>(), nullptr};
    r.f16 = drows.as<uint16_t>();
    r.f16_stride = D;
    r.f16_rows = s.keys().fp16();
    std::vector<int32_t> all(m);
    for (int i = 0; i < m; ++i) all[i] = i;
    DeviceBuffer dq = to_device(q), dm = to_device(mx), ds = to_device(sm), dr = to_device(all),
                 dc = to_device(std::vector<float>(T, 0.0f));
    cuda::column_probs_split(dq.as<float>(), D, dr.as<int32_t>(), m, dm.as<float>(), ds.as<float>(), r,
                             dc.as<float>());
    expect_close(to_host<float>(dc, T), ref, 1e-4f, "packed " + std::to_string(packed));
  }
}

TEST(CudaGather, GathersRowsPerHead) {
  BP_REQUIRE_GPU();
  const int heads = 3, cap = 50, D = 64, rows = 17;
  std::vector<uint16_t> src((size_t)heads * cap * D);
  for (size_t i = 0; i < src.size(); ++i) src[i] = (uint16_t)(i * 2654435761u >> 16);
  std::vector<int32_t> idx((size_t)heads * rows);
  for (int h = 0; h < heads; ++h)
    for (int j = 0; j < rows; ++j) idx[(size_t)h * rows + j] = (j * 3 + h) % cap;
  DeviceBuffer ds = to_device(src), di = to_device(idx), dd(src.size() * 2);
  cuda::gather_rows_f16(ds.as<uint16_t>(), (int64_t)cap * D, di.as<int32_t>(), heads, rows, D, dd.as<uint16_t>(),
                        (int64_t)cap * D, nullptr);
  const auto got = to_host<uint16_t>(dd, src.size());
  for (int h = 0; h < heads; ++h)
    for (int j = 0; j < rows; ++j)
      for (int d = 0; d < D; ++d)
        ASSERT_EQ(got[((size_t)h * cap + j) * D + d], src[((size_t)h * cap + idx[(size_t)h * rows + j]) * D + d]);
}

}  // namespace
}  // namespace bp::kern
