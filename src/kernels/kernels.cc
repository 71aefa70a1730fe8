#include "kernels/kernels.h"

#include <array>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "kernels/internal.h"

#if defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
#include <cpuid.h>
#endif

namespace glint::kernels {
namespace {

uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

float BitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

const std::array<float, 65536>& HalfTable() {
  static const std::array<float, 65536>* table = [] {
    auto* t = new std::array<float, 65536>;
    for (uint32_t h = 0; h < 65536; ++h) (*t)[h] = HalfToFloat(static_cast<uint16_t>(h));
    return t;
  }();
  return *table;
}

KernelTable MakeGenericTable() {
  KernelTable t;
  t.isa = "generic";
  auto set = [&](DType type, DequantizeRowFn dq, QuantizeRowFn q, VecDotFn dot, DType dot_type) {
    t.types[static_cast<uint32_t>(type)] = TypeKernels{dq, q, dot, dot_type};
  };
  using namespace generic;
  set(DType::kF32, DequantizeF32, QuantizeF32, VecDotF32, DType::kF32);
  set(DType::kF16, DequantizeF16, QuantizeF16, VecDotF16, DType::kF16);
  set(DType::kBF16, DequantizeBF16, QuantizeBF16, VecDotBF16, DType::kBF16);
  set(DType::kQ4_0, DequantizeQ4_0, QuantizeQ4_0, VecDotQ4_0Q8_0, DType::kQ8_0);
  set(DType::kQ4_1, DequantizeQ4_1, QuantizeQ4_1, VecDotQ4_1Q8_1, DType::kQ8_1);
  set(DType::kQ5_0, DequantizeQ5_0, QuantizeQ5_0, VecDotQ5_0Q8_0, DType::kQ8_0);
  set(DType::kQ5_1, DequantizeQ5_1, QuantizeQ5_1, VecDotQ5_1Q8_1, DType::kQ8_1);
  set(DType::kQ8_0, DequantizeQ8_0, QuantizeQ8_0, VecDotQ8_0Q8_0, DType::kQ8_0);
  // Q8_1 and Q8_K are activation formats only: no dot product of their own.
  set(DType::kQ8_1, DequantizeQ8_1, QuantizeQ8_1, nullptr, DType::kQ8_1);
  set(DType::kQ8_K, DequantizeQ8K, QuantizeQ8K, nullptr, DType::kQ8_K);
  set(DType::kQ4_K, DequantizeQ4K, QuantizeQ4K, VecDotQ4KQ8K, DType::kQ8_K);
  set(DType::kQ5_K, DequantizeQ5K, QuantizeQ5K, VecDotQ5KQ8K, DType::kQ8_K);
  set(DType::kQ6_K, DequantizeQ6K, QuantizeQ6K, VecDotQ6KQ8K, DType::kQ8_K);
  // Batched orders of the reference (llama.cpp on x86): Q4_K matrices are
  // repacked (q4_K_8x8) and multiplied by a 4-row GEMM, Q6_K prompts go
  // through its tiled matmul.
  t.types[static_cast<uint32_t>(DType::kQ4_K)].vec_dot_batched = VecDotQ4KQ8KBatched;
  t.types[static_cast<uint32_t>(DType::kQ4_K)].batched_order = BatchedOrder::kTilesOf4;
  t.types[static_cast<uint32_t>(DType::kQ6_K)].vec_dot_batched = VecDotQ6KQ8KBatched;
  t.types[static_cast<uint32_t>(DType::kQ6_K)].batched_order = BatchedOrder::kFrom8;
  return t;
}

OpsTable MakeGenericOps() {
  using namespace generic;
  OpsTable o;
  o.isa = "generic";
  o.rms_norm = RmsNorm;
  o.softmax = Softmax;
  o.swiglu = Swiglu;
  o.axpy = Axpy;
  o.add = Add;
  o.dot_f32 = DotF32;
  o.scale = Scale;
  o.dot_f16_x4 = DotF16X4;
  o.dot_f16_x1 = DotF16X1;
  o.axpy_f16 = AxpyF16;
  o.scores_f16_x1 = ScoresF16X1;
  o.scores_f16_x4 = ScoresF16X4;
  o.weighted_sum_f16 = WeightedSumF16;
  o.sum_slots = SumSlots;
  o.weighted_slots_f16 = WeightedSlotsF16;
  o.rope = Rope;
  return o;
}

#ifdef GLINT_KERNELS_HAVE_X86
// clang 14 (the fuzz build) knows neither "f16c" nor "avxvnni" in
// __builtin_cpu_supports: with clang those two bits are read from CPUID.
bool CpuHasF16c() {
#if defined(__clang__)
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
#else
  return __builtin_cpu_supports("f16c");
#endif
}

bool CpuHasAvx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && CpuHasF16c();
}

// Software prefetch of the weights one token's product streams, measured on
// decode (glint bench -p 0 -n 128, 2 threads). On an Intel Xeon without it
// the single-token products of the 32-weight block types (the fast model's
// Q4_1 and Q8_0) waited on memory: 8 KiB ahead gained, and on a Sapphire
// Rapids VM no prefetch halved fast decode (about 200 -> 100-155 tok/s).
// The K-quants' products (Q4_K, Q6_K: the smart model) stream long rows
// that the hardware prefetcher follows alone: the same prefetch cost smart
// decode there a fifth of its speed (23 -> 18.3 tok/s), with the
// same loss from either type alone. On an AMD EPYC (Zen 4) every prefetch
// cost: a third of fast decode (300 -> 200 tok/s), a quarter of smart (32
// -> 24).
size_t PrefetchBytes(DType type) {
  if (const char* v = std::getenv("GLINT_PREFETCH")) return std::strtoul(v, nullptr, 10);
  const bool k_quant = GetDTypeInfo(type).block_size == 256;
  return __builtin_cpu_is("intel") && !k_quant ? 8 * 1024 : 0;
}

// The next group of packed rows for many-token products: into L1 on the
// Intel Xeon, where it gained over no prefetch; on the AMD EPYC a burst of
// prefetcht0 filled the L1 miss buffers and stalled (6% of an 8-sequence
// decode step sat on them), and prefetcht1 gave 1.34-1.40x the aggregate
// speed of 8 sequences (glint bench -m fast -p 0 -n 64 --parallel 8),
// 1.23x a 16-token draft's verification, prompts unchanged.
bool PrefetchGroupsToL1() {
  if (const char* v = std::getenv("GLINT_GROUP_PREFETCH")) return std::string_view(v) == "l1";
  return __builtin_cpu_is("intel");
}

// A prompt's eight-row products prefetching the next group into L2: on a
// Sapphire Rapids VM smart pp512 1.03x (glint bench -m smart -p 512, three
// alternating pairs); never measured on AMD, where it has been off.
bool PrefetchRows8Groups() {
  if (const char* v = std::getenv("GLINT_PREFETCH")) return std::strtoul(v, nullptr, 10) != 0;
  return __builtin_cpu_is("intel");
}

KernelTable MakeAvx2Table() {
  // Start from the reference and replace what x86/ accelerates.
  KernelTable t = MakeGenericTable();
  t.isa = "avx2";
  t.prefetch_groups_to_l1 = PrefetchGroupsToL1();
  t.prefetch_rows8_groups = PrefetchRows8Groups();
  auto& ty = t.types;
  auto at = [&](DType d) -> TypeKernels& { return ty[static_cast<uint32_t>(d)]; };
  for (uint32_t id = 0; id < kDTypeIdLimit; ++id) {
    if (ty[id].vec_dot != nullptr) ty[id].prefetch_bytes = PrefetchBytes(static_cast<DType>(id));
  }
  at(DType::kF32).vec_dot = avx2::VecDotF32;
  at(DType::kF16).dequantize = avx2::DequantizeF16;
  at(DType::kF16).quantize = avx2::QuantizeF16;
  at(DType::kF16).vec_dot = avx2::VecDotF16;
  at(DType::kQ8_0).quantize = avx2::QuantizeQ8_0;
  at(DType::kQ8_1).quantize = avx2::QuantizeQ8_1;
  at(DType::kQ8_0).quantize_split = avx2::QuantizeQ8_0Split;
  at(DType::kQ8_1).quantize_split = avx2::QuantizeQ8_1Split;
  at(DType::kQ8_K).quantize = avx2::QuantizeQ8K;
  at(DType::kQ4_0).vec_dot = avx2::VecDotQ4_0Q8_0;
  at(DType::kQ4_1).vec_dot = avx2::VecDotQ4_1Q8_1;
  at(DType::kQ8_0).vec_dot = avx2::VecDotQ8_0Q8_0;
  at(DType::kQ4_K).vec_dot = avx2::VecDotQ4KQ8K;
  at(DType::kQ5_K).vec_dot = avx2::VecDotQ5KQ8K;
  at(DType::kQ6_K).vec_dot = avx2::VecDotQ6KQ8K;
  at(DType::kQ4_K).vec_dot_batched = avx2::VecDotQ4KQ8KBatched;
  at(DType::kQ6_K).vec_dot_batched = avx2::VecDotQ6KQ8KBatched;
  at(DType::kQ4_0).vec_dot_x4 = avx2::VecDotQ4_0Q8_0X4;
  at(DType::kQ4_1).vec_dot_x4 = avx2::VecDotQ4_1Q8_1X4;
  at(DType::kQ8_0).vec_dot_x4 = avx2::VecDotQ8_0Q8_0X4;
  at(DType::kQ4_1).vec_dot_x8 = avx2::VecDotQ4_1Q8_1X8;
  at(DType::kQ8_0).vec_dot_x8 = avx2::VecDotQ8_0Q8_0X8;
  at(DType::kQ4_K).vec_dot_x8 = avx2::VecDotQ4KQ8KX8;
  at(DType::kQ6_K).vec_dot_x8 = avx2::VecDotQ6KQ8KX8;
  at(DType::kQ4_K).vec_dot_batched_x4 = avx2::VecDotQ4KQ8KBatchedX4;
  at(DType::kQ6_K).vec_dot_batched_x4 = avx2::VecDotQ6KQ8KBatchedX4;
  at(DType::kQ4_K).rows8_repack = avx2::RepackQ4KRows8;
  at(DType::kQ4_K).rows8_dot_batched = avx2::VecDotQ4KQ8KBatchedRows8;
  at(DType::kQ4_K).rows8_dot_batched_x2 = avx2::VecDotQ4KQ8KBatchedRows8X2;
  at(DType::kQ4_K).rows8_block_bytes = avx2::Q4KRows8BlockBytes();
  at(DType::kQ6_K).rows8_repack = avx2::RepackQ6KRows8;
  at(DType::kQ6_K).rows8_dot_batched = avx2::VecDotQ6KQ8KBatchedRows8;
  at(DType::kQ6_K).rows8_dot_batched_x2 = avx2::VecDotQ6KQ8KBatchedRows8X2;
  at(DType::kQ6_K).rows8_block_bytes = avx2::Q6KRows8BlockBytes();
  at(DType::kQ4_1).packed8_repack = avx2::RepackQ4_1Packed8;
  at(DType::kQ4_1).packed8_dot = avx2::VecDotQ4_1Q8_1Packed8;
  at(DType::kQ4_1).packed8_dot_xn = avx2::VecDotQ4_1Q8_1Packed8XN;
  at(DType::kQ4_1).packed8_xn_prefetches_next = true;
  at(DType::kQ4_1).packed8_block_bytes = avx2::Q4_1Packed8BlockBytes();
  at(DType::kQ4_K).packed8_repack = avx2::RepackQ4KPacked8;
  at(DType::kQ4_K).packed8_dot = avx2::VecDotQ4KQ8KPacked8;
  at(DType::kQ4_K).packed8_dot_xn = avx2::VecDotQ4KQ8KPacked8XN;
  at(DType::kQ4_K).packed8_dot_batched = avx2::VecDotQ4KQ8KBatchedPacked8;
  at(DType::kQ4_K).packed8_dot_batched_x2 = avx2::VecDotQ4KQ8KBatchedPacked8X2;
  at(DType::kQ4_K).packed8_dot_batched_x4 = avx2::VecDotQ4KQ8KBatchedPacked8X4;
  at(DType::kQ4_K).packed8_block_bytes = avx2::Q4KPacked8BlockBytes();
  at(DType::kQ8_0).packed8_repack = avx2::RepackQ8_0Packed8;
  at(DType::kQ8_0).packed8_dot = avx2::VecDotQ8_0Q8_0Packed8;
  at(DType::kQ8_0).packed8_dot_xn = avx2::VecDotQ8_0Q8_0Packed8XN;
  at(DType::kQ8_0).packed8_xn_prefetches_next = true;
  at(DType::kQ8_0).packed8_block_bytes = avx2::Q8_0Packed8BlockBytes();
  return t;
}

#ifdef GLINT_KERNELS_HAVE_AVXVNNI
bool CpuHasAvxVnni() {
#if defined(__clang__)
  unsigned a, b, c, d;  // CPUID.(EAX=7,ECX=1):EAX bit 4
  return CpuHasAvx2() && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 4));
