// glint's scalar dequantizers against an independent implementation: golden
// vectors produced by the `gguf` PyPI package (gguf.quants.dequantize) from
// random blocks, see gen_dequant_golden.py. Exact equality: every format's
// decoding is one or two float operations per element that both sides round
// the same way (d * q, or d * q - m computed as separate products).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace glint::kernels {
namespace {

struct Record {
  uint32_t type;
  std::vector<uint8_t> blocks;
  std::vector<float> values;
};

std::vector<Record> LoadGolden() {
  const std::string path = std::string(GLINT_SOURCE_DIR) + "/tests/kernels/data/dequant_golden.dat";
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<Record> out;
  if (data.size() < 8 || std::memcmp(data.data(), "GLDQ", 4) != 0) return out;
  size_t pos = 4;
  auto u32 = [&]() {
    uint32_t v;
    std::memcpy(&v, data.data() + pos, 4);
    pos += 4;
    return v;
  };
  const uint32_t count = u32();
  for (uint32_t i = 0; i < count; ++i) {
    Record r;
    r.type = u32();
    const uint32_t n = u32(), bytes = u32();
    r.blocks.assign(data.begin() + pos, data.begin() + pos + bytes);
    pos += bytes;
    r.values.resize(n);
    std::memcpy(r.values.data(), data.data() + pos, 4 * n);
    pos += 4 * n;
    out.push_back(std::move(r));
  }
  return out;
}

TEST(DequantRefTest, MatchesGgufPackage) {
  const std::vector<Record> records = LoadGolden();
  ASSERT_EQ(records.size(), 10u) << "missing or stale tests/kernels/data/dequant_golden.dat";
  for (const Record& r : records) {
    const DType t = static_cast<DType>(r.type);
    SCOPED_TRACE(DTypeName(t));
    const auto n = static_cast<int64_t>(r.values.size());
    ASSERT_EQ(RowBytes(t, n), r.blocks.size());
    std::vector<float> got(r.values.size());
    GenericKernels()[t].dequantize(r.blocks.data(), got.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(got[i], r.values[i]) << "element " << i;
    }
  }
}

}  // namespace
}  // namespace glint::kernels
