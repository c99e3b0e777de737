// The shared KV storage blocks (harness/runtime/kv/): TokenStore in every format, its compaction and byte counts,
// and SplitKv's mixed packed/FP16 runs, each against definition-level references (test_support.h).
#include <gtest/gtest.h>

#include <random>

#include "harness/common/error.h"
#include "harness/runtime/kv/split_kv.h"
#include "harness/runtime/kv/storage_param.h"
#include "tests/common/kv/test_support.h"
#include "harness/runtime/kv/token_store.h"

namespace bp::rt::kv {
namespace {

using testing::f16;
using testing::ref_quant_group;

constexpr int D = 64;

std::vector<float> random_rows(int n, std::mt19937& rng, bool outliers) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x((size_t)n * D);
  for (size_t i = 0; i < x.size(); ++i) x[i] = nd(rng) * (outliers && i % D == 7 ? 8.0f : 1.0f);
  return x;
}

// Per-token reference: each group of G channels of each row quantized by the definition (or FP16-rounded).
std::vector<float> ref_per_token(const std::vector<float>& x, const TokenFormat& f) {
  std::vector<float> r(x.size());
  const int G = f.group ? f.group : D;
  for (size_t t = 0; t < x.size() / D; ++t)
    for (int g0 = 0; g0 < D; g0 += G) {
      if (!f.packed()) {
        for (int d = g0; d < g0 + G; ++d) r[t * D + d] = f16(x[t * D + d]);
      } else {
        ref_quant_group(x.data() + t * D + g0, G, 1, f.bits, f.symmetric, r.data() + t * D + g0, 1);
      }
    }
  return r;
}

void expect_close(const std::vector<float>& a, const std::vector<float>& b, double tol, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs((double)a[i] - b[i]));
  EXPECT_LE(worst, tol) << what;
}

// Partial state of rows q over (k, v) in double, returned as the normalized output.
std::vector<double> ref_attend(const std::vector<float>& q, int m, const std::vector<float>& k,
                               const std::vector<float>& v) {
  const int64_t T = (int64_t)k.size() / D;
  std::vector<double> out((size_t)m * D, 0.0);
  for (int i = 0; i < m; ++i) {
    std::vector<double> s(T);
    double mx = -1e300;
    for (int64_t t = 0; t < T; ++t) {
      double dot = 0;
      for (int d = 0; d < D; ++d) dot += (double)q[i * D + d] * k[t * D + d];
      mx = std::max(mx, s[t] = dot);
    }
    double sum = 0;
    for (double& x : s) sum += (x = std::exp(x - mx));
    for (int64_t t = 0; t < T; ++t)
      for (int d = 0; d < D; ++d) out[(size_t)i * D + d] += s[t] / sum * v[t * D + d];
  }
  return out;
}

std::vector<float> normalized(int m, const std::vector<float>& sum, const std::vector<float>& acc) {
  std::vector<float> o(acc.size());
  for (int i = 0; i < m; ++i)
    for (int d = 0; d < D; ++d) o[(size_t)i * D + d] = acc[(size_t)i * D + d] / sum[i];
  return o;
}

const TokenFormat kFormats[] = {TokenFormat::fp16(), TokenFormat::quantized(8, 0, true),
                                TokenFormat::quantized(8, 32, false), TokenFormat::quantized(4, 0, false),
                                TokenFormat::quantized(4, 32, true), TokenFormat::quantized(2, 16, false)};

TEST(TokenStore, ReadAttendScoresMatchTheDefinition) {
  for (const TokenFormat& f : kFormats) {
    std::mt19937 rng(7);
    TokenStore st(D, f);
    const std::vector<float> k = random_rows(150, rng, true), v = random_rows(150, rng, false);
    st.append(k.data(), v.data(), D, 40);  // several appends: a key tile boundary falls inside the second
    st.append(k.data() + 40 * D, v.data() + 40 * D, D, 100);
    st.append(k.data() + 140 * D, v.data() + 140 * D, D, 10);
    ASSERT_EQ(st.size(), 150);
    std::vector<float> kr(k.size()), vr(v.size());
    st.read(0, 150, kr.data(), vr.data(), D);
    expect_close(kr, ref_per_token(k, f), 1e-6, f.label() + " keys");
    expect_close(vr, ref_per_token(v, f), 1e-6, f.label() + " values");

    const int m = 3;
    const std::vector<float> q = random_rows(m, rng, false);
    std::vector<float> mx(m), sm(m), acc((size_t)m * D);
    st.attend(q.data(), m, mx.data(), sm.data(), acc.data());
    const std::vector<double> want = ref_attend(q, m, kr, vr);
    const std::vector<float> got = normalized(m, sm, acc);
    EXPECT_LE(testing::max_abs_diff(got, want), 5e-5) << f.label();

    std::vector<float> sc((size_t)m * 150);
    st.scores(q.data(), m, sc.data(), 150);
    for (int i = 0; i < m; ++i)
      for (int t = 0; t < 150; t += 7) {
        double dot = 0;
        for (int d = 0; d < D; ++d) dot += (double)q[i * D + d] * kr[t * D + d];
        EXPECT_NEAR(sc[i * 150 + t], dot, 1e-3) << f.label();
      }
  }
}

