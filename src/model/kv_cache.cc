#include "model/kv_cache.h"

namespace glint::model {

KvCache::KvCache(const HParams& hp, int32_t n_ctx)
    : n_ctx_(n_ctx), n_layers_(hp.n_layers), row_(static_cast<size_t>(hp.n_embd_kv())) {
  size_t n = static_cast<size_t>(hp.n_layers) * n_ctx_ * row_;
  // Positions are always written before they are read, and pages the
  // sequence never reaches are never committed.
  k_.ResizeUninitialized(n);
  v_.ResizeUninitialized(n);
}

}  // namespace glint::model
