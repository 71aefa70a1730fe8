// Llama family: Llama 2/3, TinyLlama, Mistral-style, SmolLM/SmolLM2.
// The GGUF converter permutes the Q and K rows so that rotary embedding pairs
// adjacent elements (RopeStyle::kNorm). No biases.
#include "model/arch.h"

namespace glint::model {

const ArchSpec& LlamaArch() {
  static const ArchSpec spec{"llama", RopeStyle::kNorm, /*qkv_bias=*/false};
  return spec;
}

}  // namespace glint::model
