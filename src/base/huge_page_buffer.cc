#include "base/huge_page_buffer.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

namespace glint {

Result<HugePageBuffer> HugePageBuffer::Allocate(size_t bytes) {
  HugePageBuffer buffer;
  if (bytes == 0) return buffer;
  if (bytes > SIZE_MAX / 2 - kHugePage) {
    return Error(StatusCode::kResourceExhausted, "cannot allocate {} bytes", bytes);
  }
  const size_t size = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  // Map one huge page more than needed and unmap the unaligned ends, so
  // that the region starts on a 2 MiB boundary.
  const size_t mapped = size + kHugePage;
  void* addr = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (addr == MAP_FAILED) {
    return Error(StatusCode::kResourceExhausted, "cannot allocate {} bytes: {}", bytes,
                 std::strerror(errno));
  }
  const uintptr_t begin = reinterpret_cast<uintptr_t>(addr);
  const uintptr_t aligned = (begin + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > begin) ::munmap(addr, aligned - begin);
  const uintptr_t end = begin + mapped;
  if (end > aligned + size) ::munmap(reinterpret_cast<void*>(aligned + size), end - aligned - size);
  buffer.data_ = reinterpret_cast<uint8_t*>(aligned);
  buffer.size_ = size;
  buffer.advised_ = ::madvise(buffer.data_, size, MADV_HUGEPAGE) == 0;
  return buffer;
}

HugePageBuffer::HugePageBuffer(HugePageBuffer&& other) noexcept { *this = std::move(other); }

HugePageBuffer& HugePageBuffer::operator=(HugePageBuffer&& other) noexcept {
  if (this != &other) {
    Reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    advised_ = std::exchange(other.advised_, false);
  }
  return *this;
}

HugePageBuffer::~HugePageBuffer() { Reset(); }

void HugePageBuffer::Reset() {
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
  advised_ = false;
}

}  // namespace glint
