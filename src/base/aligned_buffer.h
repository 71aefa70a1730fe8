// A heap buffer aligned for SIMD loads (64 bytes: one cache line).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace glint {

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};

template <typename T>
class AlignedBuffer {
 public:
  static constexpr size_t kAlignment = 64;

  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t count) { Resize(count); }

  // Drops the old contents; the new contents are zeroed.
  void Resize(size_t count) {
    size_t bytes = ResizeUninitialized(count);
    if (bytes) std::memset(static_cast<void*>(data_.get()), 0, bytes);
  }

  // Drops the old contents and leaves the new ones unwritten, so that the
  // operating system commits pages only as they are first written (a KV
  // cache sized for a long context costs memory only for what it holds).
  // Returns the allocated size in bytes.
  size_t ResizeUninitialized(size_t count) {
    size_t bytes = (count * sizeof(T) + kAlignment - 1) / kAlignment * kAlignment;
    data_.reset(bytes ? static_cast<T*>(std::aligned_alloc(kAlignment, bytes)) : nullptr);
    size_ = count;
    return bytes;
  }

  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  size_t size() const { return size_; }
  T& operator[](size_t i) { return data_.get()[i]; }
  const T& operator[](size_t i) const { return data_.get()[i]; }

 private:
  std::unique_ptr<T, AlignedFree> data_;
  size_t size_ = 0;
};

}  // namespace glint
