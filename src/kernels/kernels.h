// Per-type kernels, dispatched through a table indexed by DType.
//
// For each weight type there is: dequantization of a row to f32, the
// activation type its dot product consumes (`vec_dot_type`), quantization of
// f32 into a type, and the dot product of a weight row with an activation row.
// The activation formats follow the reference engine's (Q8_0 for Q4_0, Q5_0
// and Q8_0; Q8_1 for Q4_1 and Q5_1; Q8_K for the K-quants; F16 for F16), so
// that glint rounds activations where it does.
//
// GenericKernels() is the scalar reference. Faster tables (AVX2) are tested
// against it; ActiveKernels() picks one at start-up from the CPU's features.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gguf/dtype.h"

namespace glint::kernels {

using DequantizeRowFn = void (*)(const void* src, float* dst, int64_t n);
using QuantizeRowFn = void (*)(const float* src, void* dst, int64_t n);
// QuantizeRowFn for Q8_0 / Q8_1 that also writes the row's part of the
// split layout the many-token kernels read (QuantizedActivations::scales
// and ::quants): block i's d and s, converted back from f16 to float, at
// scales[2 * i * scales_stride] and scales[(2 * i + 1) * scales_stride] (s
// 0 for Q8_0), and its 32 quants at quants + 32 * i, each q ^ 0x80 if flip.
using QuantizeSplitFn = void (*)(const float* src, void* dst, int64_t n, float* scales,
                                 size_t scales_stride, int8_t* quants, bool flip);
// Dot product of n elements: x is a weight row of the table entry's type, y an
// activation row of its vec_dot_type. n is a multiple of the block size.
using VecDotFn = float (*)(int64_t n, const void* x, const void* y);
// The same dot product of one weight row x with four activation rows, y +
// j * y_stride for j < 4: out[j] is bit-identical to the VecDotFn it
// accompanies applied to row j. Lets a matrix product unpack each weight
// block once for four tokens.
using VecDotX4Fn = void (*)(int64_t n, const void* x, const void* y, size_t y_stride, float* out);
// The same for up to eight activation rows (n_tokens in 1..8) whose block
// scales are also given in float (except Q8_K, whose blocks hold a float
// scale: scales is then unused): for block i, token j's d is
// scales[2 * i * scales_stride + j] and, for Q8_1, its s is
// scales[(2 * i + 1) * scales_stride + j]; each of those rows of scales is
// readable to 8 entries. Converting the scales once per matrix product
// rather than once per row leaves the kernel one integer dot, one product
// of scales and one multiply-add per token and block.
using VecDotX8Fn = void (*)(int64_t n, const void* x, const void* y, size_t y_stride,
                            const float* scales, size_t scales_stride, int n_tokens, float* out);
// Eight weight rows repacked so that vector lanes hold rows (the layout is
// the kernel's own): RepackRows8Fn writes n / block_size blocks of
// rows8_block_bytes from rows x, x + x_row_bytes, ...; VecDotRows8Fn
// continues the dot products of those rows with one activation row over n
// more elements, in `state` (16 floats, zero to start; blocks may be fed in
// several calls, in order); then row r's result, bit-identical to the
// accompanying VecDotFn, is state[r] - state[8 + r]. For prompts: one
// repack serves every token.
using RepackRows8Fn = void (*)(int64_t n, const void* x, size_t x_row_bytes, void* dst);
using VecDotRows8Fn = void (*)(int64_t n, const void* xr, const void* y, float* state);
// The same for two activation rows at once, y and y + y_stride, into
// state and state + 16: each packed weight block is loaded once for both
// (or for four: y + t * y_stride into state + 16 t, t < 4, where a table
// entry says so).
using VecDotRows8X2Fn = void (*)(int64_t n, const void* xr, const void* y, size_t y_stride,
                                 float* state);
// Eight weight rows repacked once, when the model loads, for single-token
// products (decode; for some types prompts too), in a layout of the
// kernel's own: packed8_repack (a RepackRows8Fn) writes the n / block_size
// blocks of rows x, x + x_row_bytes, ... (packed8_block_bytes each: as many
// bytes as the eight rows' blocks, or at most 32 more); VecDotPacked8Fn
// writes the eight rows' dot products with one activation row to
// out[0..8), each bit-identical to vec_dot on that row. A packed matrix (kernels::PackRows8) holds its groups of eight rows
// one after another.
using VecDotPacked8Fn = void (*)(int64_t n, const void* xr, const void* y, float* out);
// The same for n_tokens (2..8) activation rows y + t * y_stride with their
// float scales as VecDotX8Fn takes them: row r of token t to
// out[t * out_stride + r], each bit-identical to vec_dot. Activations with
// float scales (Q8_0, Q8_1) come as their quants alone: 32 bytes per block,
// each block 32-byte aligned (QuantizedActivations::quants); the kernels'
// loads of a 36-byte Q8_1 block's quants straddled cache lines.
// next: the group of eight rows to prefetch while this one is read, a
// block of it as the kernel reaches that block (spread over the call
// instead of a burst before it), or nullptr.
using VecDotPacked8XNFn = void (*)(int64_t n, const void* xr, const void* next, const void* y,
                                   size_t y_stride, const float* scales, size_t scales_stride,
                                   int n_tokens, float* out, size_t out_stride);

// The reference engine evaluates a prompt in batches; for some weight types
// its matrix product then sums each output in another order than its
// single-token product. BatchedOrder says which tokens of a reference batch
// take that order (TypeKernels::vec_dot_batched).
enum class BatchedOrder : uint8_t {
  kNever,     // every token: vec_dot
  kTilesOf4,  // tokens in the batch's leading multiple of 4 (its repacked
              // 4-row GEMM tiles); the rest: vec_dot (its GEMV)
  kFrom8,     // every token of a batch of 8 or more (its tiled matmul)
};

struct TypeKernels {
  DequantizeRowFn dequantize = nullptr;  // nullptr: type unsupported
  QuantizeRowFn quantize = nullptr;      // nullptr: glint cannot produce this type
  VecDotFn vec_dot = nullptr;
  DType vec_dot_type = DType::kF32;
  QuantizeSplitFn quantize_split = nullptr;  // nullptr: quantize, then split
  VecDotFn vec_dot_batched = nullptr;    // same contract as vec_dot; nullptr: vec_dot
  BatchedOrder batched_order = BatchedOrder::kNever;
  VecDotX4Fn vec_dot_x4 = nullptr;          // four tokens of vec_dot; nullptr: none
  VecDotX4Fn vec_dot_batched_x4 = nullptr;  // four tokens of vec_dot_batched
  VecDotX8Fn vec_dot_x8 = nullptr;          // up to eight tokens of vec_dot; nullptr: none
  RepackRows8Fn rows8_repack = nullptr;     // nullptr: no eight-row kernel
  VecDotRows8Fn rows8_dot_batched = nullptr;  // eight rows of vec_dot_batched
  VecDotRows8X2Fn rows8_dot_batched_x2 = nullptr;  // the same for two tokens; nullptr: none
  size_t rows8_block_bytes = 0;
  RepackRows8Fn packed8_repack = nullptr;   // nullptr: no packed single-token kernel
  VecDotPacked8Fn packed8_dot = nullptr;
  VecDotPacked8XNFn packed8_dot_xn = nullptr;  // nullptr: none (tokens go to vec_dot_x8)
  // packed8_dot_xn reads each quant q of QuantizedActivations::quants as
  // the byte q ^ 0x80 (q + 128 as unsigned), offset once per matrix product
  // rather than once per group of eight rows.
  bool packed8_xn_unsigned_quants = false;
  // packed8_dot_xn prefetches its `next` group (VecDotPacked8XNFn);
  // otherwise the caller fetches it before the call.
  bool packed8_xn_prefetches_next = false;
  size_t packed8_block_bytes = 0;
  // The eight-row kernels' batched order (rows8_dot_batched, _x2) over the
  // load-time packing: prompts skip the per-chunk repacking; nullptr: none.
  VecDotRows8Fn packed8_dot_batched = nullptr;
  VecDotRows8X2Fn packed8_dot_batched_x2 = nullptr;
  VecDotRows8X2Fn packed8_dot_batched_x4 = nullptr;  // four tokens; nullptr: none
  // How far ahead of the weight rows it streams one token's product of this
  // type prefetches them into L1, in bytes; 0: none, the hardware prefetcher
  // alone. Set per CPU vendor and type (kernels.cc) and by
  // GLINT_PREFETCH=<bytes> for every type.
  size_t prefetch_bytes = 0;

