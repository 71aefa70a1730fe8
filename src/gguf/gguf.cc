#include "gguf/gguf.h"

#include <cstring>
#include <limits>
#include <new>

#include <fmt/format.h>

namespace glint::gguf {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr int kMaxArrayDepth = 8;
constexpr int kMaxDims = 4;
constexpr uint64_t kMaxKeyLength = 1 << 16;
constexpr uint64_t kMaxTensorName = 64;  // GGUF specification: names are at most 64 bytes
// Every decoded array element costs a Value (about 80 bytes), so a hostile
// file of single-byte elements could ask for 80x its size. Real vocabularies
// (tokens, types, scores, merges) stay far below this total.
constexpr uint64_t kMaxArrayElements = uint64_t{1} << 22;

// Reads little-endian values from a byte range, never past its end.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  template <typename T>
  Status Read(T* out, const char* what) {
    if (remaining() < sizeof(T)) {
      return Error(StatusCode::kDataLoss, "truncated at byte {}: need {} bytes for {}, {} left",
                   pos_, sizeof(T), what, remaining());
    }
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }

  Status ReadString(std::string_view* out, const char* what) {
    uint64_t len = 0;
    RETURN_IF_ERROR(Read(&len, what));
    if (len > remaining()) {
      return Error(StatusCode::kDataLoss,
                   "{} at byte {} claims {} bytes but only {} remain", what, pos_ - 8, len,
                   remaining());
    }
    *out = std::string_view(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return Status::Ok();
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Smallest encoding of one element of a type, to bound array counts by the
// bytes left before allocating anything.
uint64_t MinEncodedSize(ValueType t) {
  switch (t) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kBool: return 1;
    case ValueType::kUint16:
    case ValueType::kInt16: return 2;
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kFloat32: return 4;
    case ValueType::kUint64:
    case ValueType::kInt64:
    case ValueType::kFloat64:
    case ValueType::kString: return 8;
    case ValueType::kArray: return 12;
  }
  return 1;
}

bool IsKnownType(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::kFloat64); }

Status ReadValue(Cursor& c, ValueType type, int depth, uint64_t* budget, Value* v) {
  v->type = type;
  switch (type) {
    case ValueType::kUint8: { uint8_t x; RETURN_IF_ERROR(c.Read(&x, "u8")); v->u = x; v->i = x; break; }
    case ValueType::kInt8: { int8_t x; RETURN_IF_ERROR(c.Read(&x, "i8")); v->i = x; break; }
    case ValueType::kUint16: { uint16_t x; RETURN_IF_ERROR(c.Read(&x, "u16")); v->u = x; v->i = x; break; }
    case ValueType::kInt16: { int16_t x; RETURN_IF_ERROR(c.Read(&x, "i16")); v->i = x; break; }
    case ValueType::kUint32: { uint32_t x; RETURN_IF_ERROR(c.Read(&x, "u32")); v->u = x; v->i = x; break; }
    case ValueType::kInt32: { int32_t x; RETURN_IF_ERROR(c.Read(&x, "i32")); v->i = x; break; }
    case ValueType::kUint64: {
      uint64_t x; RETURN_IF_ERROR(c.Read(&x, "u64")); v->u = x;
      v->i = x > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                 ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(x);
      break;
    }
    case ValueType::kInt64: { int64_t x; RETURN_IF_ERROR(c.Read(&x, "i64")); v->i = x; break; }
    case ValueType::kFloat32: { float x; RETURN_IF_ERROR(c.Read(&x, "f32")); v->f = x; break; }
    case ValueType::kFloat64: { double x; RETURN_IF_ERROR(c.Read(&x, "f64")); v->f = x; break; }
    case ValueType::kBool: {
      uint8_t x; RETURN_IF_ERROR(c.Read(&x, "bool"));
      if (x > 1) return Error(StatusCode::kDataLoss, "bool value {} is neither 0 nor 1", x);
      v->u = x; v->i = x; break;
    }
    case ValueType::kString: RETURN_IF_ERROR(c.ReadString(&v->s, "string")); break;
    case ValueType::kArray: {
      if (depth >= kMaxArrayDepth) {
        return Error(StatusCode::kDataLoss, "arrays nested deeper than {}", kMaxArrayDepth);
      }
      uint32_t elem = 0;
      uint64_t count = 0;
      RETURN_IF_ERROR(c.Read(&elem, "array element type"));
      if (!IsKnownType(elem)) {
        return Error(StatusCode::kDataLoss, "array element type {} is not a GGUF type", elem);
      }
      RETURN_IF_ERROR(c.Read(&count, "array length"));
      v->array_type = static_cast<ValueType>(elem);
      if (count > c.remaining() / MinEncodedSize(v->array_type)) {
        return Error(StatusCode::kDataLoss, "array of {} {} cannot fit in the {} bytes left",
                     count, ValueTypeName(v->array_type), c.remaining());
      }
      if (count > *budget) {
        return Error(StatusCode::kResourceExhausted,
                     "metadata arrays hold more than {} elements in total", kMaxArrayElements);
      }
      *budget -= count;
      v->array.resize(count);
      for (uint64_t k = 0; k < count; ++k) {
        RETURN_IF_ERROR(ReadValue(c, v->array_type, depth + 1, budget, &v->array[k]));
      }
      break;
    }
  }
  return Status::Ok();
}

}  // namespace

