// F32 flash attention: every ISA level against the scalar reference over shapes (rows, keys not a multiple of the
// key block, head_dim 64/128), causal offsets (queries at the end, no mask, rows that see nothing) and interleaved
// head strides as the runtime passes them. Tolerance 1e-4 relative on log-sum-exp and normalized outputs (vector
// code sums in another order and uses a polynomial exp with ~2e-7 relative error).
#include <gtest/gtest.h>

#include <vector>

#include "kernels/cpu/attention_f32.h"
#include "tests/kernels/kv_test_util.h"

namespace bp::kern {
namespace {

using test::Partial;

struct F32Case {
  int m, T, D;
  int64_t offset;
  int heads;  // q rows interleaved with `heads` heads, K/V with heads/3 (GQA-like strides)
};

void run_case(const F32Case& c) {
  const int kvh = c.heads >= 3 ? c.heads / 3 : 1;
  const auto q = test::randn((size_t)c.m * c.heads * c.D, 1, 0.2f);
  const auto k = test::randn((size_t)c.T * kvh * c.D, 2), v = test::randn((size_t)c.T * kvh * c.D, 3);
  AttnF32Args a;
  a.q = q.data() + (c.heads - 1) * c.D;  // the last head: strides matter
  a.q_stride = (int64_t)c.heads * c.D;
  a.m = c.m;
  a.k = k.data() + (kvh - 1) * c.D;
  a.v = v.data() + (kvh - 1) * c.D;
  a.kv_stride = (int64_t)kvh * c.D;
  a.T = c.T;
  a.head_dim = c.D;
  a.causal_offset = c.offset;
  Partial ref(c.m, c.D);
  a.out_max = ref.max.data();
  a.out_sum = ref.sum.data();
  a.out_acc = ref.acc.data();
  attention_partial_f32_ref(a);
  test::for_each_isa([&](Isa isa) {
    Partial got(c.m, c.D);
    a.out_max = got.max.data();
    a.out_sum = got.sum.data();
    a.out_acc = got.acc.data();
    attention_partial_f32(a);
    EXPECT_TRUE(test::same_partial(got, ref, c.m, c.D, 1e-4f))
        << isa_name(isa) << " m " << c.m << " T " << c.T << " D " << c.D << " off " << c.offset;
  });
}

TEST(AttnF32Parity, CausalShapes) {
  for (int D : {64, 128})
    for (int T : {1, 17, 32, 100, 257})
      for (int m : {1, 3, 8, 9, 33}) {
        if (m <= T) run_case({m, T, D, T - m, 9});  // the m queries are the last m keys (prefill chunk)
        run_case({m, T, D, (int64_t)T + 4, 3});     // no mask
        run_case({m, T, D, 0, 1});                  // row i sees keys 0..i
        run_case({m, T, D, -5, 9});                 // the first rows see nothing
      }
}

TEST(AttnF32Parity, LongPrefill) {
  run_case({700, 700, 64, 0, 9});
  run_case({300, 1100, 128, 800, 3});
}

TEST(AttnF32Parity, OddHeadDimFallsBackToTheReference) {
  run_case({5, 40, 48, 35, 1});
  run_case({5, 40, 80, 35, 1});
}

}  // namespace
}  // namespace bp::kern
