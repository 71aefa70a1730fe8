// Writing GGUF version 3 files, for tests and tools (tiny synthetic models,
// fixtures). Not used when serving.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/dtype.h"

namespace glint::gguf {

class GgufWriter {
 public:
  explicit GgufWriter(uint64_t alignment = 32) : alignment_(alignment) {}

  void AddU32(const std::string& key, uint32_t v);
  void AddI32(const std::string& key, int32_t v);
  void AddU64(const std::string& key, uint64_t v);
  void AddF32(const std::string& key, float v);
  void AddBool(const std::string& key, bool v);
  void AddString(const std::string& key, const std::string& v);
  void AddStringArray(const std::string& key, const std::vector<std::string>& v);
  void AddF32Array(const std::string& key, const std::vector<float>& v);
  void AddI32Array(const std::string& key, const std::vector<int32_t>& v);

  // ne[0] is the contiguous dimension; `data` must hold exactly the bytes of
  // the tensor in `type`'s layout.
  void AddTensor(const std::string& name, DType type, const std::vector<int64_t>& ne,
                 const void* data, size_t n_bytes);

  std::vector<uint8_t> Serialize() const;
  Status WriteFile(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    DType type;
    std::vector<int64_t> ne;
    std::vector<uint8_t> bytes;
  };
  void Key(const std::string& key, uint32_t type);

  uint64_t alignment_;
  uint64_t n_kv_ = 0;
  std::vector<uint8_t> kv_;  // encoded metadata entries
  std::vector<Tensor> tensors_;
};

}  // namespace glint::gguf
