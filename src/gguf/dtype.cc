#include "gguf/dtype.h"

#include <array>

namespace glint {
namespace {

// Block sizes and byte counts from the GGUF specification's type table
// (QK_K = 256 for the K-quants).
constexpr std::array<DTypeInfo, kDTypeIdLimit> MakeTable() {
  std::array<DTypeInfo, kDTypeIdLimit> t{};
  for (auto& e : t) e = DTypeInfo{nullptr, 1, 0};
  t[0] = {"F32", 1, 4};
  t[1] = {"F16", 1, 2};
  t[2] = {"Q4_0", 32, 2 + 16};
  t[3] = {"Q4_1", 32, 2 + 2 + 16};
  t[6] = {"Q5_0", 32, 2 + 4 + 16};
  t[7] = {"Q5_1", 32, 2 + 2 + 4 + 16};
  t[8] = {"Q8_0", 32, 2 + 32};
  t[9] = {"Q8_1", 32, 2 + 2 + 32};
  t[10] = {"Q2_K", 256, 256 / 16 + 256 / 4 + 2 + 2};
  t[11] = {"Q3_K", 256, 256 / 8 + 256 / 4 + 12 + 2};
  t[12] = {"Q4_K", 256, 2 + 2 + 12 + 256 / 2};
  t[13] = {"Q5_K", 256, 2 + 2 + 12 + 256 / 8 + 256 / 2};
  t[14] = {"Q6_K", 256, 256 / 2 + 256 / 4 + 256 / 16 + 2};
  t[15] = {"Q8_K", 256, 4 + 256 + 2 * 256 / 16};
  t[24] = {"I8", 1, 1};
  t[25] = {"I16", 1, 2};
  t[26] = {"I32", 1, 4};
  t[27] = {"I64", 1, 8};
  t[28] = {"F64", 1, 8};
  t[30] = {"BF16", 1, 2};
  return t;
}

constexpr std::array<DTypeInfo, kDTypeIdLimit> kTable = MakeTable();
const DTypeInfo kUnknown{nullptr, 1, 0};

}  // namespace

const DTypeInfo& GetDTypeInfo(uint32_t id) {
  return id < kDTypeIdLimit ? kTable[id] : kUnknown;
}

}  // namespace glint
