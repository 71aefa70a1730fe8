#include "model/kv_cache.h"

namespace glint::model {

KvCache::KvCache(const HParams& hp, int32_t n_ctx)
    : n_ctx_(n_ctx), row_(static_cast<size_t>(hp.n_embd_kv())) {
  size_t n = static_cast<size_t>(hp.n_layers) * n_ctx_ * row_;
  k_.Resize(n);
  v_.Resize(n);
}

}  // namespace glint::model
