// Byte-level GGUF builder for tests: writes any value type (incl. nested
// arrays) and any header or tensor entry, malformed on purpose if asked.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gguf/gguf.h"

namespace glint::gguf::testing {

class Bytes {
 public:
  template <typename T>
  Bytes& Put(T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    data_.insert(data_.end(), b, b + sizeof(T));
    return *this;
  }
  Bytes& Str(const std::string& s) {
    Put<uint64_t>(s.size());
    data_.insert(data_.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& Raw(const std::vector<uint8_t>& b) {
    data_.insert(data_.end(), b.begin(), b.end());
    return *this;
  }
  Bytes& PadTo(size_t alignment) {
    data_.resize((data_.size() + alignment - 1) / alignment * alignment, 0);
    return *this;
  }
  Bytes& Zeros(size_t n) {
    data_.resize(data_.size() + n, 0);
    return *this;
  }
  size_t size() const { return data_.size(); }
  const std::vector<uint8_t>& data() const { return data_; }

 private:
  std::vector<uint8_t> data_;
};

constexpr uint32_t kMagicLE = 0x46554747;

inline Bytes Header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3,
                    uint32_t magic = kMagicLE) {
  Bytes b;
  b.Put<uint32_t>(magic).Put<uint32_t>(version).Put<uint64_t>(n_tensors).Put<uint64_t>(n_kv);
  return b;
}

// A key-value entry's key and type; the caller appends the value.
inline Bytes& Key(Bytes& b, const std::string& key, ValueType type) {
  return b.Str(key).Put<uint32_t>(static_cast<uint32_t>(type));
}

inline Bytes& TensorEntry(Bytes& b, const std::string& name, const std::vector<uint64_t>& ne,
                          uint32_t type, uint64_t offset) {
  b.Str(name).Put<uint32_t>(static_cast<uint32_t>(ne.size()));
  for (uint64_t n : ne) b.Put<uint64_t>(n);
  return b.Put<uint32_t>(type).Put<uint64_t>(offset);
}

inline Result<std::unique_ptr<GgufFile>> ParseBytes(const std::vector<uint8_t>& b) {
  return GgufFile::Parse(b.data(), b.size(), "test.gguf");
}

}  // namespace glint::gguf::testing
