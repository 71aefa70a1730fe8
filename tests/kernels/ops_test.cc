// Row operations: every SIMD op against its scalar twin over many lengths and
// misaligned pointers, and the scalar ops against double-precision formulas.
//
// Error bounds (relative to the scalar twin, per element unless stated):
//   rms_norm  4 ulp-ish: 1e-6 relative (same double sum, different order)
//   softmax   bit-identical (both mirror the reference's AVX-512 order and exp)
//   swiglu    bit-identical (same)
//   dot_f16_x4, dot_f16_x1, axpy_f16  bit-identical (same lanes, exact products)
//   axpy      exact up to FMA: 1e-6 relative to |a x| + |y|
//   add, scale exact
//   dot_f32   1e-5 * sum |x y| (f32 lanes vs sequential f32)
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/internal.h"
#include "kernels/kernels.h"
#include "kernels/ops.h"
#include "test_util.h"

namespace glint::kernels {
namespace {

using testing::OffsetBuffer;

const int64_t kLengths[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 100, 576, 1536, 4099};

std::vector<const OpsTable*> SimdOps() {
  std::vector<const OpsTable*> t;
  if (Avx2Ops() != nullptr) t.push_back(Avx2Ops());
  if (Avx512Ops() != nullptr) t.push_back(Avx512Ops());
  return t;
}

// n floats at a pointer `off` floats past a 64-byte boundary.
struct FloatBuf {
  FloatBuf(const std::vector<float>& v, size_t off) : buf(4 * v.size(), 4 * off) {
    if (!v.empty()) std::memcpy(buf.data(), v.data(), 4 * v.size());
  }
  float* p() { return buf.floats(); }
  OffsetBuffer buf;
};

std::vector<float> Normal(std::mt19937& rng, int64_t n, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

void ExpectClose(const float* got, const float* want, int64_t n, double rel, double abs,
                 const char* what) {
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_NEAR(got[i], want[i], rel * std::fabs(want[i]) + abs) << what << " i=" << i << " n=" << n;
  }
}

TEST(OpsTest, ScalarRmsNormMatchesFormula) {
  std::mt19937 rng(1);
  const std::vector<float> x = Normal(rng, 1000, 3.0f), w = Normal(rng, 1000);
  std::vector<float> y(1000);
  GenericOps().rms_norm(x.data(), w.data(), y.data(), 1000, 1e-6f);
  double ss = 0;
  for (float v : x) ss += static_cast<double>(v) * v;
  const double scale = 1.0 / std::sqrt(ss / 1000 + 1e-6);
  for (int i = 0; i < 1000; ++i) ASSERT_NEAR(y[i], x[i] * scale * w[i], 1e-5 * std::fabs(x[i] * scale * w[i]) + 1e-7);
}

TEST(OpsTest, ScalarSoftmaxSwigluMatchFormula) {
  std::mt19937 rng(2);
  std::vector<float> x = Normal(rng, 300, 5.0f);
  const std::vector<float> orig = x;
  GenericOps().softmax(x.data(), 300);
  double mx = -1e30, sum = 0;
  for (float v : orig) mx = std::max<double>(mx, v);
  for (float v : orig) sum += std::exp(v - mx);
  for (int i = 0; i < 300; ++i) ASSERT_NEAR(x[i], std::exp(orig[i] - mx) / sum, 1e-6 * x[i] + 1e-12);
  const std::vector<float> g = Normal(rng, 300, 4.0f), u = Normal(rng, 300);
  std::vector<float> out(300);
  GenericOps().swiglu(g.data(), u.data(), out.data(), 300);
  for (int i = 0; i < 300; ++i) {
    const double want = g[i] / (1 + std::exp(-static_cast<double>(g[i]))) * u[i];
    ASSERT_NEAR(out[i], want, 1e-6 * std::fabs(want) + 1e-12);
  }
}

TEST(OpsTest, SimdMatchesScalar) {
  std::mt19937 rng(3);
  for (const OpsTable* simd : SimdOps()) {
    const OpsTable& g = GenericOps();
    for (int64_t n : kLengths) {
      for (size_t off = 0; off < 8; off += 3) {
        const std::vector<float> x = Normal(rng, n, 2.0f), w = Normal(rng, n), z = Normal(rng, n);
        FloatBuf xb(x, off), wb(w, off + 1), ya(std::vector<float>(n), off + 2),
            yb(std::vector<float>(n), off + 5);

        g.rms_norm(xb.p(), wb.p(), ya.p(), n, 1e-5f);
        simd->rms_norm(xb.p(), wb.p(), yb.p(), n, 1e-5f);
        ExpectClose(yb.p(), ya.p(), n, 1e-6, 0, "rms_norm");
        g.rms_norm(xb.p(), nullptr, ya.p(), n, 1e-5f);
        simd->rms_norm(xb.p(), nullptr, yb.p(), n, 1e-5f);
        ExpectClose(yb.p(), ya.p(), n, 1e-6, 0, "rms_norm(no w)");

        std::vector<float> big = Normal(rng, n, 20.0f);
        if (n > 3) big[n / 2] = -INFINITY;  // masked attention logits
        FloatBuf sa(big, off), sb(big, off + 3);
        g.softmax(sa.p(), n);
        simd->softmax(sb.p(), n);
        ASSERT_EQ(std::memcmp(sa.p(), sb.p(), 4 * n), 0) << "softmax " << n;

        std::vector<float> gate = Normal(rng, n, 6.0f);
        // exp(-gate) past f32's normal range both ways, and past |n| > 192.
        const float extremes[] = {100.0f, -100.0f, 87.5f, -88.5f, 140.0f, -140.0f, 300.0f};
        for (size_t e = 0; e < std::size(extremes) && 2 * e + 1 < gate.size(); ++e) {
          gate[2 * e + 1] = extremes[e];
        }
        FloatBuf gb(gate, off + 1);
        g.swiglu(gb.p(), wb.p(), ya.p(), n);
        simd->swiglu(gb.p(), wb.p(), yb.p(), n);
        ASSERT_EQ(std::memcmp(ya.p(), yb.p(), 4 * n), 0) << "swiglu " << n;

        FloatBuf aa(z, off), ab(z, off + 4);
        g.axpy(0.37f, xb.p(), aa.p(), n);
        simd->axpy(0.37f, xb.p(), ab.p(), n);
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_NEAR(ab.p()[i], aa.p()[i], 1e-6 * (std::fabs(0.37f * x[i]) + std::fabs(z[i]))) << n;
        }

        FloatBuf da(z, off), db(z, off + 6);
        g.add(xb.p(), da.p(), n);
        simd->add(xb.p(), db.p(), n);
        ASSERT_EQ(std::memcmp(da.p(), db.p(), 4 * n), 0) << "add " << n;
        g.scale(da.p(), -1.7f, n);
        simd->scale(db.p(), -1.7f, n);
        ASSERT_EQ(std::memcmp(da.p(), db.p(), 4 * n), 0) << "scale " << n;

        double mag = 0;
        for (int64_t i = 0; i < n; ++i) mag += std::fabs(static_cast<double>(x[i]) * w[i]);
        ASSERT_NEAR(simd->dot_f32(xb.p(), wb.p(), n), g.dot_f32(xb.p(), wb.p(), n), 1e-5 * mag)
            << "dot " << n;
      }
    }
  }
}

// The reference's vector exp: close to exp everywhere it is finite, exact at
// 0, 0 below its range, +inf above; the SIMD twin agrees bit for bit through
// softmax and swiglu (which use it for every full group of 16).
TEST(OpsTest, ExpRefMatchesExp) {
  for (float x = -110.0f; x < 88.7f; x += 0.0137f) {
    const double want = std::exp(static_cast<double>(x));
    const float got = generic::ExpRef(x);
    if (want < 1e-37) continue;  // subnormal results: checked below
    ASSERT_NEAR(got, want, 3e-7 * want) << x;
  }
  EXPECT_EQ(generic::ExpRef(0.0f), 1.0f);
  EXPECT_EQ(generic::ExpRef(-INFINITY), 0.0f);
  EXPECT_EQ(generic::ExpRef(-200.0f), 0.0f);
  EXPECT_EQ(generic::ExpRef(200.0f), INFINITY);
  EXPECT_GT(generic::ExpRef(-100.0f), 0.0f);  // subnormal, not flushed
  for (const OpsTable* simd : SimdOps()) {
    // Groups of 16 spanning normal, subnormal, zero and overflowing results.
    std::vector<float> x;
    for (int i = 0; i < 256; ++i) x.push_back(-190.0f + 1.49f * static_cast<float>(i));
    std::vector<float> a = x, b = x;
    std::vector<float> up(x.size(), 1.0f), ya(x.size()), yb(x.size());
    GenericOps().swiglu(a.data(), up.data(), ya.data(), 256);
    simd->swiglu(b.data(), up.data(), yb.data(), 256);
    ASSERT_EQ(std::memcmp(ya.data(), yb.data(), 4 * 256), 0);
    GenericOps().softmax(a.data(), 256);
    simd->softmax(b.data(), 256);
    ASSERT_EQ(std::memcmp(a.data(), b.data(), 4 * 256), 0);
  }
}

TEST(OpsTest, F16DotsMatchScalarBitwise) {
  std::mt19937 rng(7);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (const OpsTable* simd : SimdOps()) {
    const OpsTable& g = GenericOps();
    for (int64_t n : {16, 32, 64, 80, 128, 256, 400, 1024}) {
      std::vector<uint16_t> x(n), y(n);
      for (int64_t i = 0; i < n; ++i) {
        x[i] = FloatToHalf(d(rng));
        y[i] = FloatToHalf(d(rng));
      }
      const float a4 = g.dot_f16_x4(x.data(), y.data(), n), b4 = simd->dot_f16_x4(x.data(), y.data(), n);
      ASSERT_EQ(std::memcmp(&a4, &b4, 4), 0) << "dot_f16_x4 " << n;
      const float a1 = g.dot_f16_x1(x.data(), y.data(), n), b1 = simd->dot_f16_x1(x.data(), y.data(), n);
      ASSERT_EQ(std::memcmp(&a1, &b1, 4), 0) << "dot_f16_x1 " << n;
      double want = 0, mag = 0;
      for (int64_t i = 0; i < n; ++i) {
        want += static_cast<double>(HalfToFloat(x[i])) * HalfToFloat(y[i]);
        mag += std::fabs(static_cast<double>(HalfToFloat(x[i])) * HalfToFloat(y[i]));
      }
      ASSERT_NEAR(a4, want, 1e-6 * mag);
      ASSERT_NEAR(a1, want, 1e-6 * mag);
      std::vector<float> ya = Normal(rng, n), yb = ya;
      g.axpy_f16(0.3f, x.data(), ya.data(), n);
      simd->axpy_f16(0.3f, x.data(), yb.data(), n);
      ASSERT_EQ(std::memcmp(ya.data(), yb.data(), 4 * n), 0) << "axpy_f16 " << n;
    }
  }
}

// The many-row attention kernels against the single-row ops they stand
// for (scores: dot_f16_x1 per key and query; weighted sums: axpy_f16 per
// position into its slot), bit for bit, in every table.
TEST(OpsTest, AttentionRowKernelsEqualTheSingleRowOps) {
  std::mt19937 rng(11);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<const OpsTable*> tables = SimdOps();
  tables.push_back(&GenericOps());
  for (const OpsTable* ops : tables) {
    for (int64_t hd : {16, 64, 128, 192}) {
      for (int32_t n_q : {1, 2, 3, 4, 6, 7}) {
        const int32_t n_keys = 37;
        const int64_t k_stride = 3 * hd + 16;  // rows of several heads
        std::vector<uint16_t> k(n_keys * k_stride), qh(n_q * hd);
        for (auto& h : k) h = FloatToHalf(d(rng));
        std::vector<float> q(n_q * hd);
        for (int64_t i = 0; i < n_q * hd; ++i) {
          qh[i] = FloatToHalf(d(rng));
          q[i] = HalfToFloat(qh[i]);
        }
        const int64_t out_stride = n_keys + 5;
        std::vector<float> out(n_q * out_stride, -1.0f);
        // Both orders: x1 for any hd here, x4 for multiples of 64.
        for (bool x4 : {false, true}) {
          if (x4 && hd % 64 != 0) continue;
          std::fill(out.begin(), out.end(), -1.0f);
          (x4 ? ops->scores_f16_x4 : ops->scores_f16_x1)(k.data() + hd, k_stride, n_keys, q.data(),
                                                         n_q, hd, 0.125f, out.data(), out_stride);
          const auto dot = x4 ? ops->dot_f16_x4 : ops->dot_f16_x1;
          for (int32_t g = 0; g < n_q; ++g) {
            for (int32_t j = 0; j < n_keys; ++j) {
              const float want = dot(k.data() + hd + j * k_stride, qh.data() + g * hd, hd) * 0.125f;
              ASSERT_EQ(std::memcmp(&out[g * out_stride + j], &want, 4), 0)
                  << ops->isa << (x4 ? " x4" : " x1") << " hd=" << hd << " n_q=" << n_q
                  << " g=" << g << " j=" << j;
            }
            for (int32_t j = n_keys; j < out_stride; ++j) ASSERT_EQ(out[g * out_stride + j], -1.0f);
          }
        }
      }
    }
    for (int32_t n_g : {1, 2, 3, 5, 6, 7, 13}) {
      for (int32_t slots : {1, 16, 64}) {
        for (int64_t len : {8, 13, 24, 64, 72, 128}) {
          for (int32_t n_pos : {1, 17, 100}) {
            const int64_t v_stride = len + 40, acc_stride = len + 3, p_stride = n_pos + 2;
            const int64_t acc_g_stride = slots * acc_stride + 5;
            std::vector<uint16_t> v(n_pos * v_stride);
            for (auto& h : v) h = FloatToHalf(d(rng));
            std::vector<float> p(n_g * p_stride);
            for (auto& x : p) x = HalfToFloat(FloatToHalf(std::fabs(d(rng)) / 4));
            std::vector<float> got(n_g * acc_g_stride), want;
            for (auto& x : got) x = d(rng);
            want = got;  // rows from n_pos on keep these
            ops->weighted_sum_f16(v.data(), v_stride, n_pos, p.data(), p_stride, n_g, slots,
                                  got.data(), acc_g_stride, acc_stride, len);
            for (int32_t g = 0; g < n_g; ++g) {
              for (int32_t r = 0; r < slots && r < n_pos; ++r) {
                std::fill_n(want.data() + g * acc_g_stride + r * acc_stride, len, 0.0f);
              }
            }
            for (int32_t j = 0; j < n_pos; ++j) {
              for (int32_t g = 0; g < n_g; ++g) {
                ops->axpy_f16(p[g * p_stride + j], v.data() + j * v_stride,
                              want.data() + g * acc_g_stride + (j % slots) * acc_stride, len);
              }
            }
            ASSERT_EQ(std::memcmp(got.data(), want.data(), 4 * got.size()), 0)
                << ops->isa << " n_g=" << n_g << " slots=" << slots << " len=" << len
                << " n_pos=" << n_pos;
          }
        }
      }
    }
  }
}

// The slots' reduction equals the chain of row additions it replaces (the
// order of the F16 dot products' lanes), with rows from n_live on as +0:
// bit for bit, signed zeros included.
TEST(OpsTest, SumSlotsEqualsRowAdditions) {
  std::mt19937 rng(29);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (const OpsTable* ops : {&GenericOps(), &ActiveOps()}) {
    for (int32_t slots : {16, 64}) {
      for (int32_t n_live : {1, 3, 16, 40, 64}) {
        if (n_live > slots) continue;
        for (int64_t len : {1, 8, 13, 64, 72}) {
          const int64_t stride = len + 5;
          std::vector<float> acc(slots * stride);
          for (auto& x : acc) x = rng() % 5 == 0 ? (rng() % 2 ? 0.0f : -0.0f) : d(rng);
          std::vector<float> rows = acc;
          for (int32_t r = n_live; r < slots; ++r) std::fill_n(rows.data() + r * stride, len, 0.0f);
          auto r = [&](int32_t i) { return rows.data() + i * stride; };
          if (slots == 64) {
            for (int32_t l = 0; l < 16; ++l) {
              ops->add(r(32 + l), r(l), len);
              ops->add(r(48 + l), r(16 + l), len);
              ops->add(r(16 + l), r(l), len);
            }
          }
          for (int32_t w = 8; w >= 1; w /= 2) {
            for (int32_t l = 0; l < w; ++l) ops->add(r(l + w), r(l), len);
          }
          std::vector<float> got(len + 1, 7.0f);
          ops->sum_slots(acc.data(), stride, slots, n_live, len, got.data());
          ASSERT_EQ(std::memcmp(got.data(), r(0), 4 * len), 0)
              << ops->isa << " slots=" << slots << " n_live=" << n_live << " len=" << len;
          ASSERT_EQ(got[len], 7.0f);
        }
      }
    }
  }
}

// The slots weighted and reduced in one pass equal weighted_sum_f16's rows
// reduced by sum_slots, bit for bit: weights of zero and V values of both
// signed zeros and of both signs (products of -0) included, contexts
// shorter and longer than the slots.
TEST(OpsTest, WeightedSlotsEqualWeightedRowsThenSumSlots) {
  std::mt19937 rng(31);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<const OpsTable*> tables = SimdOps();
  tables.push_back(&GenericOps());
  int checked = 0;
  for (const OpsTable* ops : tables) {
    for (int32_t slots : {16, 64}) {
      for (int32_t n_pos : {1, 2, 5, 16, 17, 33, 63, 64, 65, 130}) {
        for (int64_t len : {8, 13, 24, 29, 64, 128}) {
          for (int32_t n_g : {1, 3}) {
            const int64_t v_stride = len + 24, p_stride = n_pos + 3, out_stride = len + 5;
            std::vector<uint16_t> v(n_pos * v_stride);
            for (auto& h : v) {
              const int kind = static_cast<int>(rng() % 8);
              h = FloatToHalf(kind == 0 ? 0.0f : kind == 1 ? -0.0f : d(rng));
            }
            std::vector<float> p(n_g * p_stride);
            for (auto& x : p) {
              x = rng() % 4 == 0 ? 0.0f : HalfToFloat(FloatToHalf(std::fabs(d(rng)) / 4));
            }
            // All-zero weights for one query: every product a signed zero.
            if (n_g > 1) std::fill_n(p.data() + p_stride, n_pos, 0.0f);
            std::vector<float> want(n_g * out_stride, 7.0f), got = want;
            std::vector<float> acc(slots * len);
            for (int32_t g = 0; g < n_g; ++g) {
              ops->weighted_sum_f16(v.data(), v_stride, n_pos, p.data() + g * p_stride, 0, 1,
                                    slots, acc.data(), 0, len, len);
              ops->sum_slots(acc.data(), len, slots, std::min(n_pos, slots), len,
                             want.data() + g * out_stride);
            }
            ops->weighted_slots_f16(v.data(), v_stride, n_pos, p.data(), p_stride, n_g, slots,
                                    got.data(), out_stride, len);
            ASSERT_EQ(std::memcmp(got.data(), want.data(), 4 * got.size()), 0)
                << ops->isa << " slots=" << slots << " n_pos=" << n_pos << " len=" << len
                << " n_g=" << n_g;
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 0);
}

// The SIMD rotation equals the generic one (the reference's contraction)
// bit for bit, for both pairings and rotations of part of a head.
TEST(OpsTest, RopeMatchesGeneric) {
  std::mt19937 rng(31);
  std::normal_distribution<float> d(0.0f, 2.0f);
  for (bool adjacent : {false, true}) {
    for (int64_t head_dim : {64, 128, 40}) {
      for (int32_t n_rot : {static_cast<int32_t>(head_dim), 32, 18}) {
        const int32_t n_heads = 3;
        std::vector<float> x(n_heads * head_dim), cos(n_rot / 2), sin(n_rot / 2);
        for (auto& v : x) v = d(rng);
        for (int32_t i = 0; i < n_rot / 2; ++i) {
          const float theta = d(rng) * 100.0f;
          cos[i] = std::cos(theta);
          sin[i] = std::sin(theta);
        }
        std::vector<float> want = x, got = x;
        GenericOps().rope(want.data(), n_heads, head_dim, n_rot, adjacent, cos.data(), sin.data());
        ActiveOps().rope(got.data(), n_heads, head_dim, n_rot, adjacent, cos.data(), sin.data());
        ASSERT_EQ(std::memcmp(got.data(), want.data(), 4 * got.size()), 0)
            << ActiveOps().isa << " adjacent=" << adjacent << " head_dim=" << head_dim
            << " n_rot=" << n_rot;
        ASSERT_NE(std::memcmp(got.data(), x.data(), 4 * got.size()), 0);
      }
    }
  }
}

TEST(OpsTest, ExtremeInputs) {
  for (const OpsTable* ops : {&GenericOps(), &ActiveOps()}) {
    // softmax of equal values is uniform; of huge spreads, one-hot.
    std::vector<float> x(37, 3.0f);
    ops->softmax(x.data(), 37);
    for (float v : x) ASSERT_NEAR(v, 1.0f / 37, 1e-7);
    std::vector<float> y(20, -1e30f);
    y[13] = 1e30f;
    ops->softmax(y.data(), 20);
    for (int i = 0; i < 20; ++i) ASSERT_EQ(y[i], i == 13 ? 1.0f : 0.0f) << ops->isa;
    // silu saturates: large negative gate -> 0, large positive -> gate * up.
    std::vector<float> g = {-200, -90, 90, 200, 0, 0, 0, 0, -200}, u(9, 2.0f), out(9);
    ops->swiglu(g.data(), u.data(), out.data(), 9);
    ASSERT_NEAR(out[0], 0.0f, 1e-30);
    ASSERT_NEAR(out[2], 180.0f, 1e-4);
    ASSERT_NEAR(out[3], 400.0f, 1e-4);
    ASSERT_EQ(out[4], 0.0f);
    ASSERT_NEAR(out[8], 0.0f, 1e-30);
    // rms_norm of zeros is zeros (eps keeps it finite).
    std::vector<float> z(24, 0.0f), zo(24, 1.0f);
    ops->rms_norm(z.data(), nullptr, zo.data(), 24, 1e-6f);
    for (float v : zo) ASSERT_EQ(v, 0.0f);
  }
}

}  // namespace
}  // namespace glint::kernels
