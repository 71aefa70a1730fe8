// Tensor element types as numbered in the GGUF format (ggml type ids), with
// the block geometry needed to size a tensor. The arithmetic on these formats
// lives in kernels/; this file only knows how many bytes a row takes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace glint {

enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kBF16 = 30,
};

inline constexpr uint32_t kDTypeIdLimit = 64;

struct DTypeInfo {
  const char* name;    // "Q4_K"; nullptr for an id glint does not know
  int64_t block_size;  // elements per block (1 for plain types)
  size_t block_bytes;  // bytes per block
};

// Geometry of a type id; info.name == nullptr when the id is unknown.
const DTypeInfo& GetDTypeInfo(uint32_t id);
inline const DTypeInfo& GetDTypeInfo(DType t) { return GetDTypeInfo(static_cast<uint32_t>(t)); }
inline const char* DTypeName(DType t) {
  const char* n = GetDTypeInfo(t).name;
  return n ? n : "unknown";
}

// Bytes taken by n elements of type t; n must be a multiple of the block size.
inline size_t RowBytes(DType t, int64_t n) {
  const DTypeInfo& info = GetDTypeInfo(t);
  return static_cast<size_t>(n / info.block_size) * info.block_bytes;
}

}  // namespace glint