#else
  return CpuHasAvx2() && __builtin_cpu_supports("avxvnni");
#endif
}

#endif

#ifdef GLINT_KERNELS_HAVE_AVX512VNNI
bool CpuHasAvx512Vnni() {
  return CpuHasAvx2() && __builtin_cpu_supports("avx512vnni") &&
         __builtin_cpu_supports("avx512vl");
}
#endif

#ifdef GLINT_KERNELS_HAVE_AVX512VBMI
bool CpuHasAvx512Vbmi() {
  return CpuHasAvx512Vnni() && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vbmi");
}
#endif

#if defined(GLINT_KERNELS_HAVE_AVXVNNI) || defined(GLINT_KERNELS_HAVE_AVX512VNNI)
// The AVX2 table with namespace NS's build of the x86/vnni/ kernels.
#define GLINT_MAKE_VNNI_TABLE(NS)                                                  \
  [] {                                                                             \
    KernelTable t = MakeAvx2Table();                                               \
    t.isa = #NS;                                                                   \
    auto at = [&](DType d) -> TypeKernels& { return t.types[static_cast<uint32_t>(d)]; }; \
    at(DType::kQ4_1).vec_dot_x4 = NS::VecDotQ4_1Q8_1X4;                            \
    at(DType::kQ4_1).vec_dot_x8 = NS::VecDotQ4_1Q8_1X8;                            \
    at(DType::kQ6_K).vec_dot_x8 = NS::VecDotQ6KQ8KX8;                              \
    at(DType::kQ4_K).rows8_dot_batched = NS::VecDotQ4KQ8KBatchedRows8;             \
    at(DType::kQ4_K).rows8_dot_batched_x2 = NS::VecDotQ4KQ8KBatchedRows8X2;        \
    at(DType::kQ6_K).rows8_dot_batched = NS::VecDotQ6KQ8KBatchedRows8;             \
    at(DType::kQ6_K).rows8_dot_batched_x2 = NS::VecDotQ6KQ8KBatchedRows8X2;        \
    at(DType::kQ4_1).packed8_dot = NS::VecDotQ4_1Q8_1Packed8;                      \
    at(DType::kQ4_1).packed8_dot_xn = NS::VecDotQ4_1Q8_1Packed8XN;                 \
    at(DType::kQ8_0).packed8_dot = NS::VecDotQ8_0Q8_0Packed8;                      \
    at(DType::kQ8_0).packed8_dot_xn = NS::VecDotQ8_0Q8_0Packed8XN;                 \
    at(DType::kQ8_0).packed8_xn_unsigned_quants = true;                            \
    at(DType::kQ4_K).packed8_dot = NS::VecDotQ4KQ8KPacked8;                        \
    at(DType::kQ4_K).packed8_dot_xn = NS::VecDotQ4KQ8KPacked8XN;                   \
    at(DType::kQ4_K).packed8_dot_batched = NS::VecDotQ4KQ8KBatchedPacked8;         \
    at(DType::kQ4_K).packed8_dot_batched_x2 = NS::VecDotQ4KQ8KBatchedPacked8X2;    \
    at(DType::kQ4_K).packed8_dot_batched_x4 = NS::VecDotQ4KQ8KBatchedPacked8X4;    \
    return t;                                                                      \
  }()
