// gguf_dump FILE [--all]: prints a GGUF file's metadata and tensor directory.
// Long arrays are summarised unless --all is given.
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include <fmt/format.h>

#include "gguf/gguf.h"

using glint::gguf::Value;
using glint::gguf::ValueType;

namespace {

std::string Render(const Value& v, bool all) {
  switch (v.type) {
    case ValueType::kString: {
      std::string s(v.s);
      if (!all && s.size() > 120) s = s.substr(0, 120) + "...";
      return fmt::format("\"{}\"", s);
    }
    case ValueType::kFloat32:
    case ValueType::kFloat64: return fmt::format("{}", v.f);
    case ValueType::kBool: return v.u ? "true" : "false";
    case ValueType::kUint64: return fmt::format("{}", v.u);
    case ValueType::kArray: {
      std::string s = fmt::format("[{} x {}]", v.array.size(), ValueTypeName(v.array_type));
      size_t n = all ? v.array.size() : std::min<size_t>(v.array.size(), 8);
      s += " {";
      for (size_t k = 0; k < n; ++k) s += (k ? ", " : "") + Render(v.array[k], all);
      return s + (n < v.array.size() ? ", ...}" : "}");
    }
    default: return fmt::format("{}", v.i);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: gguf_dump FILE [--all]\n");
    return 2;
  }
  bool all = argc > 2 && std::strcmp(argv[2], "--all") == 0;
  auto file = glint::gguf::GgufFile::Open(argv[1]);
  if (!file.ok()) {
    std::fprintf(stderr, "gguf_dump: %s\n", file.status().message().c_str());
    return 1;
  }
  const auto& f = **file;
  fmt::print("GGUF v{}, {} bytes, alignment {}, {} metadata entries, {} tensors\n", f.version(),
             f.file_size(), f.alignment(), f.metadata().size(), f.tensors().size());
  for (const auto& [key, value] : f.metadata()) {
    fmt::print("  {} ({}) = {}\n", key, ValueTypeName(value.type), Render(value, all));
  }
  std::map<std::string, int> type_counts;
  for (const auto& t : f.tensors()) {
    fmt::print("  tensor {} {} {} @{} ({} bytes)\n", t.name, glint::DTypeName(t.type),
               t.ShapeString(), t.offset, t.n_bytes);
    type_counts[glint::DTypeName(t.type)]++;
  }
  for (const auto& [name, n] : type_counts) fmt::print("  {}: {} tensors\n", name, n);
  return 0;
}
