// libFuzzer target for the GGUF reader: parses arbitrary bytes and, when they
// parse, reads every metadata value and every tensor byte, so that ASan flags
// any view the parser hands out that is not inside the input. It also checks
// the invariants the rest of glint relies on (tensor geometry, alignment) and
// traps when one does not hold.
//
// Build and run: see tests/fuzz/README.md.

#include <cstddef>
#include <cstdint>
#include <string>

#include "gguf/dtype.h"
#include "gguf/gguf.h"

namespace {

using glint::gguf::GgufFile;
using glint::gguf::Value;
using glint::gguf::ValueType;

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond)) __builtin_trap(); \
  } while (0)

uint64_t Touch(const Value& v, const uint8_t* begin, const uint8_t* end) {
  uint64_t h = static_cast<uint64_t>(v.type) + v.u + static_cast<uint64_t>(v.i);
  if (v.f == v.f) h += static_cast<uint64_t>(v.f != 0);
  if (v.type == ValueType::kString) {
    const auto* s = reinterpret_cast<const uint8_t*>(v.s.data());
    if (!v.s.empty()) FUZZ_CHECK(s >= begin && s + v.s.size() <= end);
    for (char c : v.s) h = h * 31 + static_cast<uint8_t>(c);
  }
  if (v.type == ValueType::kArray) {
    for (const Value& e : v.array) {
      FUZZ_CHECK(e.type == v.array_type);
      h += Touch(e, begin, end);
    }
  } else {
    FUZZ_CHECK(v.array.empty());
  }
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto result = GgufFile::Parse(data, size, "fuzz");
  if (!result.ok()) {
    FUZZ_CHECK(!result.status().message().empty());
    return 0;
  }
  const GgufFile& file = *result.value();
  const uint8_t* end = data + size;
  FUZZ_CHECK(file.version() == 2 || file.version() == 3);
  const uint64_t alignment = file.alignment();
  FUZZ_CHECK(alignment != 0 && (alignment & (alignment - 1)) == 0);

  volatile uint64_t sink = 0;
  for (const auto& [key, value] : file.metadata()) {
    FUZZ_CHECK(!key.empty());
    FUZZ_CHECK(file.Find(key) == &value);
    sink = sink + Touch(value, data, end);
    // Every getter must answer (a value or a Status) without reading out of bounds.
    auto s = file.GetString(key);
    if (s.ok()) sink = sink + s.value().size();
    auto i = file.GetInt(key);
    if (i.ok()) sink = sink + static_cast<uint64_t>(i.value());
    (void)file.GetFloat(key);
    (void)file.GetBool(key);
    (void)file.GetArray(key);
    (void)file.GetIntOr(key, 0);
    (void)file.GetFloatOr(key, 0);
  }

  for (const auto& t : file.tensors()) {
    FUZZ_CHECK(file.FindTensor(t.name) == &t);
    FUZZ_CHECK(t.n_dims >= 1 && t.n_dims <= 4);
    const glint::DTypeInfo& info = glint::GetDTypeInfo(t.type);
    FUZZ_CHECK(info.name != nullptr);
    for (int d = 0; d < 4; ++d) FUZZ_CHECK(t.ne[d] >= 1);
    FUZZ_CHECK(t.ne[0] % info.block_size == 0);
    // n_bytes must describe exactly the tensor's elements (a wrapped product
    // would let a consumer that trusts n_elements() read past the data).
    FUZZ_CHECK(t.n_bytes == static_cast<uint64_t>(t.n_elements() / info.block_size) *
                                info.block_bytes);
    FUZZ_CHECK(t.data >= data && t.n_bytes <= static_cast<uint64_t>(end - t.data));
    FUZZ_CHECK(static_cast<uint64_t>(t.data - data) % alignment == 0);
    FUZZ_CHECK(t.offset % alignment == 0);
    uint64_t h = 0;
    for (uint64_t k = 0; k < t.n_bytes; ++k) h += t.data[k];
    sink = sink + h + t.ShapeString().size();
  }
  sink = sink + std::string(file.DominantTypeName()).size();
  return 0;
}
