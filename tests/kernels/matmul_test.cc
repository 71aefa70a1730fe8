// MatMul against (1) the table's own vec_dot applied row by row to the same
// quantized activations: must be bit-identical whatever the tiling and thread
// count; (2) a naive double-precision reference (dequantized weights times
// quantized-then-dequantized activations):
//   |err| <= 2e-5 * M, M = sum |w_i x_i|   (f32 block accumulation)
//   Q4_1 / Q5_1: 5e-4 * M (their Q8_1 partner's s = d * sum(q) is an f16,
//   2^-11 relative, and the offset term it carries is bounded by M)
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/matmul.h"
#include "test_util.h"

namespace glint::kernels {
namespace {

struct Shape {
  int64_t rows, cols;
};

std::vector<Shape> ShapesFor(DType t) {
  if (GetDTypeInfo(t).block_size == 256) return {{1, 256}, {37, 512}, {70, 1536}};
  return {{1, 32}, {37, 96}, {70, 576}, {19, 1536}};
}

class MatMulTest : public ::testing::TestWithParam<DType> {};

TEST_P(MatMulTest, MatchesRowDotsAndDoubleReference) {
  const DType t = GetParam();
  const KernelTable& k = ActiveKernels();
  const KernelTable& g = GenericKernels();
  const DType at = k[t].vec_dot_type;
  const double rel = (t == DType::kQ4_1 || t == DType::kQ5_1) ? 5e-4 : 2e-5;
  std::mt19937 rng(77);
  ThreadPool pool2(2);
  for (const Shape& s : ShapesFor(t)) {
    const std::vector<uint8_t> w = testing::RandomWeights(rng, t, s.rows * s.cols);
    std::vector<float> wf(static_cast<size_t>(s.rows * s.cols));
    g[t].dequantize(w.data(), wf.data(), s.rows * s.cols);
    for (int64_t n_tokens : {1, 2, 5, 8, 12, 17}) {
      const std::vector<float> x = testing::RandomFloats(rng, n_tokens * s.cols,
                                                         testing::Fill::kWithZeros);
      // Activations as the kernels see them, and their dequantized values.
      const size_t arow = RowBytes(at, s.cols);
      std::vector<uint8_t> xq(arow * n_tokens);
      std::vector<float> xd(x.size());
      for (int64_t tk = 0; tk < n_tokens; ++tk) {
        k[at].quantize(x.data() + tk * s.cols, xq.data() + tk * arow, s.cols);
        g[at].dequantize(xq.data() + tk * arow, xd.data() + tk * s.cols, s.cols);
      }
      for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &pool2}) {
        const int64_t y_stride = s.rows + 3;
        std::vector<float> y(static_cast<size_t>(y_stride * n_tokens), -7.0f);
        MatMulScratch scratch;
        MatMul(k, t, w.data(), s.rows, s.cols, x.data(), n_tokens, y.data(), y_stride, pool,
               &scratch);
        for (int64_t tk = 0; tk < n_tokens; ++tk) {
          for (int64_t r = 0; r < s.rows; ++r) {
            const float got = y[tk * y_stride + r];
            const float row_dot = k[t].vec_dot(s.cols, w.data() + r * RowBytes(t, s.cols),
                                               xq.data() + tk * arow);
            ASSERT_EQ(got, row_dot) << DTypeName(t) << " r=" << r << " t=" << tk;
            double exact = 0, mag = 0;
            for (int64_t c = 0; c < s.cols; ++c) {
              const double p = static_cast<double>(wf[r * s.cols + c]) * xd[tk * s.cols + c];
              exact += p;
              mag += std::fabs(p);
            }
            ASSERT_NEAR(got, exact, rel * mag + 1e-30) << DTypeName(t) << " r=" << r;
          }
          for (int64_t r = s.rows; r < y_stride; ++r) {
            ASSERT_EQ(y[tk * y_stride + r], -7.0f) << "wrote past n_rows";
          }
        }
        // A second call of the same size reuses the scratch without growing it.
        const uint8_t* before = scratch.act.data();
        MatMul(k, t, w.data(), s.rows, s.cols, x.data(), n_tokens, y.data(), y_stride, pool,
               &scratch);
        if (at != DType::kF32) {
          ASSERT_EQ(scratch.act.data(), before);
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllWeightTypes, MatMulTest, ::testing::ValuesIn(testing::WeightTypes()),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

// One quantized activation shared by several matrices (Q, K, V), and large
// enough to take the parallel quantization path.
TEST(MatMulQuantizedTest, SharedActivationsAcrossMatrices) {
  const KernelTable& k = ActiveKernels();
  std::mt19937 rng(5);
  ThreadPool pool(2);
  const int64_t cols = 1536, n_tokens = 12;
  const std::vector<float> x = testing::RandomFloats(rng, cols * n_tokens);
  MatMulScratch scratch;
  const QuantizedActivations xq =
      QuantizeActivations(k, DType::kQ4_K, x.data(), cols, n_tokens, &pool, &scratch);
  ASSERT_EQ(xq.type, DType::kQ8_K);
  for (DType t : {DType::kQ4_K, DType::kQ6_K, DType::kQ5_K}) {
    const int64_t rows = 48;
    const std::vector<uint8_t> w = testing::RandomWeights(rng, t, rows * cols);
    std::vector<float> y1(rows * n_tokens), y2(rows * n_tokens);
    MatMulQuantized(k, t, w.data(), rows, xq, y1.data(), rows, &pool);
    MatMulScratch other;
    MatMul(k, t, w.data(), rows, cols, x.data(), n_tokens, y2.data(), rows, nullptr, &other);
    ASSERT_EQ(y1, y2) << DTypeName(t);
  }
}

// Several matrices in one pass (MatMulQuantizedMany) equal one pass each,
// and every output equals the dot product its token's reference order asks
// for: with a reference batch in which some tokens take the batched order
// and some do not, the eight-row kernels (and their two-token pairing) and
// the multi-token kernels meet in one product; single tokens read the
// load-time packing where the type has one. Row counts that are not
// multiples of the 16-row grain, with and without a pool.
TEST(MatMulQuantizedTest, ManyMatricesInOnePassEqualOneEach) {
  const KernelTable& k = ActiveKernels();
  std::mt19937 rng(9);
  ThreadPool pool2(2);
  for (DType t : {DType::kQ4_1, DType::kQ4_K, DType::kQ6_K}) {
    const int64_t cols = GetDTypeInfo(t).block_size == 256 ? 512 : 576;
    const int64_t rows[3] = {40, 24, 9};
    std::vector<std::vector<uint8_t>> w;
    for (int64_t r : rows) w.push_back(testing::RandomWeights(rng, t, r * cols));
    // The load-time packing where the type has it (Q4_1; not for 9 rows):
    // single-token products read it instead of w.
    std::vector<AlignedBuffer<uint8_t>> packed;
    for (int i = 0; i < 3; ++i) packed.push_back(PackRows8(k, t, w[i].data(), rows[i], cols));
    auto packed_of = [&](int i) -> const void* {
      return packed[i].size() > 0 ? packed[i].data() : nullptr;
    };
    for (int64_t n_tokens : {1, 5, 13}) {
      for (int64_t ref_batch : {int64_t{1}, int64_t{14}, int64_t{16}}) {
        const std::vector<float> x = testing::RandomFloats(rng, cols * n_tokens);
        MatMulScratch scratch;
        scratch.ref_batch = ref_batch;
        const QuantizedActivations xq =
            QuantizeActivations(k, t, x.data(), cols, n_tokens, &pool2, &scratch);
        for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &pool2}) {
          std::vector<std::vector<float>> many(3), one(3);
          MatMulOutput outs[3];
          for (int i = 0; i < 3; ++i) {
            many[i].assign(rows[i] * n_tokens + 4, -7.0f);
            one[i].assign(rows[i] * n_tokens + 4, -7.0f);
            outs[i] = {w[i].data(), rows[i], many[i].data(), rows[i], packed_of(i)};
          }
          MatMulQuantizedMany(k, t, outs, 3, xq, pool);
          for (int i = 0; i < 3; ++i) {
            MatMulQuantized(k, t, w[i].data(), rows[i], xq, one[i].data(), rows[i], pool,
                            packed_of(i));
            ASSERT_EQ(many[i], one[i]) << DTypeName(t) << " matrix " << i;
            for (int64_t tk = 0; tk < n_tokens; ++tk) {
              const VecDotFn dot = k[t].DotFor(ref_batch, tk);
              const auto* xt = static_cast<const uint8_t*>(xq.data) + tk * xq.row_bytes;
              for (int64_t r = 0; r < rows[i]; ++r) {
                const float want = dot(cols, w[i].data() + r * RowBytes(t, cols), xt);
                ASSERT_EQ(std::memcmp(&many[i][tk * rows[i] + r], &want, 4), 0)
                    << DTypeName(t) << " batch " << ref_batch << " token " << tk << " row " << r;
              }
            }
          }
        }
      }
    }
  }
}

// The follow-up work of a product (RowsDone) sees each thread's rows of
// each matrix once, in units of the matrix's grain, already final for every
// token; the rows of all calls tile each matrix; the results equal one
// product per matrix. Side by side, each call covers the same rows of
// every matrix.
TEST(MatMulQuantizedTest, RowsDoneSeesEveryRowOnceAndFinal) {
  const KernelTable& k = ActiveKernels();
  std::mt19937 rng(31);
  ThreadPool pool2(2), pool3(3);
  const DType t = DType::kQ4_1;
  const int64_t cols = 576;
  struct Piece {
    int out;
    int64_t r0, r1;
  };
  for (int64_t n_tokens : {1, 3, 8}) {
    const std::vector<float> x = testing::RandomFloats(rng, cols * n_tokens);
    MatMulScratch scratch;
    const QuantizedActivations xq =
        QuantizeActivations(k, t, x.data(), cols, n_tokens, nullptr, &scratch);
    for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &pool2, &pool3}) {
      const std::string what =
          "tokens " + std::to_string(n_tokens) + " threads " +
          std::to_string(pool == nullptr ? 1 : pool->size());
      // Concatenated: like Q, K and V with heads of 64 (V at any 16 rows).
      {
        const int64_t rows[3] = {192, 64, 48}, grains[3] = {64, 64, 0};
        std::vector<std::vector<uint8_t>> w;
        std::vector<std::vector<float>> want(3), got(3);
        MatMulOutput outs[3];
        for (int i = 0; i < 3; ++i) {
          w.push_back(testing::RandomWeights(rng, t, rows[i] * cols));
          want[i].assign(rows[i] * n_tokens, 0.0f);
          got[i].assign(rows[i] * n_tokens, -7.0f);
          MatMulQuantized(k, t, w[i].data(), rows[i], xq, want[i].data(), rows[i], nullptr);
          outs[i] = {w[i].data(), rows[i], got[i].data(), rows[i], nullptr, grains[i]};
        }
        std::mutex mu;
        std::vector<Piece> pieces;
        bool all_final = true;
        auto done = [&](const MatMulOutput* o, int64_t r0, int64_t r1) {
          const int i = static_cast<int>(o - outs);
          bool final = i >= 0 && i < 3;
          for (int64_t j = 0; final && j < n_tokens; ++j) {
            final = std::memcmp(got[i].data() + j * rows[i] + r0, want[i].data() + j * rows[i] + r0,
                                4 * (r1 - r0)) == 0;
          }
          std::lock_guard<std::mutex> lock(mu);
          all_final = all_final && final;
          pieces.push_back({i, r0, r1});
        };
        const RowsDone rows_done = RowsDoneBy(done);
        MatMulQuantizedMany(k, t, outs, 3, xq, pool, &rows_done);
        EXPECT_TRUE(all_final) << what;
        for (int i = 0; i < 3; ++i) {
          EXPECT_EQ(got[i], want[i]) << what << " matrix " << i;
          const int64_t g = grains[i] > 0 ? grains[i] : 16;
          std::vector<int> seen(rows[i], 0);
          for (const Piece& p : pieces) {
            if (p.out != i) continue;
            EXPECT_EQ(p.r0 % g, 0) << what;
            EXPECT_TRUE(p.r1 % g == 0 || p.r1 == rows[i]) << what;
            for (int64_t r = p.r0; r < p.r1; ++r) ++seen[r];
          }
          EXPECT_EQ(seen, std::vector<int>(rows[i], 1)) << what << " matrix " << i;
        }
      }
      // Side by side: like gate and up, in units of 32 rows.
      {
        const int64_t rows = 96;
        std::vector<std::vector<uint8_t>> w;
        std::vector<std::vector<float>> want(2), got(2);
        MatMulOutput outs[2];
        for (int i = 0; i < 2; ++i) {
          w.push_back(testing::RandomWeights(rng, t, rows * cols));
          want[i].assign(rows * n_tokens, 0.0f);
          got[i].assign(rows * n_tokens, -7.0f);
          MatMulQuantized(k, t, w[i].data(), rows, xq, want[i].data(), rows, nullptr);
          outs[i] = {w[i].data(), rows, got[i].data(), rows};
        }
        std::mutex mu;
        std::vector<Piece> pieces;
        bool all_final = true;
        auto done = [&](const MatMulOutput* o, int64_t r0, int64_t r1) {
          bool final = o == nullptr;
          for (int i = 0; i < 2; ++i) {
            for (int64_t j = 0; final && j < n_tokens; ++j) {
              final = std::memcmp(got[i].data() + j * rows + r0, want[i].data() + j * rows + r0,
                                  4 * (r1 - r0)) == 0;
            }
          }
          std::lock_guard<std::mutex> lock(mu);
          all_final = all_final && final;
          pieces.push_back({-1, r0, r1});
        };
        const RowsDone rows_done = RowsDoneBy(done);
        MatMulQuantizedSideBySide(k, t, outs, 2, xq, pool, 32, &rows_done);
        EXPECT_TRUE(all_final) << what;
        std::vector<int> seen(rows, 0);
        for (const Piece& p : pieces) {
          EXPECT_EQ(p.r0 % 32, 0) << what;
          EXPECT_EQ(p.r1 % 32, 0) << what;
          for (int64_t r = p.r0; r < p.r1; ++r) ++seen[r];
        }
        EXPECT_EQ(seen, std::vector<int>(rows, 1)) << what;
        for (int i = 0; i < 2; ++i) EXPECT_EQ(got[i], want[i]) << what << " matrix " << i;
      }
    }
  }
  // Even enough: 48 units over 2 threads; not: 35 over 2 (one has 18/17.5),
  // 3 over 2; one thread always.
  EXPECT_TRUE(SideBySideBalanced(1536, 32, 2));
  EXPECT_FALSE(SideBySideBalanced(8960, 256, 2));
  EXPECT_FALSE(SideBySideBalanced(96, 32, 2));
  EXPECT_TRUE(SideBySideBalanced(96, 32, 1));
  EXPECT_TRUE(SideBySideBalanced(96 * 101, 32, 2));
}

// Activations quantized row by row, in any order and from several threads
// (BeginActivations, QuantizeActivationRow), or by column ranges of the rows
// (QuantizeActivationRange), equal QuantizeActivations' byte for byte:
// the rows, every token's float scales and the quants plane (offset to
// unsigned where the table's kernel reads it so). And a view
// made for one weight type serves another exactly when it is the same.
TEST(MatMulQuantizedTest, RowByRowActivationsEqualWholeQuantization) {
  std::mt19937 rng(21);
  ThreadPool pool(2);
  std::vector<const KernelTable*> tables = testing::SimdTables();
  tables.push_back(&GenericKernels());
  const KernelTable& g = GenericKernels();
  int split = 0;
  for (const KernelTable* kt : tables) {
    const KernelTable& k = *kt;
    for (DType t : {DType::kQ4_1, DType::kQ8_0, DType::kQ4_K, DType::kF32}) {
      if (k[t].vec_dot == nullptr) continue;
      const int64_t cols = GetDTypeInfo(k[t].vec_dot_type).block_size == 256 ? 512 : 576;
      for (int64_t n_tokens : {1, 2, 7, 9}) {
        const std::vector<float> x = testing::RandomFloats(rng, cols * n_tokens);
        MatMulScratch whole_scratch, rows_scratch;
        const QuantizedActivations whole =
            QuantizeActivations(k, t, x.data(), cols, n_tokens, nullptr, &whole_scratch);
        const QuantizedActivations q =
            BeginActivations(k, t, x.data(), cols, n_tokens, &rows_scratch);
        pool.Run([&](int ith, int nth) {
          for (int64_t r = n_tokens - 1 - ith; r >= 0; r -= nth) {
            QuantizeActivationRow(k, t, q, r, x.data() + r * cols, &rows_scratch);
          }
        });
        // The same by column ranges (QuantizeActivationRange): each row cut
        // at random block boundaries, the pieces shared by two threads.
        MatMulScratch range_scratch;
        const QuantizedActivations qr =
            BeginActivations(k, t, x.data(), cols, n_tokens, &range_scratch);
        const int64_t block = GetDTypeInfo(qr.type).block_size;
        std::vector<std::pair<int64_t, int64_t>> pieces;  // (token, first column)
        std::vector<int64_t> ends;
        for (int64_t j = 0; j < n_tokens; ++j) {
          for (int64_t c = 0; c < cols;) {
            const int64_t len = block * std::uniform_int_distribution<int64_t>(1, 4)(rng);
            pieces.push_back({j, c});
            ends.push_back(std::min(cols, c + len));
            c = ends.back();
          }
        }
        pool.Run([&](int ith, int nth) {
          for (size_t i = ith; i < pieces.size(); i += nth) {
            const auto [j, c0] = pieces[i];
            QuantizeActivationRange(k, qr, j, c0, ends[i], x.data() + j * cols + c0,
                                    &range_scratch);
          }
        });
        const std::string what = std::string(k.isa) + " " + DTypeName(t) + " tokens " +
                                 std::to_string(n_tokens);
        ASSERT_EQ(q.type, whole.type) << what;
        ASSERT_EQ(q.weight_type, t) << what;
        ASSERT_EQ(q.row_bytes, whole.row_bytes) << what;
        if (q.type == DType::kF32) {
          EXPECT_EQ(q.data, x.data()) << what;
          continue;
        }
        ASSERT_EQ(std::memcmp(q.data, whole.data, q.row_bytes * n_tokens), 0) << what;
        ASSERT_EQ(std::memcmp(qr.data, whole.data, q.row_bytes * n_tokens), 0) << what;
        ASSERT_EQ(q.scales == nullptr, whole.scales == nullptr) << what;
        ASSERT_TRUE(ActivationsServe(k, t, q)) << what;
        if (q.scales == nullptr) continue;
        ++split;
        ASSERT_EQ(q.scales_stride, whole.scales_stride) << what;
        ASSERT_EQ(q.quants_stride, whole.quants_stride) << what;
        const int64_t nb = cols / 32;
        for (int64_t i = 0; i < 2 * nb; ++i) {
          ASSERT_EQ(std::memcmp(q.scales + i * q.scales_stride,
                                whole.scales + i * whole.scales_stride, 4 * n_tokens),
                    0)
              << what << " scales " << i;
          ASSERT_EQ(std::memcmp(qr.scales + i * q.scales_stride,
                                whole.scales + i * whole.scales_stride, 4 * n_tokens),
                    0)
              << what << " scales by ranges " << i;
        }
        ASSERT_EQ(std::memcmp(q.quants, whole.quants, q.quants_stride * n_tokens), 0) << what;
        ASSERT_EQ(std::memcmp(qr.quants, whole.quants, q.quants_stride * n_tokens), 0) << what;
        // The rows are the quantizer's; the scales their blocks' f16 d (and
        // s) in float; the plane their quants, or the same bytes ^ 0x80.
        const size_t block_bytes = GetDTypeInfo(q.type).block_bytes;
        const uint8_t flip = k[t].packed8_xn_unsigned_quants ? 0x80 : 0;
        std::vector<uint8_t> row(q.row_bytes);
        for (int64_t j = 0; j < n_tokens; ++j) {
          g[q.type].quantize(x.data() + j * cols, row.data(), cols);
          ASSERT_EQ(std::memcmp(row.data(), static_cast<const uint8_t*>(q.data) + j * q.row_bytes,
                                q.row_bytes),
                    0)
              << what << " token " << j;
          for (int64_t i = 0; i < nb; ++i) {
            const uint8_t* block = row.data() + i * block_bytes;
            uint16_t h[2];
            std::memcpy(h, block, sizeof h);
            ASSERT_EQ(q.scales[2 * i * q.scales_stride + j], HalfToFloat(h[0])) << what;
            ASSERT_EQ(q.scales[(2 * i + 1) * q.scales_stride + j],
                      q.type == DType::kQ8_1 ? HalfToFloat(h[1]) : 0.0f)
                << what;
            for (int e = 0; e < 32; ++e) {
              ASSERT_EQ(static_cast<uint8_t>(q.quants[j * q.quants_stride + 32 * i + e]),
                        block[block_bytes - 32 + e] ^ flip)
                  << what << " token " << j << " block " << i;
            }
          }
        }
      }
    }
    // Q4_K and Q6_K both read Q8_K activations; Q4_1's Q8_1 serve neither.
    MatMulScratch scratch;
    const std::vector<float> x = testing::RandomFloats(rng, 512 * 3);
    const QuantizedActivations k_act =
        QuantizeActivations(k, DType::kQ4_K, x.data(), 512, 3, nullptr, &scratch);
    EXPECT_TRUE(ActivationsServe(k, DType::kQ6_K, k_act)) << k.isa;
    EXPECT_FALSE(ActivationsServe(k, DType::kQ4_1, k_act)) << k.isa;
  }
  EXPECT_GT(split, 0);
}

}  // namespace
}  // namespace glint::kernels
