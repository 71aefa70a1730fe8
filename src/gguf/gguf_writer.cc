#include "gguf/gguf_writer.h"

#include <cstdio>
#include <cstring>
#include <memory>

namespace glint::gguf {
namespace {

template <typename T>
void Put(std::vector<uint8_t>& out, T v) {
  uint8_t bytes[sizeof(T)];
  std::memcpy(bytes, &v, sizeof(T));
  out.insert(out.end(), bytes, bytes + sizeof(T));
}

void PutString(std::vector<uint8_t>& out, const std::string& s) {
  Put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

enum : uint32_t { kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7, kString = 8, kArray = 9, kU64 = 10 };

}  // namespace

void GgufWriter::Key(const std::string& key, uint32_t type) {
  PutString(kv_, key);
  Put<uint32_t>(kv_, type);
  ++n_kv_;
}

void GgufWriter::AddU32(const std::string& key, uint32_t v) { Key(key, kU32); Put(kv_, v); }
void GgufWriter::AddI32(const std::string& key, int32_t v) { Key(key, kI32); Put(kv_, v); }
void GgufWriter::AddU64(const std::string& key, uint64_t v) { Key(key, kU64); Put(kv_, v); }
void GgufWriter::AddF32(const std::string& key, float v) { Key(key, kF32); Put(kv_, v); }
void GgufWriter::AddBool(const std::string& key, bool v) {
  Key(key, kBool);
  Put<uint8_t>(kv_, v ? 1 : 0);
}
void GgufWriter::AddString(const std::string& key, const std::string& v) {
  Key(key, kString);
  PutString(kv_, v);
}
void GgufWriter::AddStringArray(const std::string& key, const std::vector<std::string>& v) {
  Key(key, kArray);
  Put<uint32_t>(kv_, kString);
  Put<uint64_t>(kv_, v.size());
  for (const auto& s : v) PutString(kv_, s);
}
void GgufWriter::AddF32Array(const std::string& key, const std::vector<float>& v) {
  Key(key, kArray);
  Put<uint32_t>(kv_, kF32);
  Put<uint64_t>(kv_, v.size());
  for (float x : v) Put(kv_, x);
}
void GgufWriter::AddI32Array(const std::string& key, const std::vector<int32_t>& v) {
  Key(key, kArray);
  Put<uint32_t>(kv_, kI32);
  Put<uint64_t>(kv_, v.size());
  for (int32_t x : v) Put(kv_, x);
}

void GgufWriter::AddTensor(const std::string& name, DType type, const std::vector<int64_t>& ne,
                           const void* data, size_t n_bytes) {
  const auto* p = static_cast<const uint8_t*>(data);
  tensors_.push_back(Tensor{name, type, ne, std::vector<uint8_t>(p, p + n_bytes)});
}

std::vector<uint8_t> GgufWriter::Serialize() const {
  std::vector<uint8_t> out;
  Put<uint32_t>(out, 0x46554747);
  Put<uint32_t>(out, 3);
  Put<uint64_t>(out, tensors_.size());
  // A reader assumes 32 unless general.alignment says otherwise.
  const bool write_alignment = alignment_ != 32;
  Put<uint64_t>(out, n_kv_ + (write_alignment ? 1 : 0));
  out.insert(out.end(), kv_.begin(), kv_.end());
  if (write_alignment) {
    PutString(out, "general.alignment");
    Put<uint32_t>(out, kU32);
    Put<uint32_t>(out, static_cast<uint32_t>(alignment_));
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    PutString(out, t.name);
    Put<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
    for (int64_t n : t.ne) Put<uint64_t>(out, static_cast<uint64_t>(n));
    Put<uint32_t>(out, static_cast<uint32_t>(t.type));
    Put<uint64_t>(out, offset);
    offset += (t.bytes.size() + alignment_ - 1) / alignment_ * alignment_;
  }
  out.resize((out.size() + alignment_ - 1) / alignment_ * alignment_, 0);
  for (const Tensor& t : tensors_) {
    out.insert(out.end(), t.bytes.begin(), t.bytes.end());
    out.resize((out.size() + alignment_ - 1) / alignment_ * alignment_, 0);
  }
  return out;
}

Status GgufWriter::WriteFile(const std::string& path) const {
  std::vector<uint8_t> bytes = Serialize();
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) return Error(StatusCode::kUnavailable, "cannot create '{}'", path);
  if (std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size()) {
    return Error(StatusCode::kUnavailable, "short write to '{}'", path);
  }
  return Status::Ok();
}

}  // namespace glint::gguf
