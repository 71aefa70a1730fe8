// The four-token dot products (TypeKernels::vec_dot_x4, vec_dot_batched_x4)
// against their scalar twins, the single-token kernels of the generic table
// applied token by token: bit for bit, over many lengths, mixed activation
// fills, padded activation strides and misaligned pointers.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/kernels.h"
#include "kernels/matmul.h"
#include "test_util.h"

namespace glint::kernels {
namespace {

using testing::Fill;
using testing::OffsetBuffer;
using testing::RandomFloats;
using testing::RandomWeights;

std::vector<int64_t> Sizes(DType t) {
  if (GetDTypeInfo(t).block_size == 256) return {256, 512, 1536, 2304, 8960};
  return {32, 64, 96, 160, 576, 1536, 3072};
}

class VecDotX4Test : public ::testing::TestWithParam<DType> {};

TEST_P(VecDotX4Test, BitIdenticalToScalarPerToken) {
  const DType t = GetParam();
  const KernelTable& g = GenericKernels();
  const DType at = g[t].vec_dot_type;
  std::mt19937 rng(53);
  int checked = 0;
  for (const KernelTable* simd : testing::SimdTables()) {
    const TypeKernels& k = (*simd)[t];
    // Each four-token kernel with the scalar order it must reproduce.
    const std::pair<VecDotX4Fn, VecDotFn> pairs[] = {
        {k.vec_dot_x4, g[t].vec_dot},
        {k.vec_dot_batched_x4, g[t].vec_dot_batched},
    };
    for (const auto& [x4, scalar] : pairs) {
      if (x4 == nullptr) continue;
      ASSERT_NE(scalar, nullptr) << simd->isa << " " << DTypeName(t);
      for (int64_t n : Sizes(t)) {
        const size_t arow = RowBytes(at, n);
        for (size_t pad : {size_t{0}, testing::RowAlignment(at) * 3}) {
          const size_t stride = arow + pad;
          const std::vector<uint8_t> w = RandomWeights(rng, t, n);
          OffsetBuffer wb(w.size(), testing::RowAlignment(t) * (n % 8));
          std::memcpy(wb.data(), w.data(), w.size());
          OffsetBuffer ab(4 * stride, testing::RowAlignment(at) * ((n / 32 + pad) % 8));
          const Fill fills[4] = {Fill::kNormal, Fill::kWithZeros, Fill::kExtremes,
                                 pad == 0 ? Fill::kAllZero : Fill::kNormal};
          for (int j = 0; j < 4; ++j) {
            const std::vector<float> x = RandomFloats(rng, n, fills[j]);
            g[at].quantize(x.data(), ab.data() + j * stride, n);
          }
          float out[4];
          x4(n, wb.data(), ab.data(), stride, out);
          for (int j = 0; j < 4; ++j) {
            const float want = scalar(n, wb.data(), ab.data() + j * stride);
            ASSERT_EQ(std::memcmp(&out[j], &want, 4), 0)
                << simd->isa << " " << DTypeName(t) << " n=" << n << " token " << j << ": "
                << out[j] << " vs " << want;
          }
          ++checked;
        }
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no four-token kernel for " << DTypeName(t);
}

// The up-to-eight-token kernels (vec_dot_x8), given float block scales,
// against their own table's single-token kernel (the one decoding uses),
// token by token.
TEST_P(VecDotX4Test, EightTokenKernelBitIdenticalPerToken) {
  const DType t = GetParam();
  const KernelTable& g = GenericKernels();
  const DType at = g[t].vec_dot_type;
  std::mt19937 rng(59);
  int checked = 0;
  for (const KernelTable* simd : testing::SimdTables()) {
    const VecDotX8Fn x8 = (*simd)[t].vec_dot_x8;
    if (x8 == nullptr) continue;
    ASSERT_TRUE(at == DType::kQ8_0 || at == DType::kQ8_1 || at == DType::kQ8_K) << DTypeName(at);
    const size_t block_bytes = GetDTypeInfo(at).block_bytes;
    for (int64_t n : Sizes(t)) {
      const int64_t nb = n / GetDTypeInfo(at).block_size;
      const size_t stride = RowBytes(at, n) + testing::RowAlignment(at);
      const std::vector<uint8_t> w = RandomWeights(rng, t, n);
      for (int n_tokens = 1; n_tokens <= 8; ++n_tokens) {
        OffsetBuffer ab(8 * stride, testing::RowAlignment(at) * (n_tokens % 4));
        const size_t sstride = 16;
        std::vector<float> scales(2 * nb * sstride, 1e30f);  // unused entries: poison
        for (int j = 0; j < n_tokens; ++j) {
          const Fill fill = j % 4 == 1 ? Fill::kExtremes : j % 4 == 3 ? Fill::kWithZeros
                                                                      : Fill::kNormal;
          const std::vector<float> x = RandomFloats(rng, n, fill);
          g[at].quantize(x.data(), ab.data() + j * stride, n);
          for (int64_t i = 0; at != DType::kQ8_K && i < nb; ++i) {
            uint16_t h[2];
            std::memcpy(h, ab.data() + j * stride + i * block_bytes, sizeof(h));
            scales[2 * i * sstride + j] = HalfToFloat(h[0]);
            scales[(2 * i + 1) * sstride + j] = at == DType::kQ8_1 ? HalfToFloat(h[1]) : 0.0f;
          }
        }
        float out[8];
        x8(n, w.data(), ab.data(), stride, scales.data(), sstride, n_tokens, out);
        for (int j = 0; j < n_tokens; ++j) {
          const float want = (*simd)[t].vec_dot(n, w.data(), ab.data() + j * stride);
          ASSERT_EQ(std::memcmp(&out[j], &want, 4), 0)
              << simd->isa << " " << DTypeName(t) << " n=" << n << " tokens=" << n_tokens
              << " token " << j << ": " << out[j] << " vs " << want;
        }
        ++checked;
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no eight-token kernel for " << DTypeName(t);
}

INSTANTIATE_TEST_SUITE_P(AllWeightTypes, VecDotX4Test, ::testing::ValuesIn(testing::WeightTypes()),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

// An eight-row layout with kernels in the batched order: repacked per
// prompt chunk (rows8_*) or packed at load (packed8_*).
struct Rows8Layout {
  const char* name;
  RepackRows8Fn repack;
  size_t block_bytes;
  VecDotRows8Fn dot;
  VecDotRows8X2Fn dot_x2;
  VecDotRows8X2Fn dot_x4 = nullptr;
};

std::vector<Rows8Layout> Rows8Layouts(const TypeKernels& k) {
  std::vector<Rows8Layout> v;
  if (k.rows8_repack != nullptr) {
    v.push_back({"rows8", k.rows8_repack, k.rows8_block_bytes, k.rows8_dot_batched,
                 k.rows8_dot_batched_x2});
  }
  if (k.packed8_dot_batched != nullptr) {
    v.push_back({"packed8", k.packed8_repack, k.packed8_block_bytes, k.packed8_dot_batched,
                 k.packed8_dot_batched_x2, k.packed8_dot_batched_x4});
  }
  return v;
}

// The eight-row kernels (rows8_repack + rows8_dot_batched) against the
// scalar batched order applied row by row.
TEST_P(VecDotX4Test, Rows8BitIdenticalToScalarPerRow) {
  const DType t = GetParam();
  const KernelTable& g = GenericKernels();
  const DType at = g[t].vec_dot_type;
  std::mt19937 rng(59);
  int checked = 0;
  for (const KernelTable* simd : testing::SimdTables()) {
    for (const Rows8Layout& k : Rows8Layouts((*simd)[t])) {
      ASSERT_NE(k.repack, nullptr);
      ASSERT_NE(k.dot, nullptr);
      ASSERT_NE(g[t].vec_dot_batched, nullptr);
      for (int64_t n : Sizes(t)) {
        const size_t row = RowBytes(t, n);
        for (size_t pad : {size_t{0}, size_t{6}}) {
          const size_t stride = row + pad;
          OffsetBuffer wb(8 * stride, testing::RowAlignment(t) * (n % 8));
          for (int r = 0; r < 8; ++r) {
            const std::vector<uint8_t> w = RandomWeights(rng, t, n);
            std::memcpy(wb.data() + r * stride, w.data(), w.size());
          }
          std::vector<uint8_t> packed(static_cast<size_t>(n / GetDTypeInfo(t).block_size) *
                                      k.block_bytes);
          k.repack(n, wb.data(), stride, packed.data());
          for (Fill fill : {Fill::kNormal, Fill::kWithZeros, Fill::kExtremes, Fill::kAllZero}) {
            const std::vector<float> x = RandomFloats(rng, n, fill);
            OffsetBuffer ab(RowBytes(at, n), testing::RowAlignment(at) * (n % 5));
            g[at].quantize(x.data(), ab.data(), n);
            // In one call, and in two (the first block, then the rest).
            float whole[16] = {}, split[16] = {};
            k.dot(n, packed.data(), ab.data(), whole);
            const int64_t bs = GetDTypeInfo(t).block_size;
            k.dot(bs, packed.data(), ab.data(), split);
            if (n > bs) {
              k.dot(n - bs, packed.data() + k.block_bytes,
                                  ab.data() + GetDTypeInfo(at).block_bytes, split);
            }
            for (int r = 0; r < 8; ++r) {
              const float want = g[t].vec_dot_batched(n, wb.data() + r * stride, ab.data());
              for (const float* st : {whole, split}) {
                const float got = st[r] - st[8 + r];
                ASSERT_EQ(std::memcmp(&got, &want, 4), 0)
                    << simd->isa << " " << k.name << " " << DTypeName(t) << " n=" << n
                    << " row " << r << ": "
                    << got << " vs " << want << (st == split ? " (split)" : "");
              }
            }
            ++checked;
          }
        }
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no eight-row kernel for " << DTypeName(t);
}

// The two- and four-token eight-row kernels (*_dot_batched_x2, _x4), in
// one call and in two, against the scalar batched order per row and token.
TEST_P(VecDotX4Test, Rows8ManyTokenKernelsBitIdenticalPerToken) {
  const DType t = GetParam();
  const KernelTable& g = GenericKernels();
  const DType at = g[t].vec_dot_type;
  std::mt19937 rng(67);
  int checked = 0;
  for (const KernelTable* simd : testing::SimdTables()) {
    for (const Rows8Layout& k : Rows8Layouts((*simd)[t])) {
      for (auto [dot, n_tok] : {std::pair{k.dot_x2, 2}, std::pair{k.dot_x4, 4}}) {
        if (dot == nullptr) continue;
        for (int64_t n : Sizes(t)) {
          const size_t row = RowBytes(t, n);
          OffsetBuffer wb(8 * row, testing::RowAlignment(t) * (n % 8));
          for (int r = 0; r < 8; ++r) {
            const std::vector<uint8_t> w = RandomWeights(rng, t, n);
            std::memcpy(wb.data() + r * row, w.data(), w.size());
          }
          std::vector<uint8_t> packed(static_cast<size_t>(n / GetDTypeInfo(t).block_size) *
                                      k.block_bytes);
          k.repack(n, wb.data(), row, packed.data());
          // Rows apart by more than their size, each still aligned for its type.
          const size_t a_stride = RowBytes(at, n) + 4 * testing::RowAlignment(at);
          // Fills vary per token: normal, with zeros, extremes, all zero.
          constexpr Fill kFills[] = {Fill::kNormal, Fill::kWithZeros, Fill::kExtremes,
                                     Fill::kAllZero};
          for (int shift = 0; shift < 4; ++shift) {
            OffsetBuffer ab(n_tok * a_stride, testing::RowAlignment(at) * (n % 3));
            for (int tok = 0; tok < n_tok; ++tok) {
              const std::vector<float> x = RandomFloats(rng, n, kFills[(tok + shift) % 4]);
              g[at].quantize(x.data(), ab.data() + tok * a_stride, n);
            }
            float whole[64] = {}, split[64] = {};
            dot(n, packed.data(), ab.data(), a_stride, whole);
            const int64_t bs = GetDTypeInfo(t).block_size;
            dot(bs, packed.data(), ab.data(), a_stride, split);
            if (n > bs) {
              dot(n - bs, packed.data() + k.block_bytes, ab.data() + GetDTypeInfo(at).block_bytes,
                  a_stride, split);
            }
            for (int tok = 0; tok < n_tok; ++tok) {
              for (int r = 0; r < 8; ++r) {
                const float want =
                    g[t].vec_dot_batched(n, wb.data() + r * row, ab.data() + tok * a_stride);
                for (const float* st : {whole + 16 * tok, split + 16 * tok}) {
                  const float got = st[r] - st[8 + r];
                  ASSERT_EQ(std::memcmp(&got, &want, 4), 0)
                      << simd->isa << " " << k.name << " x" << n_tok << " " << DTypeName(t)
                      << " n=" << n << " token " << tok << " row " << r << ": " << got << " vs "
                      << want;
                }
              }
            }
            ++checked;
          }
        }
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no many-token eight-row kernel for " << DTypeName(t);
}

// The load-time eight-row packing (packed8_repack + packed8_dot, the decode
// path) against the scalar single-token kernel row by row, with padded
// weight rows and misaligned activations; and PackRows8 over a whole matrix
// against the same packing group by group.
TEST_P(VecDotX4Test, Packed8BitIdenticalToScalarPerRow) {
  const DType t = GetParam();
  const KernelTable& g = GenericKernels();
  const DType at = g[t].vec_dot_type;
  std::mt19937 rng(71);
  int checked = 0;
  for (const KernelTable* simd : testing::SimdTables()) {
    const TypeKernels& k = (*simd)[t];
    if (k.packed8_dot == nullptr) continue;
    ASSERT_NE(k.packed8_repack, nullptr);
    const int64_t bs = GetDTypeInfo(t).block_size;
    // As large as the eight rows' blocks, or one 32-byte line more.
    ASSERT_GE(k.packed8_block_bytes, 8 * RowBytes(t, bs));
    ASSERT_LE(k.packed8_block_bytes, 8 * RowBytes(t, bs) + 32);
    for (int64_t n : Sizes(t)) {
      const size_t row = RowBytes(t, n);
      for (size_t pad : {size_t{0}, size_t{6}}) {
        const size_t stride = row + pad;
        OffsetBuffer wb(8 * stride, testing::RowAlignment(t) * (n % 8));
        for (int r = 0; r < 8; ++r) {
          const std::vector<uint8_t> w = RandomWeights(rng, t, n);
          std::memcpy(wb.data() + r * stride, w.data(), w.size());
        }
        std::vector<uint8_t> packed(static_cast<size_t>(n / bs) * k.packed8_block_bytes);
        k.packed8_repack(n, wb.data(), stride, packed.data());
        for (Fill fill : {Fill::kNormal, Fill::kWithZeros, Fill::kExtremes, Fill::kAllZero}) {
          const std::vector<float> x = RandomFloats(rng, n, fill);
          OffsetBuffer ab(RowBytes(at, n), testing::RowAlignment(at) * (n % 5));
          g[at].quantize(x.data(), ab.data(), n);
          float out[8];
          k.packed8_dot(n, packed.data(), ab.data(), out);
          for (int r = 0; r < 8; ++r) {
            const float want = g[t].vec_dot(n, wb.data() + r * stride, ab.data());
            ASSERT_EQ(std::memcmp(&out[r], &want, 4), 0)
                << simd->isa << " " << DTypeName(t) << " n=" << n << " row " << r << ": "
                << out[r] << " vs " << want;
          }
          ++checked;
        }
      }
    }
    // A whole matrix: groups one after another; a row count that is not a
    // multiple of 8 is not packed.
    const int64_t n = 4 * bs, rows = 24;
    const std::vector<uint8_t> w = RandomWeights(rng, t, rows * n);
    const AlignedBuffer<uint8_t> m = PackRows8(*simd, t, w.data(), rows, n);
    const size_t group = static_cast<size_t>(n / bs) * k.packed8_block_bytes;
    ASSERT_EQ(m.size(), 3 * group);
    for (int64_t gi = 0; gi < 3; ++gi) {
      std::vector<uint8_t> one(group);
      k.packed8_repack(n, w.data() + 8 * gi * RowBytes(t, n), RowBytes(t, n), one.data());
      ASSERT_EQ(std::memcmp(one.data(), m.data() + gi * group, group), 0) << "group " << gi;
    }
    EXPECT_EQ(PackRows8(*simd, t, w.data(), rows - 1, n).size(), 0u);
  }
  if (checked == 0) GTEST_SKIP() << "no packed eight-row kernel for " << DTypeName(t);
}

// The packed rows against 2..8 tokens at once (verification of a draft,
// batched decode, Q4_1 prompts): each row and token bit-identical to
// vec_dot, for every activation stride and output stride.
TEST_P(VecDotX4Test, Packed8ManyTokensBitIdenticalToScalar) {
  const DType t = GetParam();
  const KernelTable& g = GenericKernels();
  const DType at = g[t].vec_dot_type;
  const int64_t bs = GetDTypeInfo(t).block_size;
  std::mt19937 rng(73);
  int checked = 0;
  for (const KernelTable* simd : testing::SimdTables()) {
    const TypeKernels& k = (*simd)[t];
    if (k.packed8_dot_xn == nullptr) continue;
    for (int64_t n : Sizes(t)) {
      const size_t row = RowBytes(t, n);
      const std::vector<uint8_t> w = RandomWeights(rng, t, 8 * n);
      std::vector<uint8_t> packed(static_cast<size_t>(n / bs) * k.packed8_block_bytes);
      k.packed8_repack(n, w.data(), row, packed.data());
      const int64_t nb = n / GetDTypeInfo(at).block_size;
      const size_t block_bytes = GetDTypeInfo(at).block_bytes;
      for (int T = 2; T <= 8; ++T) {
        // Activation rows a few blocks apart (their alignment kept), and
        // their scales as VecDotX8Fn takes them.
        const size_t act_stride = RowBytes(at, n) + 2 * testing::RowAlignment(at);
        OffsetBuffer ab(T * act_stride, testing::RowAlignment(at) * (T % 3));
        const size_t s_stride = static_cast<size_t>(T) + 8;
        std::vector<float> scales(2 * static_cast<size_t>(nb) * s_stride, 0.0f);
        for (int j = 0; j < T; ++j) {
          const std::vector<float> x = RandomFloats(rng, n, j == 1 ? Fill::kExtremes : Fill::kNormal);
          uint8_t* a = ab.data() + j * act_stride;
          g[at].quantize(x.data(), a, n);
          for (int64_t i = 0; i < nb; ++i) {
            uint16_t h[2];
            std::memcpy(h, a + i * block_bytes, sizeof h);
            scales[2 * i * s_stride + j] = HalfToFloat(h[0]);
            scales[(2 * i + 1) * s_stride + j] = at == DType::kQ8_1 ? HalfToFloat(h[1]) : 0.0f;
          }
        }
        // Activations with float scales go as their quants alone, 32
        // aligned bytes per block (VecDotPacked8XNFn), offset to unsigned
        // where the table says so; tokens a few blocks apart.
        const bool split = at == DType::kQ8_0 || at == DType::kQ8_1;
        const size_t q_stride = static_cast<size_t>(nb + T % 3) * 32;
        AlignedBuffer<int8_t> quants(split ? T * q_stride : 0);
        for (int j = 0; split && j < T; ++j) {
          for (int64_t i = 0; i < nb; ++i) {
            int8_t* dst = quants.data() + j * q_stride + 32 * i;
            std::memcpy(dst, ab.data() + j * act_stride + (i + 1) * block_bytes - 32, 32);
            for (int e = 0; k.packed8_xn_unsigned_quants && e < 32; ++e) {
              dst[e] = static_cast<int8_t>(dst[e] ^ 0x80);
            }
          }
        }
        const size_t out_stride = 11;
        std::vector<float> out(T * out_stride, -1.0f);
        // A group to prefetch (any address: a prefetch never faults) or none.
        const void* next = T % 2 == 0 ? packed.data() + packed.size() : nullptr;
        k.packed8_dot_xn(n, packed.data(), next,
                         split ? static_cast<const void*>(quants.data()) : ab.data(),
                         split ? q_stride : act_stride, scales.data(), s_stride, T, out.data(),
                         out_stride);
        for (int j = 0; j < T; ++j) {
          for (int r = 0; r < 8; ++r) {
            const float want = g[t].vec_dot(n, w.data() + r * row, ab.data() + j * act_stride);
            ASSERT_EQ(std::memcmp(&out[j * out_stride + r], &want, 4), 0)
                << simd->isa << " " << DTypeName(t) << " n=" << n << " T=" << T << " token " << j
                << " row " << r << ": " << out[j * out_stride + r] << " vs " << want;
          }
        }
        ++checked;
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no packed many-token kernel for " << DTypeName(t);
}

// The 32-bit-at-a-time scale unpacking equals the per-sub-block one.
TEST(UnpackScalesTest, AllAtOnceMatchesPerSubBlock) {
  std::mt19937 rng(61);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int trial = 0; trial < 20000; ++trial) {
    uint8_t q[12];
    for (auto& b : q) b = static_cast<uint8_t>(trial < 256 ? trial : byte(rng));
    uint8_t sc[8], m[8];
    UnpackScalesMinsK4(q, sc, m);
    for (int j = 0; j < 8; ++j) {
      uint8_t want_sc, want_m;
      UnpackScaleMinK4(j, q, &want_sc, &want_m);
      ASSERT_EQ(sc[j], want_sc) << "j=" << j;
      ASSERT_EQ(m[j], want_m) << "j=" << j;
    }
  }
}

// DotX4For: a group of four takes a four-token kernel only when all four
// tokens use the same order.
TEST(KernelTableTest, DotX4ForFollowsBatchedOrder) {
  TypeKernels k = GenericKernels()[DType::kQ4_K];
  auto fake = [](int64_t, const void*, const void*, size_t, float*) {};
  VecDotX4Fn f = fake;
  k.vec_dot_x4 = nullptr;
  k.vec_dot_batched_x4 = f;
  // kTilesOf4 in a batch of 10: tokens 0..7 batched, 8, 9 single-token.
  EXPECT_EQ(k.DotX4For(10, 0), f);
  EXPECT_EQ(k.DotX4For(10, 4), f);
  EXPECT_EQ(k.DotX4For(10, 6), nullptr);  // 6, 7 batched; 8, 9 not
  EXPECT_EQ(k.DotX4For(1, 0), nullptr);   // single token: vec_dot, no x4
}

}  // namespace
}  // namespace glint::kernels
