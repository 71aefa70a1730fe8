#include "model/arch.h"

namespace glint::model {
namespace {
const ArchSpec* const kArchs[] = {&LlamaArch(), &Qwen2Arch()};
}  // namespace

const ArchSpec* FindArch(const std::string& name) {
  for (const ArchSpec* a : kArchs) {
    if (name == a->name) return a;
  }
  return nullptr;
}

std::string SupportedArchNames() {
  std::string out;
  for (const ArchSpec* a : kArchs) out += (out.empty() ? "" : ", ") + std::string(a->name);
  return out;
}

}  // namespace glint::model