const char* ValueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kUint8: return "uint8";
    case ValueType::kInt8: return "int8";
    case ValueType::kUint16: return "uint16";
    case ValueType::kInt16: return "int16";
    case ValueType::kUint32: return "uint32";
    case ValueType::kInt32: return "int32";
    case ValueType::kFloat32: return "float32";
    case ValueType::kBool: return "bool";
    case ValueType::kString: return "string";
    case ValueType::kArray: return "array";
    case ValueType::kUint64: return "uint64";
    case ValueType::kInt64: return "int64";
    case ValueType::kFloat64: return "float64";
  }
  return "unknown";
}

bool Value::IsInteger() const {
  switch (type) {
    case ValueType::kUint8: case ValueType::kInt8: case ValueType::kUint16:
    case ValueType::kInt16: case ValueType::kUint32: case ValueType::kInt32:
    case ValueType::kUint64: case ValueType::kInt64: return true;
    default: return false;
  }
}

std::string TensorInfo::ShapeString() const {
  std::string s = "[";
  for (int d = 0; d < n_dims; ++d) s += fmt::format("{}{}", d ? ", " : "", ne[d]);
  return s + "]";
}

Result<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  ASSIGN_OR_RETURN(MappedFile mapping, MappedFile::Open(path));
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = path;
  file->mapping_ = std::move(mapping);
  Status st = file->ParseChecked(file->mapping_.data(), file->mapping_.size());
  if (!st.ok()) return st.WithContext(fmt::format("'{}' is not a valid GGUF file", path));
  return file;
}

Result<std::unique_ptr<GgufFile>> GgufFile::Parse(const uint8_t* data, size_t size,
                                                  std::string name) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = std::move(name);
  Status st = file->ParseChecked(data, size);
  if (!st.ok()) return st.WithContext(fmt::format("'{}' is not a valid GGUF file", file->path_));
  return file;
}

Status GgufFile::ParseChecked(const uint8_t* data, size_t size) {
  // Sizes are validated before anything is allocated; this catches what is
  // left (a file that is valid but too large for this machine's memory).
  try {
    return ParseAll(data, size);
  } catch (const std::bad_alloc&) {
    return Error(StatusCode::kResourceExhausted, "not enough memory to read the metadata");
  }
}

