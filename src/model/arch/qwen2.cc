// Qwen2 family: Qwen2, Qwen2.5, Qwen2.5-Coder. Biases on the Q, K and V
// projections; rotary embedding over the two halves of each head
// (RopeStyle::kNeox).
#include "model/arch.h"

namespace glint::model {

const ArchSpec& Qwen2Arch() {
  static const ArchSpec spec{"qwen2", RopeStyle::kNeox, /*qkv_bias=*/true};
  return spec;
}

}  // namespace glint::model
