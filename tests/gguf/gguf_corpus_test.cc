// The GGUF fuzz corpus (tests/fuzz/corpus/gguf/): generated seeds and any
// inputs the fuzzer found, replayed through the parser.
//
// Seeds are made here, in code, so they stay reviewable. To regenerate them
// after changing a seed:
//   GLINT_UPDATE_CORPUS=1 build/<dir>/glint_gguf_test --gtest_filter='GgufCorpusTest.*'
// Files whose name starts with "valid-" must parse; every other file must
// merely fail cleanly or parse (never crash; run under ASan to check reads).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "gguf/gguf_test_util.h"
#include "gguf/gguf_writer.h"

namespace glint::gguf {
namespace {

namespace fs = std::filesystem;
using testing::Bytes;
using testing::Header;
using testing::Key;
using testing::TensorEntry;

const fs::path kCorpusDir = fs::path(GLINT_SOURCE_DIR) / "tests/fuzz/corpus/gguf";
constexpr size_t kMaxSeedBytes = 4096;

std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed * 13 + i * 7);
  return v;
}

std::vector<uint8_t> TinyLlama() {
  GgufWriter w;
  w.AddString("general.architecture", "llama");
  w.AddString("general.name", "tiny");
  w.AddU32("llama.context_length", 64);
  w.AddU32("llama.embedding_length", 32);
  w.AddU32("llama.block_count", 1);
  w.AddU32("llama.attention.head_count", 2);
  w.AddU32("llama.attention.head_count_kv", 1);
  w.AddF32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.AddF32("llama.rope.freq_base", 10000.0f);
  w.AddString("tokenizer.ggml.model", "gpt2");
  std::vector<std::string> tokens = {"<s>", "</s>", "a", "b", "c", "ab", "bc", "\xc4\xa0", "\xc4\xa0" "a"};
  w.AddStringArray("tokenizer.ggml.tokens", tokens);
  w.AddI32Array("tokenizer.ggml.token_type", {3, 3, 1, 1, 1, 1, 1, 1, 1});
  w.AddStringArray("tokenizer.ggml.merges", {"a b", "b c", "\xc4\xa0 a"});
  w.AddU32("tokenizer.ggml.bos_token_id", 0);
  w.AddU32("tokenizer.ggml.eos_token_id", 1);
  w.AddBool("tokenizer.ggml.add_bos_token", true);
  auto emb = Pattern(34 * 9, 1);  // Q8_0 [32, 9]
  auto norm = Pattern(4 * 32, 2);  // F32 [32]
  auto q = Pattern(18 * 32, 3);    // Q4_0 [32, 32]
  auto o = Pattern(2 * 32 * 4, 4); // F16 [32, 4]
  w.AddTensor("token_embd.weight", DType::kQ8_0, {32, 9}, emb.data(), emb.size());
  w.AddTensor("output_norm.weight", DType::kF32, {32}, norm.data(), norm.size());
  w.AddTensor("blk.0.attn_q.weight", DType::kQ4_0, {32, 32}, q.data(), q.size());
  w.AddTensor("blk.0.attn_o.weight", DType::kF16, {32, 4}, o.data(), o.size());
  return w.Serialize();
}

std::vector<uint8_t> KQuants() {
  GgufWriter w;
  w.AddString("general.architecture", "qwen2");
  w.AddF32Array("scores", {0.0f, -1.5f, 2.25f});
  struct { const char* name; DType type; size_t bytes; } kinds[] = {
      {"q2k", DType::kQ2_K, 84},  {"q3k", DType::kQ3_K, 110}, {"q4k", DType::kQ4_K, 144},
      {"q5k", DType::kQ5_K, 176}, {"q6k", DType::kQ6_K, 210}, {"q8k", DType::kQ8_K, 292}};
  uint8_t seed = 10;
  for (const auto& k : kinds) {
    auto b = Pattern(k.bytes, seed++);
    w.AddTensor(k.name, k.type, {256}, b.data(), b.size());
  }
  return w.Serialize();
}