  // The dot product for token `index` of a reference batch of `batch` tokens.
  VecDotFn DotFor(int64_t batch, int64_t index) const {
    if (vec_dot_batched == nullptr) return vec_dot;
    switch (batched_order) {
      case BatchedOrder::kTilesOf4: return index < batch - batch % 4 ? vec_dot_batched : vec_dot;
      case BatchedOrder::kFrom8: return batch >= 8 ? vec_dot_batched : vec_dot;
      case BatchedOrder::kNever: break;
    }
    return vec_dot;
  }

  // A four-token kernel for tokens index .. index + 3 of a reference batch,
  // when all four take the same order and it has one; otherwise nullptr.
  // (The tokens of each order form one interval, so the ends decide.)
  VecDotX4Fn DotX4For(int64_t batch, int64_t index) const {
    const VecDotFn dot = DotFor(batch, index);
    if (dot != DotFor(batch, index + 3)) return nullptr;
    if (dot == vec_dot) return vec_dot_x4;
    if (dot == vec_dot_batched) return vec_dot_batched_x4;
    return nullptr;
  }
};

struct KernelTable {
  const char* isa = "generic";
  TypeKernels types[kDTypeIdLimit];
  // Where several tokens in the single-token order (a draft, sequences
  // decoded together, a Q4_1 prompt) prefetch the next group of packed rows
  // while the current one serves them: L1 (prefetcht0) or L2 (prefetcht1).
  // Set per CPU vendor and by GLINT_GROUP_PREFETCH=l1|l2.
  bool prefetch_groups_to_l1 = false;
  // Whether a prompt's eight-row products in the batched order (DotRows8)
  // prefetch the next group of eight rows into L2 while the current one
  // serves every token. Set per CPU vendor; GLINT_PREFETCH=0 turns it off.
  bool prefetch_rows8_groups = false;

