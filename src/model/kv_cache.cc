#include "model/kv_cache.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

namespace glint::model {
namespace {

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

// Returns the whole pages inside [begin, end) to the operating system; the
// next write to them gets fresh zeroed pages. Pages shared with the bytes
// around the range are kept.
void ReleasePages(void* begin, void* end) {
  const uintptr_t page = PageSize();
  const uintptr_t b = (reinterpret_cast<uintptr_t>(begin) + page - 1) / page * page;
  const uintptr_t e = reinterpret_cast<uintptr_t>(end) / page * page;
  if (e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
}

}  // namespace

KvCache::KvCache(const HParams& hp, int32_t n_ctx)
    : n_ctx_(n_ctx), n_layers_(hp.n_layers), row_(static_cast<size_t>(hp.n_embd_kv())) {
  size_t n = static_cast<size_t>(hp.n_layers) * n_ctx_ * row_;
  // Positions are always written before they are read, and pages the
  // sequence never reaches are never committed.
  k_.ResizeUninitialized(n);
  v_.ResizeUninitialized(n);
}

void KvCache::Trim(int32_t keep) {
  keep = std::clamp(keep, 0, n_ctx_);
  Truncate(keep);
  if (high_water() <= keep) return;
  // Each layer's positions are contiguous: release every layer's tail.
  for (int32_t l = 0; l < n_layers_; ++l) {
    ReleasePages(k(l, keep), k_.data() + Offset(l, 0) + static_cast<size_t>(n_ctx_) * row_);
    ReleasePages(v(l, keep), v_.data() + Offset(l, 0) + static_cast<size_t>(n_ctx_) * row_);
  }
  high_water_.store(keep, std::memory_order_relaxed);
}

size_t KvCache::ResidentBytes(int32_t positions) const {
  if (positions <= 0) return 0;
  const size_t page = PageSize();
  const size_t bytes = static_cast<size_t>(std::min(positions, n_ctx_)) * row_ * sizeof(uint16_t);
  // Whole pages, plus one where a layer's rows start mid-page.
  const size_t pages = (bytes + page - 1) / page + 1;
  return 2 * static_cast<size_t>(n_layers_) * pages * page;
}

int32_t KvCache::PositionsWithin(size_t bytes) const {
  const size_t page = PageSize();
  const size_t pages = bytes / (2 * static_cast<size_t>(n_layers_) * page);
  if (pages < 2) return 0;
  const size_t positions = (pages - 1) * page / (row_ * sizeof(uint16_t));
  return static_cast<int32_t>(std::min<size_t>(positions, n_ctx_));
}

}  // namespace glint::model