std::vector<uint8_t> PlainTypes() {
  GgufWriter w;
  struct { const char* name; DType type; size_t elem; } kinds[] = {
      {"i8", DType::kI8, 1},   {"i16", DType::kI16, 2}, {"i32", DType::kI32, 4},
      {"i64", DType::kI64, 8}, {"f64", DType::kF64, 8}, {"bf16", DType::kBF16, 2},
      {"q4_1", DType::kQ4_1, 0}, {"q5_0", DType::kQ5_0, 0}, {"q5_1", DType::kQ5_1, 0},
      {"q8_1", DType::kQ8_1, 0}};
  uint8_t seed = 20;
  for (const auto& k : kinds) {
    if (k.elem) {
      auto b = Pattern(k.elem * 6, seed++);
      w.AddTensor(k.name, k.type, {3, 2}, b.data(), b.size());
    } else {
      auto b = Pattern(GetDTypeInfo(k.type).block_bytes, seed++);
      w.AddTensor(k.name, k.type, {32, 1, 1}, b.data(), b.size());
    }
  }
  return w.Serialize();
}

std::vector<uint8_t> AllValueTypes(uint32_t version) {
  Bytes b = Header(0, 15, version);
  Key(b, "u8", ValueType::kUint8).Put<uint8_t>(200);
  Key(b, "i8", ValueType::kInt8).Put<int8_t>(-3);
  Key(b, "u16", ValueType::kUint16).Put<uint16_t>(60000);
  Key(b, "i16", ValueType::kInt16).Put<int16_t>(-300);
  Key(b, "u32", ValueType::kUint32).Put<uint32_t>(4000000000u);
  Key(b, "i32", ValueType::kInt32).Put<int32_t>(-70000);
  Key(b, "f32", ValueType::kFloat32).Put<float>(0.5f);
  Key(b, "bool", ValueType::kBool).Put<uint8_t>(1);
  Key(b, "str", ValueType::kString).Str("hello");
  Key(b, "u64", ValueType::kUint64).Put<uint64_t>(~uint64_t{0});
  Key(b, "i64", ValueType::kInt64).Put<int64_t>(-5);
  Key(b, "f64", ValueType::kFloat64).Put<double>(3.25);
  Key(b, "nested", ValueType::kArray).Put<uint32_t>(9).Put<uint64_t>(2);
  b.Put<uint32_t>(4).Put<uint64_t>(2).Put<uint32_t>(1).Put<uint32_t>(2);
  b.Put<uint32_t>(8).Put<uint64_t>(1).Str("x");
  Key(b, "deep", ValueType::kArray);
  for (int d = 0; d < 7; ++d) b.Put<uint32_t>(9).Put<uint64_t>(1);
  b.Put<uint32_t>(7).Put<uint64_t>(2).Put<uint8_t>(0).Put<uint8_t>(1);
  Key(b, "empty", ValueType::kArray).Put<uint32_t>(12).Put<uint64_t>(0);
  return b.data();
}

std::vector<uint8_t> Aligned(uint32_t alignment) {
  GgufWriter w(alignment);
  auto a = Pattern(12, 40), b = Pattern(18, 41);
  w.AddTensor("a", DType::kF32, {3}, a.data(), a.size());
  w.AddTensor("b", DType::kQ4_0, {32}, b.data(), b.size());
  return w.Serialize();
}

