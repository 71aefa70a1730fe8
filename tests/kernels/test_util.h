// Helpers shared by the kernel tests: random inputs, random blocks of every
// format, deliberately misaligned buffers.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "gguf/dtype.h"
#include "kernels/kernels.h"

namespace glint::kernels::testing {

// A byte buffer whose data() starts `offset` bytes past a 64-byte boundary.
class OffsetBuffer {
 public:
  OffsetBuffer(size_t bytes, size_t offset) : storage_(bytes + offset + 64) {
    auto base = reinterpret_cast<uintptr_t>(storage_.data());
    data_ = storage_.data() + ((64 - base % 64) % 64) + offset;
  }
  uint8_t* data() { return data_; }
  float* floats() { return reinterpret_cast<float*>(data_); }

 private:
  std::vector<uint8_t> storage_;
  uint8_t* data_;
};

enum class Fill { kNormal, kWithZeros, kExtremes, kAllZero };

// Activations: normal data, data with runs of zeros, data with a few huge and
// tiny values per block (stress for amax-based scales), or all zeros.
inline std::vector<float> RandomFloats(std::mt19937& rng, int64_t n, Fill fill = Fill::kNormal) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> pick(0, 31);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) {
    x = normal(rng);
    switch (fill) {
      case Fill::kNormal:
        break;
      case Fill::kWithZeros:
        if (pick(rng) < 12) x = 0;
        break;
      case Fill::kExtremes: {
        const int p = pick(rng);
        if (p == 0) x *= 1e4f;
        if (p == 1) x *= 1e-6f;
        if (p == 2) x = -x * 300.0f;
        break;
      }
      case Fill::kAllZero:
        x = 0;
        break;
    }
  }
  return v;
}

// Byte offsets of the f16 fields inside one block of a weight format.
inline std::vector<int> HalfFieldOffsets(DType t) {
  switch (t) {
    case DType::kQ4_0:
    case DType::kQ5_0:
    case DType::kQ8_0:
      return {0};
    case DType::kQ4_1:
    case DType::kQ5_1:
    case DType::kQ8_1:
    case DType::kQ4_K:
    case DType::kQ5_K:
      return {0, 2};
    case DType::kQ6_K:
      return {208};
    default:
      return {};
  }
}

// n elements of weight type t with uniformly random quant bits and finite
// random scales in [-scale, scale]. F32/F16/BF16 get normal values.
inline std::vector<uint8_t> RandomWeights(std::mt19937& rng, DType t, int64_t n,
                                          float scale = 0.05f) {
  const size_t bytes = RowBytes(t, n);
  std::vector<uint8_t> w(bytes);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> uni(-scale, scale);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  if (t == DType::kF32 || t == DType::kF16 || t == DType::kBF16) {
    for (int64_t i = 0; i < n; ++i) {
      const float v = normal(rng);
      if (t == DType::kF32) std::memcpy(w.data() + 4 * i, &v, 4);
      const uint16_t h = t == DType::kF16 ? FloatToHalf(v) : FloatToBf16(v);
      if (t != DType::kF32) std::memcpy(w.data() + 2 * i, &h, 2);
    }
    return w;
  }
  for (auto& b : w) b = static_cast<uint8_t>(byte(rng));
  const size_t block_bytes = GetDTypeInfo(t).block_bytes;
  for (size_t off = 0; off < bytes; off += block_bytes) {
    for (int field : HalfFieldOffsets(t)) {
      const uint16_t h = FloatToHalf(uni(rng));
      std::memcpy(w.data() + off + field, &h, 2);
    }
  }
  return w;
}

// The block formats with a dot product, i.e. the weight types.
inline std::vector<DType> WeightTypes() {
  return {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0,
          DType::kQ5_1, DType::kQ8_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};
}

// Required alignment of a row of type t (its widest field).
inline size_t RowAlignment(DType t) {
  switch (t) {
    case DType::kF32:
    case DType::kQ8_K:
      return 4;
    default:
      return 2;
  }
}

// The tables to hold against the generic one: every compiled-in ISA this CPU runs.
inline std::vector<const KernelTable*> SimdTables() {
  std::vector<const KernelTable*> t;
  if (Avx2Kernels() != nullptr) t.push_back(Avx2Kernels());
  if (AvxVnniKernels() != nullptr) t.push_back(AvxVnniKernels());
  if (Avx512VnniKernels() != nullptr) t.push_back(Avx512VnniKernels());
  if (Avx512VbmiKernels() != nullptr) t.push_back(Avx512VbmiKernels());
  return t;
}

}  // namespace glint::kernels::testing