Status GgufFile::ParseAll(const uint8_t* data, size_t size) {
  size_ = size;
  Cursor c(data, size);
  uint32_t magic = 0;
  RETURN_IF_ERROR(c.Read(&magic, "magic"));
  if (magic != kMagic) {
    return Error(StatusCode::kDataLoss, "bad magic 0x{:08x}, expected 0x{:08x} (\"GGUF\")", magic,
                 kMagic);
  }
  RETURN_IF_ERROR(c.Read(&version_, "version"));
  if (version_ != 2 && version_ != 3) {
    return Error(StatusCode::kUnimplemented, "GGUF version {} is not supported (2 and 3 are)",
                 version_);
  }
  uint64_t n_tensors = 0, n_kv = 0;
  RETURN_IF_ERROR(c.Read(&n_tensors, "tensor count"));
  RETURN_IF_ERROR(c.Read(&n_kv, "metadata count"));
  // A key-value pair takes at least 8 (key length) + 4 (type) + 1 bytes, a
  // tensor entry at least 8 + 4 + 8 + 4 + 8.
  if (n_kv > c.remaining() / 13) {
    return Error(StatusCode::kDataLoss, "{} metadata entries cannot fit in a {}-byte file", n_kv,
                 size);
  }
  if (n_tensors > c.remaining() / 32) {
    return Error(StatusCode::kDataLoss, "{} tensors cannot fit in a {}-byte file", n_tensors, size);
  }

  uint64_t array_budget = kMaxArrayElements;
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string_view key;
    RETURN_IF_ERROR(c.ReadString(&key, "metadata key"));
    if (key.empty() || key.size() > kMaxKeyLength) {
      return Error(StatusCode::kDataLoss, "metadata entry {} has a key of length {}", k, key.size());
    }
    uint32_t type = 0;
    RETURN_IF_ERROR(c.Read(&type, "metadata type"));
    if (!IsKnownType(type)) {
      return Error(StatusCode::kDataLoss, "metadata '{}' has unknown type {}", key, type);
    }
    Value v;
    Status st = ReadValue(c, static_cast<ValueType>(type), 0, &array_budget, &v);
    if (!st.ok()) return st.WithContext(fmt::format("metadata '{}'", key));
    std::string key_str(key);
    if (!metadata_index_.emplace(key_str, metadata_.size()).second) {
      return Error(StatusCode::kDataLoss, "metadata key '{}' appears twice", key);
    }
    metadata_.emplace_back(std::move(key_str), std::move(v));
  }

  if (const Value* a = Find("general.alignment")) {
    if (!a->IsInteger() || a->i <= 0 || a->i > (1 << 24) || (a->i & (a->i - 1)) != 0) {
      return Error(StatusCode::kDataLoss,
                   "general.alignment must be a power of two up to 2^24, found {}",
                   a->IsInteger() ? std::to_string(a->i) : ValueTypeName(a->type));
    }
    alignment_ = static_cast<uint64_t>(a->i);
  }

  tensors_.reserve(n_tensors);
  for (uint64_t k = 0; k < n_tensors; ++k) {
    TensorInfo t;
    std::string_view name;
    RETURN_IF_ERROR(c.ReadString(&name, "tensor name"));
    if (name.empty() || name.size() > kMaxTensorName) {
      return Error(StatusCode::kDataLoss, "tensor {} has a name of {} bytes (1 to {} allowed)", k,
                   name.size(), kMaxTensorName);
    }
    t.name = std::string(name);
    uint32_t n_dims = 0;
    RETURN_IF_ERROR(c.Read(&n_dims, "tensor dimension count"));
    if (n_dims == 0 || n_dims > kMaxDims) {
      return Error(StatusCode::kDataLoss, "tensor '{}' has {} dimensions (1 to {} allowed)", t.name,
                   n_dims, kMaxDims);
    }
    t.n_dims = static_cast<int>(n_dims);
    uint64_t total = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t ne = 0;
      RETURN_IF_ERROR(c.Read(&ne, "tensor dimension"));
      // 2^40 elements per dimension and 2^60 in all are far beyond any model
      // and keep the products, and n_bytes below (at most 8 bytes an element),
      // below overflow. (2^62 let n_bytes of an F32/F64 tensor wrap to 0.)
      if (ne == 0 || ne > (uint64_t{1} << 40) || total > (uint64_t{1} << 60) / ne) {
        return Error(StatusCode::kDataLoss, "tensor '{}' dimension {} is {}", t.name, d, ne);
      }
      t.ne[d] = static_cast<int64_t>(ne);
      total *= ne;
    }
    uint32_t type = 0;
    RETURN_IF_ERROR(c.Read(&type, "tensor type"));
    const DTypeInfo& info = GetDTypeInfo(type);
    if (info.name == nullptr) {
      return Error(StatusCode::kUnimplemented, "tensor '{}' has unknown type id {}", t.name, type);
    }
    t.type = static_cast<DType>(type);
    if (t.ne[0] % info.block_size != 0) {
      return Error(StatusCode::kDataLoss, "tensor '{}' of type {} has a row of {} elements, not a "
                   "multiple of its block size {}", t.name, info.name, t.ne[0], info.block_size);
    }
    t.n_bytes = total / info.block_size * info.block_bytes;
    RETURN_IF_ERROR(c.Read(&t.offset, "tensor offset"));
    if (t.offset % alignment_ != 0) {
      return Error(StatusCode::kDataLoss, "tensor '{}' offset {} is not a multiple of the "
                   "alignment {}", t.name, t.offset, alignment_);
    }
    if (!tensor_index_.emplace(t.name, tensors_.size()).second) {
      return Error(StatusCode::kDataLoss, "tensor name '{}' appears twice", t.name);
    }
    tensors_.push_back(std::move(t));
  }

  uint64_t data_start = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (data_start > size && !tensors_.empty()) {
    return Error(StatusCode::kDataLoss, "the data section would start at byte {}, past the end "
                 "of the {}-byte file", data_start, size);
  }
  uint64_t data_size = data_start <= size ? size - data_start : 0;
  for (TensorInfo& t : tensors_) {
    if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
      return Error(StatusCode::kDataLoss, "tensor '{}' ({} {}, {} bytes at data offset {}) runs "
                   "past the end of the file (data section is {} bytes)", t.name,
                   DTypeName(t.type), t.ShapeString(), t.n_bytes, t.offset, data_size);
    }
    t.data = data + data_start + t.offset;
  }
  return Status::Ok();
}