std::map<std::string, std::vector<uint8_t>> Seeds() {
  std::map<std::string, std::vector<uint8_t>> seeds;
  seeds["valid-empty"] = Header(0, 0).data();
  seeds["valid-v2-empty"] = Header(0, 0, 2).data();
  seeds["valid-all-value-types"] = AllValueTypes(3);
  seeds["valid-v2-all-value-types"] = AllValueTypes(2);
  seeds["valid-tiny-llama"] = TinyLlama();
  seeds["valid-k-quants"] = KQuants();
  seeds["valid-plain-and-legacy-types"] = PlainTypes();
  seeds["valid-align-1"] = Aligned(1);
  seeds["valid-align-64"] = Aligned(64);
  // Near misses, so the fuzzer starts next to each check.
  std::vector<uint8_t> llama = TinyLlama();
  seeds["invalid-truncated-tiny-llama"] = std::vector<uint8_t>(llama.begin(), llama.end() - 7);
  seeds["invalid-bad-magic"] = Header(0, 0, 3, 0x4C4D4747).data();
  seeds["invalid-version-1"] = Header(0, 0, 1).data();
  {
    Bytes b = Header(0, 1);
    Key(b, "deep", ValueType::kArray);
    for (int d = 0; d < 9; ++d) b.Put<uint32_t>(9).Put<uint64_t>(1);
    b.Put<uint32_t>(0).Put<uint64_t>(0);
    seeds["invalid-arrays-too-deep"] = b.data();
  }
  {
    Bytes b = Header(2, 0);
    TensorEntry(b, "w", {8}, 0, 0);
    TensorEntry(b, "w", {8}, 0, 32);
    b.PadTo(32).Zeros(64);
    seeds["invalid-duplicate-tensor"] = b.data();
  }
  {
    Bytes b = Header(1, 0);
    TensorEntry(b, "t", {uint64_t{1} << 40, uint64_t{1} << 22}, 0, 0);
    b.PadTo(32).Zeros(32);
    seeds["invalid-huge-tensor"] = b.data();
  }
  {
    Bytes b = Header(1, 1);
    Key(b, "general.alignment", ValueType::kUint32).Put<uint32_t>(48);
    TensorEntry(b, "t", {4}, 0, 0);
    b.PadTo(64).Zeros(16);
    seeds["invalid-alignment-48"] = b.data();
  }
  return seeds;
}

std::vector<uint8_t> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

TEST(GgufCorpusTest, SeedsMatchTheGenerator) {
  const bool update = std::getenv("GLINT_UPDATE_CORPUS") != nullptr;
  if (update) fs::create_directories(kCorpusDir);
  for (const auto& [name, bytes] : Seeds()) {
    SCOPED_TRACE(name);
    EXPECT_LE(bytes.size(), kMaxSeedBytes);
    auto r = GgufFile::Parse(bytes.data(), bytes.size(), name);
    EXPECT_EQ(r.ok(), name.rfind("valid-", 0) == 0) << r.status().ToString();
    fs::path path = kCorpusDir / name;
    if (update) {
      std::ofstream(path, std::ios::binary)
          .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }
    ASSERT_TRUE(fs::exists(path)) << path << " is missing; run with GLINT_UPDATE_CORPUS=1";
    EXPECT_EQ(ReadFile(path), bytes) << path << " is stale; run with GLINT_UPDATE_CORPUS=1";
  }
}

TEST(GgufCorpusTest, ReplayEveryFile) {
  ASSERT_TRUE(fs::is_directory(kCorpusDir)) << kCorpusDir;
  int n_files = 0, n_valid = 0;
  for (const auto& entry : fs::directory_iterator(kCorpusDir)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    SCOPED_TRACE(name);
    // An exact-size heap copy, so ASan sees any read past the end.
    std::vector<uint8_t> bytes = ReadFile(entry.path());
    auto r = GgufFile::Parse(bytes.data(), bytes.size(), name);
    ++n_files;
    if (name.rfind("valid-", 0) == 0) {
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ++n_valid;
    }
    if (!r.ok()) {
      EXPECT_FALSE(r.status().message().empty());
      continue;
    }
    for (const TensorInfo& t : r.value()->tensors()) {
      ASSERT_GE(t.data, bytes.data());
      ASSERT_LE(t.n_bytes, static_cast<uint64_t>(bytes.data() + bytes.size() - t.data));
      uint64_t sum = 0;
      for (uint64_t k = 0; k < t.n_bytes; ++k) sum += t.data[k];
      (void)sum;
    }
  }
  EXPECT_GE(n_files, static_cast<int>(Seeds().size()));
  EXPECT_GE(n_valid, 9);
}

}  // namespace
}  // namespace glint::gguf
