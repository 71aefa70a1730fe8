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
// Dot product of n elements: x is a weight row of the table entry's type, y an
// activation row of its vec_dot_type. n is a multiple of the block size.
using VecDotFn = float (*)(int64_t n, const void* x, const void* y);

struct TypeKernels {
  DequantizeRowFn dequantize = nullptr;  // nullptr: type unsupported
  QuantizeRowFn quantize = nullptr;      // nullptr: glint cannot produce this type
  VecDotFn vec_dot = nullptr;
  DType vec_dot_type = DType::kF32;
};

struct KernelTable {
  const char* isa = "generic";
  TypeKernels types[kDTypeIdLimit];

  const TypeKernels& operator[](DType t) const { return types[static_cast<uint32_t>(t)]; }
};

const KernelTable& GenericKernels();
// nullptr when not compiled in or when this CPU lacks AVX2/FMA/F16C.
const KernelTable* Avx2Kernels();
// Chosen once from the CPU's features; GLINT_ISA=generic forces the reference.
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