TEST(TokenStore, CompactionAndOverwriteAreLossless) {
  for (const TokenFormat& f : kFormats) {
    std::mt19937 rng(11);
    TokenStore st(D, f);
    const int T = 200;
    const std::vector<float> k = random_rows(T, rng, true), v = random_rows(T, rng, false);
    st.append(k.data(), v.data(), D, T);
    std::vector<float> k0((size_t)T * D), v0((size_t)T * D);
    st.read(0, T, k0.data(), v0.data(), D);

    std::vector<int32_t> keep;
    for (int t = 0; t < T; ++t)
      if (t % 3 != 1 && t != 64 && t != 65) keep.push_back(t);
    st.keep(keep);
    ASSERT_EQ(st.size(), (int64_t)keep.size());
    std::vector<float> k1(keep.size() * D), v1(keep.size() * D);
    st.read(0, (int64_t)keep.size(), k1.data(), v1.data(), D);
    for (size_t j = 0; j < keep.size(); ++j)
      for (int d = 0; d < D; ++d) {
        ASSERT_EQ(k1[j * D + d], k0[(size_t)keep[j] * D + d]) << f.label() << " kept token " << j;
        ASSERT_EQ(v1[j * D + d], v0[(size_t)keep[j] * D + d]) << f.label() << " kept token " << j;
      }

    // remove() is the complement of keep(); erase_front() drops the oldest.
    st.remove({0, 5, (int32_t)keep.size() - 1});
    st.erase_front(10);
    const int64_t n = st.size();
    ASSERT_EQ(n, (int64_t)keep.size() - 3 - 10);
    std::vector<float> k2((size_t)n * D);
    st.read(0, n, k2.data(), nullptr, D);
    // Left after remove: entries 1-4, 6, 7, ...; erase_front(10) drops 1-4 and 6-11, so token 0 is entry 12.
    for (int d = 0; d < D; ++d) ASSERT_EQ(k2[d], k0[(size_t)keep[12] * D + d]) << f.label();

    // overwrite(t) stores exactly what appending that row would.
    st.overwrite(3, k.data() + 7 * D, v.data() + 7 * D);
    std::vector<float> k3(D), v3(D);
    st.read(3, 1, k3.data(), v3.data(), D);
    for (int d = 0; d < D; ++d) {
      ASSERT_EQ(k3[d], k0[7 * D + d]) << f.label();
      ASSERT_EQ(v3[d], v0[7 * D + d]) << f.label();
    }
  }
}

TEST(TokenStore, BytesCountHeldTokensByCategory) {
  std::mt19937 rng(3);
  const std::vector<float> x = random_rows(100, rng, false);
  {  // FP16: 2 sides · T · D · 2.
    TokenStore st(D, TokenFormat::fp16());
    st.append(x.data(), x.data(), D, 100);
    EXPECT_EQ(st.bytes().payload, 2u * 100 * 64 * 2);
    EXPECT_EQ(st.bytes().total(), 25600u);
  }
  {  // int4, group 32, asymmetric, 100 tokens: keys 2 tiles · 64 · 64 / 2 = 4096 code bytes, stats 2 tiles · 2
     // groups · 64 = 256 (512 B scales, 512 B mins); values 100 · 32 = 3200 code bytes, 200 stats (400 + 400 B).
    TokenStore st(D, TokenFormat::quantized(4, 32, false));
    st.append(x.data(), x.data(), D, 100);
    const KvBytes b = st.bytes();
    EXPECT_EQ(b.payload, 4096u + 3200u);
    EXPECT_EQ(b.scales, 512u + 400u);
    EXPECT_EQ(b.zeros, 512u + 400u);
    EXPECT_EQ(b.window, 0u);
    // Compaction to 64 tokens: one key tile.
    std::vector<int32_t> keep(64);
    for (int i = 0; i < 64; ++i) keep[i] = 36 + i;
    st.keep(keep);
    EXPECT_EQ(st.bytes().payload, 2048u + 2048u);
    EXPECT_EQ(st.bytes().scales, 256u + 256u);
  }
  {  // int8 symmetric whole-head (kv-int8): no mins; 128 tokens = 2 full tiles: 128 · (64 + 2) per side.
    TokenStore st(D, TokenFormat::quantized(8, 0, true));
    st.append(x.data(), x.data(), D, 100);
    st.append(x.data(), x.data(), D, 28);
    EXPECT_EQ(st.bytes().total(), 2u * 128 * 66);
    EXPECT_EQ(st.bytes().zeros, 0u);
  }
}

TEST(TokenStore, RejectsUnusableFormats) {
  EXPECT_THROW(TokenStore(D, TokenFormat::quantized(3)), std::invalid_argument);
  EXPECT_THROW(TokenStore(D, TokenFormat::quantized(4, 128)), std::invalid_argument);  // 128 does not divide 64
  EXPECT_THROW(TokenStore(D, TokenFormat::quantized(4, 24)), std::invalid_argument);
  EXPECT_EQ(TokenFormat::quantized(2, 32, true).label(), "int2-g32-sym");
}