  const TypeKernels& operator[](DType t) const { return types[static_cast<uint32_t>(t)]; }
};

const KernelTable& GenericKernels();
// nullptr when not compiled in or when this CPU lacks AVX2/FMA/F16C.
const KernelTable* Avx2Kernels();
// The AVX2 table with AVX-VNNI integer sums where they pay; nullptr when not
// compiled in or when this CPU lacks AVX-VNNI (or AVX2).
const KernelTable* AvxVnniKernels();
// The same kernels built for AVX512-VNNI on 256-bit vectors (EVEX): for CPUs
// that have it without AVX-VNNI (AMD Zen 4), and preferred where both are
// (its 32 registers); nullptr when not compiled in or not here.
const KernelTable* Avx512VnniKernels();
// That table with 512-bit kernels (x86/avx512/) where they pay, for CPUs
// that also have AVX512 VBMI and BW; nullptr when not compiled in or not
// here.
const KernelTable* Avx512VbmiKernels();
// Chosen once from the CPU's features, the widest first; GLINT_ISA=generic,
// avx2, avxvnni, avx512vnni or avx512vbmi forces that table (when the CPU runs it;
// otherwise the next narrower one).
const KernelTable& ActiveKernels();

// True when weights of type t can be used in a matmul (dequantize and vec_dot
// present in the active table).
bool IsSupportedWeightType(DType t);

// IEEE half <-> float conversions (round to nearest even), scalar.
float HalfToFloat(uint16_t h);
uint16_t FloatToHalf(float f);
float Bf16ToFloat(uint16_t h);
// float -> bfloat16, round to nearest even; NaN stays a (quiet) NaN.
uint16_t FloatToBf16(float f);

}  // namespace glint::kernels