#endif

OpsTable MakeAvx2Ops() {
  OpsTable o;
  o.isa = "avx2";
  o.rms_norm = avx2::RmsNorm;
  o.softmax = avx2::Softmax;
  o.swiglu = avx2::Swiglu;
  o.axpy = avx2::Axpy;
  o.add = avx2::Add;
  o.dot_f32 = avx2::DotF32;
  o.scale = avx2::Scale;
  o.dot_f16_x4 = avx2::DotF16X4;
  o.dot_f16_x1 = avx2::DotF16X1;
  o.axpy_f16 = avx2::AxpyF16;
  o.scores_f16_x1 = avx2::ScoresF16X1;
  o.scores_f16_x4 = avx2::ScoresF16X4;
  o.weighted_sum_f16 = avx2::WeightedSumF16;
  o.sum_slots = avx2::SumSlots;
  o.weighted_slots_f16 = avx2::WeightedSlotsF16;
  o.rope = avx2::Rope;
  return o;
}
#endif

bool ForceIsa(const char* name) {
  const char* isa = std::getenv("GLINT_ISA");
  return isa != nullptr && std::strcmp(isa, name) == 0;
}

bool ForceGeneric() { return ForceIsa("generic"); }

}  // namespace

float HalfToFloat(uint16_t h) {
  // IEEE 754 binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  const uint32_t mant = h & 0x3FF;
  if (exp == 0x1F) return BitsFloat(sign | 0x7F800000 | (mant << 13));  // inf / NaN
  if (exp != 0) return BitsFloat(sign | ((exp + 112) << 23) | (mant << 13));
  // Zero or subnormal: mant * 2^-24, exact in float.
  const float v = static_cast<float>(mant) * 5.9604644775390625e-8f;
  return sign ? -v : v;
}

