// Anonymous read-write memory that the kernel may back with 2 MiB pages:
// the region is 2 MiB-aligned and advised MADV_HUGEPAGE, which transparent
// huge pages honour in their "madvise" and "always" modes. Streaming a
// model's weights through 4 KiB pages costs a TLB miss per page, and the
// hardware prefetchers stop at every 4 KiB boundary; 2 MiB pages remove
// both. Where the kernel declines, the memory is ordinary pages and only
// the hint is lost. Move-only; unmapped on destruction.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/status.h"

namespace glint {

class HugePageBuffer {
 public:
  static constexpr size_t kHugePage = size_t{2} << 20;

  // At least `bytes` zeroed bytes (0 gives an empty buffer).
  static Result<HugePageBuffer> Allocate(size_t bytes);

  HugePageBuffer() = default;
  HugePageBuffer(HugePageBuffer&& other) noexcept;
  HugePageBuffer& operator=(HugePageBuffer&& other) noexcept;
  HugePageBuffer(const HugePageBuffer&) = delete;
  HugePageBuffer& operator=(const HugePageBuffer&) = delete;
  ~HugePageBuffer();

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  // Whether the kernel accepted the MADV_HUGEPAGE advice (it may still
  // back some of the region with small pages when memory is fragmented).
  bool advised() const { return advised_; }

 private:
  void Reset();

  uint8_t* data_ = nullptr;
  size_t size_ = 0;  // the mapped length, a multiple of kHugePage
  bool advised_ = false;
};

}  // namespace glint
