// The architectures glint runs. Each is a decoder-only transformer with
// pre-RMSNorm, rotary attention with grouped-query heads and a SwiGLU
// feed-forward; what varies is described here, one file per architecture in
// arch/.
#pragma once

#include <string>

#include "model/hparams.h"

namespace glint::model {

struct ArchSpec {
  const char* name;      // general.architecture
  RopeStyle rope_style;
  bool qkv_bias;         // attn_q/k/v.bias tensors present
};

const ArchSpec& LlamaArch();  // arch/llama.cc
const ArchSpec& Qwen2Arch();  // arch/qwen2.cc

// nullptr if `name` is not supported.
const ArchSpec* FindArch(const std::string& name);
std::string SupportedArchNames();

}  // namespace glint::model