uint16_t FloatToHalf(float f) {
  uint32_t x = FloatBits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  x &= 0x7FFFFFFF;
  if (x >= 0x7F800000) {  // inf or NaN (NaN keeps its top payload, quieted)
    return sign | (x > 0x7F800000 ? (0x7E00 | ((x >> 13) & 0x3FF)) : 0x7C00);
  }
  if (x >= 0x477FF000) return sign | 0x7C00;  // >= 65520 rounds to inf
  if (x < 0x38800000) {
    // Below the smallest normal half (2^-14): adding 0.5 puts the value's
    // 2^-24 multiples in the float mantissa, rounded to nearest even by the
    // addition itself.
    const float v = BitsFloat(x) + 0.5f;
    return sign | static_cast<uint16_t>(FloatBits(v) - 0x3F000000);
  }
  // Rebias the exponent (127 -> 15) and round the 13 dropped bits to even.
  const uint32_t odd = (x >> 13) & 1;
  x += 0xC8000FFF + odd;
  return sign | static_cast<uint16_t>(x >> 13);
}

float Bf16ToFloat(uint16_t h) { return BitsFloat(static_cast<uint32_t>(h) << 16); }

uint16_t FloatToBf16(float f) {
  const uint32_t u = FloatBits(f);
  if ((u & 0x7FFFFFFF) > 0x7F800000) return static_cast<uint16_t>((u >> 16) | 64);  // quiet NaN
  return static_cast<uint16_t>((u + (0x7FFF + ((u >> 16) & 1))) >> 16);
}

