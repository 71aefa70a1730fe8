// Kernel micro benchmarks: vec_dot and MatMul at the shapes of the fast and
// smart models, decode (1 token) and prefill (64 tokens), 1 and 2 threads,
// plus a streaming-read probe of memory bandwidth to compare GB/s against.
//
// Every parameter comes from the benchmark's arguments:
//   BM_MatMul/<dtype id>/<rows>/<cols>/<n_tokens>/<threads>
//   BM_VecDot/<dtype id>/<n>
//   BM_ReadBandwidth/<MiB>/<threads>
// bytes_per_second counts weight bytes streamed (MatMul, VecDot) or bytes
// read (bandwidth probe); items_per_second counts multiply-adds.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "base/aligned_buffer.h"
#include "base/huge_page_buffer.h"
#include "base/thread_pool.h"
#include "gguf/dtype.h"
#include "kernels/kernels.h"
#include "kernels/matmul.h"

namespace glint::kernels {
namespace {

// xorshift64*: fast enough to fill a few hundred MB of weights.
struct Rng {
  uint64_t s = 0x9E3779B97F4A7C15ull;
  uint64_t Next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
  float Uniform() { return static_cast<float>(Next() >> 40) / static_cast<float>(1 << 24) - 0.5f; }
};

// Offsets of the f16 scale fields per block (random bits there could be NaN).
std::vector<int> HalfFields(DType t) {
  switch (t) {
    case DType::kQ4_0: case DType::kQ5_0: case DType::kQ8_0: return {0};
    case DType::kQ4_1: case DType::kQ5_1: case DType::kQ4_K: case DType::kQ5_K: return {0, 2};
    case DType::kQ6_K: return {208};
    default: return {};
  }
}

AlignedBuffer<uint8_t> RandomWeights(DType t, int64_t rows, int64_t cols) {
  const size_t bytes = RowBytes(t, cols) * static_cast<size_t>(rows);
  AlignedBuffer<uint8_t> w(bytes);
  Rng rng;
  uint8_t* p = w.data();
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    const uint64_t v = rng.Next();
    std::memcpy(p + i, &v, 8);
  }
  for (; i < bytes; ++i) p[i] = static_cast<uint8_t>(rng.Next());
  if (t == DType::kF32) {
    for (size_t j = 0; j < bytes / 4; ++j) reinterpret_cast<float*>(p)[j] = rng.Uniform();
  } else if (t == DType::kF16) {
    for (size_t j = 0; j < bytes / 2; ++j) reinterpret_cast<uint16_t*>(p)[j] = FloatToHalf(rng.Uniform());
  } else {
    const size_t bb = GetDTypeInfo(t).block_bytes;
    for (size_t off = 0; off < bytes; off += bb) {
      for (int f : HalfFields(t)) {
        const uint16_t h = FloatToHalf(0.01f * rng.Uniform());
        std::memcpy(p + off + f, &h, 2);
      }
    }
  }
  return w;
}

std::vector<float> RandomActivations(int64_t n) {
  Rng rng;
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = rng.Uniform();
  return x;
}

void BM_MatMul(benchmark::State& state) {
  const auto type = static_cast<DType>(state.range(0));
  const int64_t rows = state.range(1), cols = state.range(2), n_tokens = state.range(3);
  const int threads = static_cast<int>(state.range(4));
  const KernelTable& k = ActiveKernels();
  const AlignedBuffer<uint8_t> w = RandomWeights(type, rows, cols);
  const std::vector<float> x = RandomActivations(cols * n_tokens);
  std::vector<float> y(static_cast<size_t>(rows * n_tokens));
  ThreadPool pool(threads);
  MatMulScratch scratch;
  // As the model holds its weights: also packed where the table has a
  // packed kernel (single-token products, and tokens in that order, read it
  // instead: decode, drafts, Q4_1 prompts).
  const AlignedBuffer<uint8_t> packed = PackRows8(k, type, w.data(), rows, cols);
  const void* packed8 = packed.size() > 0 ? packed.data() : nullptr;
  for (auto _ : state) {
    MatMul(k, type, w.data(), rows, cols, x.data(), n_tokens, y.data(), rows, &pool, &scratch,
           packed8);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(w.size()));
  state.SetItemsProcessed(state.iterations() * rows * cols * n_tokens);
  state.SetLabel(std::string(DTypeName(type)) + " " + k.isa +
                 (packed8 != nullptr ? " packed8" : ""));
}

void BM_VecDot(benchmark::State& state) {
  const auto type = static_cast<DType>(state.range(0));
  const int64_t n = state.range(1);
  const KernelTable& k = ActiveKernels();
  const DType at = k[type].vec_dot_type;
  const AlignedBuffer<uint8_t> w = RandomWeights(type, 1, n);
  const std::vector<float> x = RandomActivations(n);
  AlignedBuffer<uint8_t> a(RowBytes(at, n));
  if (at == DType::kF32) {
    std::memcpy(a.data(), x.data(), 4 * n);
  } else {
    k[at].quantize(x.data(), a.data(), n);
  }
  for (auto _ : state) {
    float r = k[type].vec_dot(n, w.data(), a.data());
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(w.size()));
  state.SetItemsProcessed(state.iterations() * n);
  state.SetLabel(std::string(DTypeName(type)) + " " + k.isa);
}

// The packed many-token kernel alone (TypeKernels::packed8_dot_xn): the
// groups of eight rows of a rows x n matrix against T tokens' random
// quants and scales, without MatMul's quantizing and splitting; rows small
// enough to stay in L2, so this measures the kernel's arithmetic.
void BM_Packed8XN(benchmark::State& state) {
  const auto type = static_cast<DType>(state.range(0));
  const int64_t n = state.range(1), rows = 192;
  const int tokens = static_cast<int>(state.range(2));
  const KernelTable& k = ActiveKernels();
  const TypeKernels& tk = k[type];
  if (tk.packed8_dot_xn == nullptr) {
    state.SkipWithError("no packed many-token kernel");
    return;
  }
  const AlignedBuffer<uint8_t> w = RandomWeights(type, rows, n);
  const AlignedBuffer<uint8_t> packed = PackRows8(k, type, w.data(), rows, n);
  const size_t group_bytes = packed.size() / (rows / 8);
  const int64_t nb = n / 32;
  Rng rng;
  AlignedBuffer<uint8_t> quants(static_cast<size_t>(tokens * nb * 32));
  for (size_t i = 0; i < quants.size(); ++i) quants.data()[i] = static_cast<uint8_t>(rng.Next());
  std::vector<float> scales(static_cast<size_t>(2 * nb * tokens));
  for (auto& s : scales) s = 0.01f * rng.Uniform();
  std::vector<float> out(static_cast<size_t>(rows * tokens));
  for (auto _ : state) {
    for (int64_t g = 0; g < rows / 8; ++g) {
      tk.packed8_dot_xn(n, packed.data() + g * group_bytes, nullptr, quants.data(),
                        static_cast<size_t>(nb * 32), scales.data(), tokens, tokens,
                        out.data() + g * 8, rows);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * rows * n * tokens);
  state.SetLabel(std::string(DTypeName(type)) + " " + k.isa);
}

// Streaming read of a buffer much larger than the caches (the L3 here is
// large: use >= 4x its size), split across threads; in huge pages (as the
// model's weights) when the third argument is 1, else in 4 KiB pages.
void BM_ReadBandwidth(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0)) << 20;
  const int threads = static_cast<int>(state.range(1));
  const bool huge = state.range(2) != 0;
  AlignedBuffer<uint64_t> small_pages(huge ? 0 : bytes / 8);
  Result<HugePageBuffer> huge_pages = HugePageBuffer::Allocate(huge ? bytes : 0);
  if (!huge_pages.ok()) {
    state.SkipWithError(huge_pages.status().ToString().c_str());
    return;
  }
  uint64_t* const buf =
      huge ? reinterpret_cast<uint64_t*>(huge_pages->data()) : small_pages.data();
  const size_t n = bytes / 8;
  for (size_t i = 0; i < n; ++i) buf[i] = i;
  ThreadPool pool(threads);
  std::vector<uint64_t> partial(static_cast<size_t>(threads) * 8);
  for (auto _ : state) {
    pool.Run([&](int ith, int nth) {
      const size_t begin = n * ith / nth, end = n * (ith + 1) / nth;
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      const uint64_t* p = buf;
      size_t i = begin;
      for (; i + 4 <= end; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
      }
      for (; i < end; ++i) s0 += p[i];
      partial[static_cast<size_t>(ith) * 8] = s0 + s1 + s2 + s3;
    });
    benchmark::DoNotOptimize(partial.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
}

constexpr int64_t kQ4_1 = static_cast<int64_t>(DType::kQ4_1);
constexpr int64_t kQ8_0 = static_cast<int64_t>(DType::kQ8_0);
constexpr int64_t kQ4_K = static_cast<int64_t>(DType::kQ4_K);
constexpr int64_t kQ6_K = static_cast<int64_t>(DType::kQ6_K);

// Fast model (Q4_1 FFN 1536x576 / 576x1536, Q8_0 output 49152x576) and smart
// model (Q4_K / Q6_K FFN 8960x1536 / 1536x8960, Q6_K output 151936x1536).
void MatMulArgs(benchmark::internal::Benchmark* b) {
  const int64_t shapes[][3] = {
      {kQ4_1, 1536, 576}, {kQ4_1, 576, 1536}, {kQ8_0, 49152, 576}, {kQ4_K, 8960, 1536},
      {kQ4_K, 1536, 8960}, {kQ6_K, 1536, 8960}, {kQ6_K, 151936, 1536},
  };
  for (const auto& s : shapes) {
    for (int64_t tokens : {1, 8, 16, 64}) {  // decode, 8 sequences, a draft, a prompt chunk
      if (tokens > 1 && s[1] > 100000) continue;  // logits are computed for one token only
      for (int64_t threads : {1, 2}) b->Args({s[0], s[1], s[2], tokens, threads});
    }
  }
}

BENCHMARK(BM_MatMul)->Apply(MatMulArgs)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Packed8XN)
    ->ArgsProduct({{kQ4_1}, {576, 1536}, {2, 3, 4, 5, 6, 7, 8}})
    ->Args({kQ8_0, 576, 8});
BENCHMARK(BM_VecDot)
    ->Args({kQ4_1, 1536})
    ->Args({kQ8_0, 576})
    ->Args({kQ4_K, 1536})
    ->Args({kQ6_K, 8960});
BENCHMARK(BM_ReadBandwidth)
    ->ArgsProduct({{256, 1024}, {1, 2}, {0, 1}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace glint::kernels