// SplitKv with KIVI-like sides: keys per-channel groups of 32 tokens, values per-token groups of 32 channels; the
// two sides split at different tokens, so one run has packed keys and FP16 values.
TEST(SplitKv, MixedRunsMatchTheDefinition) {
  kern::KvLayout kl{kern::KvRole::Keys, D, 2, kern::KvAxis::PerChannel, 32, false, false};
  kern::KvLayout vl{kern::KvRole::Values, D, 2, kern::KvAxis::PerToken, 32, false, false};
  SplitKv s(kl, vl);
  std::mt19937 rng(5);
  const int T = 150;
  const std::vector<float> k = random_rows(T, rng, true), v = random_rows(T, rng, false);
  s.append(k.data(), v.data(), D, T);
  s.keys().flush(128);
  s.values().flush(22);
  EXPECT_THROW(s.keys().flush(5), std::invalid_argument);  // per-channel groups are quantized whole
  ASSERT_EQ(s.keys().packed(), 128);
  ASSERT_EQ(s.values().packed(), 22);
  // Reference: FP16-rounded rows, keys [0,128) per channel in groups of 32 tokens, values [0,22) per token.
  std::vector<float> kr(k.size()), vr(v.size());
  for (size_t i = 0; i < k.size(); ++i) {
    kr[i] = f16(k[i]);
    vr[i] = f16(v[i]);
  }
  std::vector<float> kh = kr, vh = vr;
  for (int g = 0; g < 128; g += 32)
    for (int d = 0; d < D; ++d) ref_quant_group(kh.data() + g * D + d, 32, D, 2, false, kr.data() + g * D + d, D);
  for (int t = 0; t < 22; ++t)
    for (int g0 = 0; g0 < D; g0 += 32) ref_quant_group(vh.data() + t * D + g0, 32, 1, 2, false, vr.data() + t * D + g0, 1);
  const int m = 4;
  const std::vector<float> q = random_rows(m, rng, false);
  std::vector<float> mx(m), sm(m), acc((size_t)m * D);
  s.attend(q.data(), m, mx.data(), sm.data(), acc.data());
  EXPECT_LE(testing::max_abs_diff(normalized(m, sm, acc), ref_attend(q, m, kr, vr)), 5e-5);
  std::vector<float> sc((size_t)m * T);
  s.scores(q.data(), m, sc.data(), T);
  for (int t = 0; t < T; t += 5) {
    double dot = 0;
    for (int d = 0; d < D; ++d) dot += (double)q[d] * kr[t * D + d];
    EXPECT_NEAR(sc[t], dot, 1e-3) << "token " << t;
  }
  // Bytes: keys 2 tiles of 2-bit codes (2 · 64 · 64 / 4 = 2048) + 4 groups · 64 channels · (2 + 2) B; values
  // 22 · 16 code bytes + 22 · 2 groups · 4 B; FP16 rows: (150 - 128) keys + (150 - 22) values, 128 B each.
  const KvBytes b = s.bytes();
  EXPECT_EQ(b.payload, 2048u + 22u * 16);
  EXPECT_EQ(b.scales, 4u * 64 * 2 + 22u * 2 * 2);
  EXPECT_EQ(b.zeros, b.scales);
  EXPECT_EQ(b.window, (22u + 128u) * 128);
}

// The `storage` parameters eviction methods expose.
TEST(StorageParam, SchemaValidationAndFormat) {
  ParamSchema schema;
  add_storage_params(schema);
  auto params = [&](const nlohmann::json& j) {
    Params p(schema.canonicalize(j, "suite.json", "/methods/2/params"));
    validate_storage_params(p, "suite.json", "/methods/2");
    return p;
  };
  EXPECT_EQ(storage_format(params(nlohmann::json::object()), D).label(), "fp16");
  EXPECT_EQ(storage_format(params({{"storage", "int4"}}), D).label(), "int4-g32");
  const TokenFormat f = storage_format(params({{"storage", "int2"}, {"storage_group", 0}, {"storage_symmetric", true}}), D);
  EXPECT_EQ(f.bits, 2);
  EXPECT_EQ(f.group, 0);
  EXPECT_TRUE(f.symmetric);
  try {
    params({{"storage_group", 64}});
    FAIL() << "a group with fp16 storage changes nothing and must be rejected";
  } catch (const InputError& e) {
    EXPECT_EQ(e.pointer(), "/methods/2/params/storage_group");
  }
  EXPECT_THROW(params({{"storage_symmetric", true}}), InputError);
  EXPECT_THROW(params({{"storage", "int3"}}), InputError);
  EXPECT_THROW(storage_format(params({{"storage", "int8"}, {"storage_group", 128}}), D), InputError);
}

}  // namespace
}  // namespace bp::rt::kv