float HalfToFloatTable(uint16_t h) { return HalfTable()[h]; }

const KernelTable& GenericKernels() {
  static const KernelTable table = MakeGenericTable();
  return table;
}

const KernelTable* Avx2Kernels() {
#ifdef GLINT_KERNELS_HAVE_X86
  static const KernelTable* table = CpuHasAvx2() ? new KernelTable(MakeAvx2Table()) : nullptr;
  return table;
#else
  return nullptr;
#endif
}

const KernelTable* AvxVnniKernels() {
#ifdef GLINT_KERNELS_HAVE_AVXVNNI
  static const KernelTable* table =
      CpuHasAvxVnni() ? new KernelTable(GLINT_MAKE_VNNI_TABLE(avxvnni)) : nullptr;
  return table;
#else
  return nullptr;
#endif
}

const KernelTable* Avx512VnniKernels() {
#ifdef GLINT_KERNELS_HAVE_AVX512VNNI
  static const KernelTable* table =
      CpuHasAvx512Vnni() ? new KernelTable(GLINT_MAKE_VNNI_TABLE(avx512vnni)) : nullptr;
  return table;
#else
  return nullptr;
#endif
}

const KernelTable* Avx512VbmiKernels() {
#ifdef GLINT_KERNELS_HAVE_AVX512VBMI
  static const KernelTable* table = [] {
    KernelTable* t = nullptr;
    if (CpuHasAvx512Vbmi()) {
      t = new KernelTable(*Avx512VnniKernels());
      t->isa = "avx512vbmi";
      t->types[static_cast<uint32_t>(DType::kQ4_1)].packed8_dot_xn =
          avx512vbmi::VecDotQ4_1Q8_1Packed8XN;
      t->types[static_cast<uint32_t>(DType::kQ8_0)].packed8_dot_xn =
          avx512vbmi::VecDotQ8_0Q8_0Packed8XN;
    }
    return t;
  }();
  return table;
#else
  return nullptr;
#endif
}

