// Reading GGUF files (versions 2 and 3).
//
// The file is memory-mapped; metadata strings and tensor data are views into
// the mapping, so a GgufFile must outlive everything read from it. Every
// count, length, offset and size is checked against the bytes actually present
// before it is used: a corrupt or hostile file gives a Status, never an
// out-of-bounds read.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/mapped_file.h"
#include "base/status.h"
#include "gguf/dtype.h"

namespace glint::gguf {

enum class ValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

const char* ValueTypeName(ValueType type);

// One metadata value. Integers are widened to 64 bits, floats to double; the
// original type is kept in `type`.
struct Value {
  ValueType type = ValueType::kUint8;
  uint64_t u = 0;      // unsigned integers and bool
  int64_t i = 0;       // signed integers (also set for unsigned ones that fit)
  double f = 0;        // floats
  std::string_view s;  // strings (a view into the mapping)
  ValueType array_type = ValueType::kUint8;
  std::vector<Value> array;

  bool IsInteger() const;
  bool IsFloat() const { return type == ValueType::kFloat32 || type == ValueType::kFloat64; }
};

struct TensorInfo {
  std::string name;
  DType type = DType::kF32;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};  // ne[0] is the contiguous (row) dimension
  uint64_t offset = 0;           // relative to the start of the data section
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  std::string ShapeString() const;
};

class GgufFile {
 public:
  static Result<std::unique_ptr<GgufFile>> Open(const std::string& path);
  // Parses bytes already in memory (for fuzzing and tests); `data` must
  // outlive the result.
  static Result<std::unique_ptr<GgufFile>> Parse(const uint8_t* data, size_t size,
                                                 std::string name);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  size_t file_size() const { return size_; }

  // Metadata, in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
  const Value* Find(std::string_view key) const;

  // Typed look-ups. Each fails with NotFound for a missing key and
  // InvalidArgument (naming the key, expected and found types) for a mismatch.
  Result<std::string_view> GetString(std::string_view key) const;
  Result<int64_t> GetInt(std::string_view key) const;  // any integer type
  Result<double> GetFloat(std::string_view key) const; // any float type
  Result<bool> GetBool(std::string_view key) const;
  Result<const Value*> GetArray(std::string_view key) const;
  // Convenience: the value or `fallback` if the key is absent (type mismatch
  // is still an error).
  Result<int64_t> GetIntOr(std::string_view key, int64_t fallback) const;
  Result<double> GetFloatOr(std::string_view key, double fallback) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* FindTensor(std::string_view name) const;
  // The tensor type holding the most bytes ("Q4_K"), to name a model's quantization.
  const char* DominantTypeName() const;

 private:
  GgufFile() = default;
  Status ParseChecked(const uint8_t* data, size_t size);
  Status ParseAll(const uint8_t* data, size_t size);

  std::string path_;
  MappedFile mapping_;
  size_t size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::map<std::string, size_t, std::less<>> metadata_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace glint::gguf