const Value* GgufFile::Find(std::string_view key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

namespace {
Status Missing(std::string_view key) {
  return Error(StatusCode::kNotFound, "metadata key '{}' is missing", key);
}
Status WrongType(std::string_view key, const char* expected, const Value& v) {
  return Error(StatusCode::kInvalidArgument, "metadata '{}' should be {}, found {}", key, expected,
               ValueTypeName(v.type));
}
}  // namespace

Result<std::string_view> GgufFile::GetString(std::string_view key) const {
  const Value* v = Find(key);
  if (!v) return Missing(key);
  if (v->type != ValueType::kString) return WrongType(key, "a string", *v);
  return v->s;
}

Result<int64_t> GgufFile::GetInt(std::string_view key) const {
  const Value* v = Find(key);
  if (!v) return Missing(key);
  if (!v->IsInteger()) return WrongType(key, "an integer", *v);
  if (v->type == ValueType::kUint64 && v->u > static_cast<uint64_t>(INT64_MAX)) {
    return Error(StatusCode::kOutOfRange, "metadata '{}' = {} is out of range", key, v->u);
  }
  return v->i;
}

Result<double> GgufFile::GetFloat(std::string_view key) const {
  const Value* v = Find(key);
  if (!v) return Missing(key);
  if (!v->IsFloat()) return WrongType(key, "a float", *v);
  return v->f;
}

Result<bool> GgufFile::GetBool(std::string_view key) const {
  const Value* v = Find(key);
  if (!v) return Missing(key);
  if (v->type != ValueType::kBool) return WrongType(key, "a bool", *v);
  return v->u != 0;
}

Result<const Value*> GgufFile::GetArray(std::string_view key) const {
  const Value* v = Find(key);
  if (!v) return Missing(key);
  if (v->type != ValueType::kArray) return WrongType(key, "an array", *v);
  return v;
}

Result<int64_t> GgufFile::GetIntOr(std::string_view key, int64_t fallback) const {
  if (!Find(key)) return fallback;
  return GetInt(key);
}

Result<double> GgufFile::GetFloatOr(std::string_view key, double fallback) const {
  if (!Find(key)) return fallback;
  return GetFloat(key);
}

const TensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const char* GgufFile::DominantTypeName() const {
  uint64_t bytes[kDTypeIdLimit] = {};
  for (const TensorInfo& t : tensors_) bytes[static_cast<uint32_t>(t.type)] += t.n_bytes;
  uint32_t best = 0;
  for (uint32_t id = 1; id < kDTypeIdLimit; ++id) {
    if (bytes[id] > bytes[best]) best = id;
  }
  return tensors_.empty() ? "none" : DTypeName(static_cast<DType>(best));
}

}  // namespace glint::gguf