const KernelTable& ActiveKernels() {
  static const KernelTable* table = [] {
    if (ForceGeneric()) return &GenericKernels();
    const KernelTable* best = nullptr;
    if (ForceIsa("avx512vbmi")) {
      best = Avx512VbmiKernels();
      if (best == nullptr) best = Avx512VnniKernels();
    } else if (ForceIsa("avx512vnni")) {
      best = Avx512VnniKernels();
    } else if (ForceIsa("avxvnni")) {
      best = AvxVnniKernels();
    } else if (!ForceIsa("avx2")) {
      // Both builds where the CPU has both (Sapphire Rapids): the EVEX one's
      // 32 registers let the Q4_1 and Q8_0 kernels of several tokens share
      // each activation load across two rows (fast pp512 737-749 -> 814-831
      // tok/s there, glint bench -p 512, two alternating runs each).
      // The 512-bit kernels on Intel only: there a 512-bit operation does
      // twice the work of a 256-bit one on two of the three vector ports (8
      // fast sequences 735 -> 815 tok/s on a Sapphire Rapids VM); AMD Zen 4
      // splits it in two, which would leave their extra shuffles a cost
      // (not measured there; GLINT_ISA=avx512vbmi picks them).
      if (__builtin_cpu_is("intel")) best = Avx512VbmiKernels();
      if (best == nullptr) best = Avx512VnniKernels();
      if (best == nullptr) best = AvxVnniKernels();
    }
    if (best == nullptr) best = Avx2Kernels();
    return best != nullptr ? best : &GenericKernels();
  }();
  return *table;
}

bool IsSupportedWeightType(DType t) {
  if (static_cast<uint32_t>(t) >= kDTypeIdLimit) return false;
  const TypeKernels& k = ActiveKernels()[t];
  return k.dequantize != nullptr && k.vec_dot != nullptr;
}

const OpsTable& GenericOps() {
  static const OpsTable ops = MakeGenericOps();
  return ops;
}

const OpsTable* Avx2Ops() {
#ifdef GLINT_KERNELS_HAVE_X86
  static const OpsTable* ops = CpuHasAvx2() ? new OpsTable(MakeAvx2Ops()) : nullptr;
  return ops;
#else
  return nullptr;
#endif
}

const OpsTable* Avx512Ops() {
#ifdef GLINT_KERNELS_HAVE_AVX512VBMI
  static const OpsTable* ops = [] {
    OpsTable* o = nullptr;
    if (CpuHasAvx512Vbmi() && Avx2Ops() != nullptr) {
      o = new OpsTable(*Avx2Ops());
      o->isa = "avx512vbmi";
      o->swiglu = avx512vbmi::Swiglu;
      o->scores_f16_x4 = avx512vbmi::ScoresF16X4;
      o->weighted_slots_f16 = avx512vbmi::WeightedSlotsF16;
      o->weighted_sum_f16 = avx512vbmi::WeightedSumF16;
    }
    return o;
  }();
  return ops;
#else
  return nullptr;
#endif
}

const OpsTable& ActiveOps() {
  static const OpsTable* ops = [] {
    if (ForceGeneric()) return &GenericOps();
    // As ActiveKernels: the 512-bit ones on Intel, or where GLINT_ISA asks.
    const OpsTable* best = nullptr;
    if (ForceIsa("avx512vbmi") || (__builtin_cpu_is("intel") && !ForceIsa("avx2") &&
                                   !ForceIsa("avxvnni") && !ForceIsa("avx512vnni"))) {
      best = Avx512Ops();
    }
    if (best == nullptr) best = Avx2Ops();
    return best != nullptr ? best : &GenericOps();
  }();
  return *ops;
}

}  // namespace glint::kernels
