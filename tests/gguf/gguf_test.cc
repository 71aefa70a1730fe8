#include "gguf/gguf.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "gguf/gguf_test_util.h"
#include "gguf/gguf_writer.h"

namespace glint::gguf {
namespace {

using testing::Bytes;
using testing::Header;
using testing::Key;
using testing::ParseBytes;
using testing::TensorEntry;

// Expects a parse failure whose message contains `needle`.
#define EXPECT_PARSE_ERROR(bytes, code_, needle)                                  \
  do {                                                                            \
    auto r_ = ParseBytes(bytes);                                                  \
    ASSERT_FALSE(r_.ok()) << "parsed, expected: " << (needle);                    \
    EXPECT_EQ(r_.status().code(), (code_)) << r_.status().ToString();             \
    EXPECT_NE(r_.status().message().find(needle), std::string::npos)              \
        << "message: " << r_.status().message() << "\nexpected to contain: " << (needle); \
    EXPECT_NE(r_.status().message().find("test.gguf"), std::string::npos);       \
  } while (0)

std::vector<uint8_t> Fill(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

// ---------------------------------------------------------------- round trip

TEST(GgufRoundTripTest, WriterMetadataAndTensors) {
  GgufWriter w;
  w.AddString("general.architecture", "llama");
  w.AddU32("llama.block_count", 2);
  w.AddI32("neg", -7);
  w.AddU64("big", uint64_t{1} << 40);
  w.AddF32("eps", 1e-5f);
  w.AddBool("yes", true);
  w.AddBool("no", false);
  w.AddString("empty", "");
  w.AddStringArray("tokens", {"a", "", "<s>", "\xe2\x96\x81hi"});
  w.AddF32Array("scores", {0.5f, -1.0f});
  w.AddI32Array("types", {1, 2, 3});
  w.AddI32Array("none", {});
  auto f32 = Fill(4 * 3 * 2, 1);
  auto f16 = Fill(2 * 5, 2);
  auto q8 = Fill(34 * 2, 3);     // Q8_0: 64 elements, 2 blocks
  auto q4k = Fill(144 * 1, 4);   // Q4_K: one 256-element block
  auto bf16 = Fill(2 * 7 * 1 * 2 * 1, 5);
  w.AddTensor("a.f32", DType::kF32, {3, 2}, f32.data(), f32.size());
  w.AddTensor("b.f16", DType::kF16, {5}, f16.data(), f16.size());
  w.AddTensor("c.q8_0", DType::kQ8_0, {64}, q8.data(), q8.size());
  w.AddTensor("d.q4_k", DType::kQ4_K, {256, 1}, q4k.data(), q4k.size());
  w.AddTensor("e.bf16", DType::kBF16, {7, 1, 2, 1}, bf16.data(), bf16.size());
  std::vector<uint8_t> bytes = w.Serialize();

  auto r = ParseBytes(bytes);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const GgufFile& g = **r;
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.alignment(), 32u);
  EXPECT_EQ(g.file_size(), bytes.size());
  EXPECT_EQ(g.path(), "test.gguf");
  ASSERT_EQ(g.metadata().size(), 12u);
  EXPECT_EQ(g.metadata()[0].first, "general.architecture");  // file order
  EXPECT_EQ(g.metadata()[11].first, "none");

  EXPECT_EQ(g.GetString("general.architecture").value(), "llama");
  EXPECT_EQ(g.GetInt("llama.block_count").value(), 2);
  EXPECT_EQ(g.GetInt("neg").value(), -7);
  EXPECT_EQ(g.GetInt("big").value(), int64_t{1} << 40);
  EXPECT_FLOAT_EQ(static_cast<float>(g.GetFloat("eps").value()), 1e-5f);
  EXPECT_TRUE(g.GetBool("yes").value());
  EXPECT_FALSE(g.GetBool("no").value());
  EXPECT_EQ(g.GetString("empty").value(), "");

  const Value* tokens = g.GetArray("tokens").value();
  EXPECT_EQ(tokens->array_type, ValueType::kString);
  ASSERT_EQ(tokens->array.size(), 4u);
  EXPECT_EQ(tokens->array[0].s, "a");
  EXPECT_EQ(tokens->array[1].s, "");
  EXPECT_EQ(tokens->array[3].s, "\xe2\x96\x81hi");
  const Value* scores = g.GetArray("scores").value();
  ASSERT_EQ(scores->array.size(), 2u);
  EXPECT_EQ(scores->array[1].f, -1.0);
  EXPECT_EQ(scores->array[1].type, ValueType::kFloat32);
  const Value* types = g.GetArray("types").value();
  ASSERT_EQ(types->array.size(), 3u);
  EXPECT_EQ(types->array[2].i, 3);
  EXPECT_TRUE(g.GetArray("none").value()->array.empty());
  EXPECT_EQ(g.GetArray("none").value()->array_type, ValueType::kInt32);

  ASSERT_EQ(g.tensors().size(), 5u);
  struct Expect {
    const char* name;
    DType type;
    int n_dims;
    int64_t n_elements;
    const std::vector<uint8_t>* bytes;
    const char* shape;
  } expect[] = {{"a.f32", DType::kF32, 2, 6, &f32, "[3, 2]"},
                {"b.f16", DType::kF16, 1, 5, &f16, "[5]"},
                {"c.q8_0", DType::kQ8_0, 1, 64, &q8, "[64]"},
                {"d.q4_k", DType::kQ4_K, 2, 256, &q4k, "[256, 1]"},
                {"e.bf16", DType::kBF16, 4, 14, &bf16, "[7, 1, 2, 1]"}};
  for (size_t k = 0; k < 5; ++k) {
    const TensorInfo& t = g.tensors()[k];
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.name, expect[k].name);
    EXPECT_EQ(t.type, expect[k].type);
    EXPECT_EQ(t.n_dims, expect[k].n_dims);
    EXPECT_EQ(t.n_elements(), expect[k].n_elements);
    EXPECT_EQ(t.ShapeString(), expect[k].shape);
    ASSERT_EQ(t.n_bytes, expect[k].bytes->size());
    EXPECT_EQ((t.data - bytes.data()) % 32, 0);
    EXPECT_EQ(t.offset % 32, 0u);
    EXPECT_EQ(std::vector<uint8_t>(t.data, t.data + t.n_bytes), *expect[k].bytes);
    EXPECT_EQ(g.FindTensor(expect[k].name), &t);
  }
  EXPECT_EQ(g.FindTensor("missing"), nullptr);
  EXPECT_STREQ(g.DominantTypeName(), "Q4_K");  // 144 bytes, the largest
}

TEST(GgufRoundTripTest, EveryValueTypeAndNestedArrays) {
  Bytes b = Header(0, 16);
  Key(b, "u8", ValueType::kUint8).Put<uint8_t>(250);
  Key(b, "i8", ValueType::kInt8).Put<int8_t>(-100);
  Key(b, "u16", ValueType::kUint16).Put<uint16_t>(65000);
  Key(b, "i16", ValueType::kInt16).Put<int16_t>(-30000);
  Key(b, "u32", ValueType::kUint32).Put<uint32_t>(4000000000u);
  Key(b, "i32", ValueType::kInt32).Put<int32_t>(-2000000000);
  Key(b, "f32", ValueType::kFloat32).Put<float>(0.25f);
  Key(b, "bool", ValueType::kBool).Put<uint8_t>(1);
  Key(b, "str", ValueType::kString).Str(std::string("h\0i", 3));
  Key(b, "u64", ValueType::kUint64).Put<uint64_t>(~uint64_t{0});
  Key(b, "i64", ValueType::kInt64).Put<int64_t>(std::numeric_limits<int64_t>::min());
  Key(b, "f64", ValueType::kFloat64).Put<double>(-1e300);
  // [[1, 2], [], [3]] of u16
  Key(b, "nested", ValueType::kArray).Put<uint32_t>(9).Put<uint64_t>(3);
  b.Put<uint32_t>(2).Put<uint64_t>(2).Put<uint16_t>(1).Put<uint16_t>(2);
  b.Put<uint32_t>(2).Put<uint64_t>(0);
  b.Put<uint32_t>(2).Put<uint64_t>(1).Put<uint16_t>(3);
  // [["x"], [["y", "z"]]] is not homogeneous at depth 2, so: [[["y","z"]]]
  Key(b, "deep", ValueType::kArray).Put<uint32_t>(9).Put<uint64_t>(1);
  b.Put<uint32_t>(9).Put<uint64_t>(1);
  b.Put<uint32_t>(8).Put<uint64_t>(2).Str("y").Str("z");
  Key(b, "bools", ValueType::kArray).Put<uint32_t>(7).Put<uint64_t>(3);
  b.Put<uint8_t>(0).Put<uint8_t>(1).Put<uint8_t>(0);
  Key(b, "f64s", ValueType::kArray).Put<uint32_t>(12).Put<uint64_t>(1).Put<double>(2.5);

  auto r = ParseBytes(b.data());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const GgufFile& g = **r;
  EXPECT_EQ(g.GetInt("u8").value(), 250);
  EXPECT_EQ(g.GetInt("i8").value(), -100);
  EXPECT_EQ(g.GetInt("u16").value(), 65000);
  EXPECT_EQ(g.GetInt("i16").value(), -30000);
  EXPECT_EQ(g.GetInt("u32").value(), 4000000000LL);
  EXPECT_EQ(g.GetInt("i32").value(), -2000000000);
  EXPECT_EQ(g.GetFloat("f32").value(), 0.25);
  EXPECT_TRUE(g.GetBool("bool").value());
  EXPECT_EQ(g.GetString("str").value(), std::string_view("h\0i", 3));
  EXPECT_EQ(g.Find("u64")->u, ~uint64_t{0});
  EXPECT_EQ(g.GetInt("i64").value(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(g.GetFloat("f64").value(), -1e300);
  for (const char* k : {"u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64"}) {
    EXPECT_TRUE(g.Find(k)->IsInteger()) << k;
    EXPECT_FALSE(g.Find(k)->IsFloat()) << k;
  }
  EXPECT_TRUE(g.Find("f32")->IsFloat());
  EXPECT_TRUE(g.Find("f64")->IsFloat());
  EXPECT_FALSE(g.Find("bool")->IsInteger());
  EXPECT_EQ(g.Find("u8")->type, ValueType::kUint8);
  EXPECT_EQ(g.Find("f64")->type, ValueType::kFloat64);

  const Value* nested = g.GetArray("nested").value();
  EXPECT_EQ(nested->array_type, ValueType::kArray);
  ASSERT_EQ(nested->array.size(), 3u);
  ASSERT_EQ(nested->array[0].array.size(), 2u);
  EXPECT_EQ(nested->array[0].array_type, ValueType::kUint16);
  EXPECT_EQ(nested->array[0].array[1].u, 2u);
  EXPECT_TRUE(nested->array[1].array.empty());
  EXPECT_EQ(nested->array[2].array[0].i, 3);
  const Value* deep = g.GetArray("deep").value();
  EXPECT_EQ(deep->array[0].array[0].array[1].s, "z");
  EXPECT_EQ(g.GetArray("bools").value()->array[1].u, 1u);
  EXPECT_EQ(g.GetArray("f64s").value()->array[0].f, 2.5);
  EXPECT_TRUE(g.tensors().empty());
}

TEST(GgufRoundTripTest, VersionTwoIsAccepted) {
  Bytes b = Header(0, 1, 2);
  Key(b, "k", ValueType::kUint32).Put<uint32_t>(5);
  auto r = ParseBytes(b.data());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value()->version(), 2u);
}

TEST(GgufRoundTripTest, CustomAlignment) {
  for (uint32_t alignment : {1u, 8u, 32u, 64u, 256u}) {
    SCOPED_TRACE(alignment);
    GgufWriter w(alignment);
    auto a = Fill(12, 9), b = Fill(40, 10);
    w.AddTensor("a", DType::kF32, {3}, a.data(), a.size());
    w.AddTensor("b", DType::kI8, {40}, b.data(), b.size());
    auto bytes = w.Serialize();
    auto r = ParseBytes(bytes);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r.value()->alignment(), alignment);
    for (const TensorInfo& t : r.value()->tensors()) {
      EXPECT_EQ((t.data - bytes.data()) % alignment, 0);
    }
    EXPECT_EQ(std::vector<uint8_t>(r.value()->tensors()[0].data, r.value()->tensors()[0].data + 12), a);
    EXPECT_EQ(std::vector<uint8_t>(r.value()->tensors()[1].data, r.value()->tensors()[1].data + 40), b);
  }
}

TEST(GgufRoundTripTest, NoTensorsNeedNoDataSection) {
  Bytes b = Header(0, 1);
  Key(b, "general.alignment", ValueType::kUint32).Put<uint32_t>(4096);
  auto r = ParseBytes(b.data());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value()->alignment(), 4096u);
}

TEST(GgufRoundTripTest, OpenFromDisk) {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("glint_gguf_test_" + std::to_string(::getpid()) + ".gguf")).string();
  GgufWriter w;
  w.AddString("general.name", "tiny");
  float x[4] = {1, 2, 3, 4};
  w.AddTensor("x", DType::kF32, {4}, x, sizeof(x));
  ASSERT_TRUE(w.WriteFile(path).ok());
  auto r = GgufFile::Open(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value()->path(), path);
  EXPECT_EQ(r.value()->GetString("general.name").value(), "tiny");
  EXPECT_EQ(reinterpret_cast<const float*>(r.value()->tensors()[0].data)[3], 4.0f);
  std::filesystem::remove(path);

  auto missing = GgufFile::Open(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);

  std::string bad = path + ".bad";
  { std::FILE* f = std::fopen(bad.c_str(), "wb"); std::fputs("GGML", f); std::fclose(f); }
  auto corrupt = GgufFile::Open(bad);
  ASSERT_FALSE(corrupt.ok());
  EXPECT_NE(corrupt.status().message().find("is not a valid GGUF file"), std::string::npos);
  EXPECT_NE(corrupt.status().message().find(bad), std::string::npos);
  std::filesystem::remove(bad);
}

// ------------------------------------------------------------ typed getters

class GgufGetterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Bytes b = Header(0, 7);
    Key(b, "s", ValueType::kString).Str("text");
    Key(b, "i", ValueType::kInt16).Put<int16_t>(-3);
    Key(b, "f", ValueType::kFloat64).Put<double>(1.5);
    Key(b, "b", ValueType::kBool).Put<uint8_t>(0);
    Key(b, "a", ValueType::kArray).Put<uint32_t>(4).Put<uint64_t>(1).Put<uint32_t>(9);
    Key(b, "huge", ValueType::kUint64).Put<uint64_t>(uint64_t{1} << 63);
    Key(b, "max", ValueType::kUint64).Put<uint64_t>(static_cast<uint64_t>(INT64_MAX));
    bytes_ = b.data();
    auto r = ParseBytes(bytes_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    file_ = std::move(r).value();
  }
  std::vector<uint8_t> bytes_;
  std::unique_ptr<GgufFile> file_;
};

template <typename T>
void ExpectError(const Result<T>& r, StatusCode code, const std::string& needle) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), code) << r.status().ToString();
  EXPECT_EQ(r.status().message(), needle);
}

TEST_F(GgufGetterTest, Missing) {
  ExpectError(file_->GetString("nope"), StatusCode::kNotFound, "metadata key 'nope' is missing");
  ExpectError(file_->GetInt("nope"), StatusCode::kNotFound, "metadata key 'nope' is missing");
  ExpectError(file_->GetFloat("nope"), StatusCode::kNotFound, "metadata key 'nope' is missing");
  ExpectError(file_->GetBool("nope"), StatusCode::kNotFound, "metadata key 'nope' is missing");
  ExpectError(file_->GetArray("nope"), StatusCode::kNotFound, "metadata key 'nope' is missing");
  EXPECT_EQ(file_->Find("nope"), nullptr);
}

TEST_F(GgufGetterTest, WrongTypeNamesKeyExpectedAndFound) {
  ExpectError(file_->GetString("i"), StatusCode::kInvalidArgument,
              "metadata 'i' should be a string, found int16");
  ExpectError(file_->GetInt("f"), StatusCode::kInvalidArgument,
              "metadata 'f' should be an integer, found float64");
  ExpectError(file_->GetInt("b"), StatusCode::kInvalidArgument,
              "metadata 'b' should be an integer, found bool");
  ExpectError(file_->GetFloat("i"), StatusCode::kInvalidArgument,
              "metadata 'i' should be a float, found int16");
  ExpectError(file_->GetBool("s"), StatusCode::kInvalidArgument,
              "metadata 's' should be a bool, found string");
  ExpectError(file_->GetArray("s"), StatusCode::kInvalidArgument,
              "metadata 's' should be an array, found string");
  ExpectError(file_->GetString("a"), StatusCode::kInvalidArgument,
              "metadata 'a' should be a string, found array");
}

TEST_F(GgufGetterTest, Values) {
  EXPECT_EQ(file_->GetString("s").value(), "text");
  EXPECT_EQ(file_->GetInt("i").value(), -3);
  EXPECT_EQ(file_->GetFloat("f").value(), 1.5);
  EXPECT_FALSE(file_->GetBool("b").value());
  EXPECT_EQ(file_->GetArray("a").value()->array[0].u, 9u);
  EXPECT_EQ(file_->GetInt("max").value(), INT64_MAX);
}

TEST_F(GgufGetterTest, Uint64PastInt64IsOutOfRange) {
  ExpectError(file_->GetInt("huge"), StatusCode::kOutOfRange,
              "metadata 'huge' = 9223372036854775808 is out of range");
  EXPECT_EQ(file_->Find("huge")->u, uint64_t{1} << 63);
}

TEST_F(GgufGetterTest, OrVariants) {
  EXPECT_EQ(file_->GetIntOr("nope", 17).value(), 17);
  EXPECT_EQ(file_->GetIntOr("i", 17).value(), -3);
  EXPECT_EQ(file_->GetFloatOr("nope", 0.5).value(), 0.5);
  EXPECT_EQ(file_->GetFloatOr("f", 0.5).value(), 1.5);
  ExpectError(file_->GetIntOr("s", 1), StatusCode::kInvalidArgument,
              "metadata 's' should be an integer, found string");
  ExpectError(file_->GetFloatOr("i", 1), StatusCode::kInvalidArgument,
              "metadata 'i' should be a float, found int16");
}

TEST(GgufNamesTest, ValueTypeNames) {
  EXPECT_STREQ(ValueTypeName(ValueType::kUint8), "uint8");
  EXPECT_STREQ(ValueTypeName(ValueType::kFloat64), "float64");
  EXPECT_STREQ(ValueTypeName(static_cast<ValueType>(13)), "unknown");
}

// ---------------------------------------------------------------- bad input

// A small valid file whose last byte belongs to tensor data, so that every
// strict prefix is invalid.
std::vector<uint8_t> SmallValidFile() {
  GgufWriter w;
  w.AddString("general.architecture", "llama");
  w.AddU32("n", 3);
  w.AddStringArray("tok", {"a", "bc"});
  w.AddF32Array("sc", {1.0f});
  w.AddBool("flag", true);
  auto a = Fill(34, 1);        // Q8_0, one block (padded to 64 by the writer)
  auto b = Fill(32, 2);        // F32 x 8: exactly one alignment unit, no tail padding
  w.AddTensor("q", DType::kQ8_0, {32}, a.data(), a.size());
  w.AddTensor("w", DType::kF32, {4, 2}, b.data(), b.size());
  return w.Serialize();
}

TEST(GgufBadInputTest, EveryTruncationFails) {
  std::vector<uint8_t> full = SmallValidFile();
  ASSERT_TRUE(ParseBytes(full).ok());
  ASSERT_LT(full.size(), 1024u);
  for (size_t n = 0; n < full.size(); ++n) {
    // Copy into an exact-size buffer so ASan sees any read past n.
    std::vector<uint8_t> prefix(full.begin(), full.begin() + n);
    auto r = GgufFile::Parse(prefix.data(), prefix.size(), "test.gguf");
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes parsed";
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << n << ": " << r.status().ToString();
    const std::string& m = r.status().message();
    EXPECT_TRUE(m.find("truncated") != std::string::npos || m.find("remain") != std::string::npos ||
                m.find("cannot fit") != std::string::npos || m.find("past the end") != std::string::npos)
        << n << ": " << m;
  }
}

TEST(GgufBadInputTest, EmptyAndNull) {
  auto r = GgufFile::Parse(nullptr, 0, "test.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("truncated at byte 0"), std::string::npos);
}

TEST(GgufBadInputTest, WrongMagic) {
  EXPECT_PARSE_ERROR(Header(0, 0, 3, 0x4C4D4747).data(), StatusCode::kDataLoss, "bad magic 0x4c4d4747");
  // Big-endian magic.
  EXPECT_PARSE_ERROR(Header(0, 0, 3, 0x47475546).data(), StatusCode::kDataLoss, "bad magic");
}

TEST(GgufBadInputTest, UnsupportedVersions) {
  for (uint32_t v : {0u, 1u, 4u, 0x03000000u}) {
    EXPECT_PARSE_ERROR(Header(0, 0, v).data(), StatusCode::kUnimplemented,
                       "GGUF version " + std::to_string(v) + " is not supported");
  }
}

TEST(GgufBadInputTest, AbsurdCounts) {
  Bytes kv = Header(0, uint64_t{1} << 60);
  kv.Zeros(64);
  EXPECT_PARSE_ERROR(kv.data(), StatusCode::kDataLoss, "1152921504606846976 metadata entries cannot fit");
  Bytes kv_max = Header(0, ~uint64_t{0});
  EXPECT_PARSE_ERROR(kv_max.data(), StatusCode::kDataLoss, "metadata entries cannot fit");
  Bytes t = Header(~uint64_t{0}, 0);
  t.Zeros(64);
  EXPECT_PARSE_ERROR(t.data(), StatusCode::kDataLoss, "18446744073709551615 tensors cannot fit");
  // Plausible-looking counts still have to match the bytes present.
  Bytes few = Header(0, 3);
  Key(few, "a", ValueType::kUint8).Put<uint8_t>(1);
  few.Zeros(30);
  EXPECT_PARSE_ERROR(few.data(), StatusCode::kDataLoss, "key of length 0");
}

TEST(GgufBadInputTest, StringLengthPastEof) {
  Bytes key = Header(0, 1);
  key.Put<uint64_t>(1000).Raw({'a', 'b'});
  key.Zeros(12);
  EXPECT_PARSE_ERROR(key.data(), StatusCode::kDataLoss, "metadata key at byte 24 claims 1000 bytes but only 14 remain");
  Bytes val = Header(0, 1);
  Key(val, "k", ValueType::kString).Put<uint64_t>(~uint64_t{0}).Raw({'x'});
  EXPECT_PARSE_ERROR(val.data(), StatusCode::kDataLoss, "claims 18446744073709551615 bytes");
  EXPECT_PARSE_ERROR(val.data(), StatusCode::kDataLoss, "metadata 'k'");  // context names the key
  Bytes name = Header(1, 0);
  name.Put<uint64_t>(uint64_t{1} << 62).Zeros(40);
  EXPECT_PARSE_ERROR(name.data(), StatusCode::kDataLoss, "tensor name at byte 24 claims");
}

TEST(GgufBadInputTest, ArrayCountPastEof) {
  Bytes b = Header(0, 1);
  Key(b, "arr", ValueType::kArray).Put<uint32_t>(6).Put<uint64_t>(5).Put<float>(1).Put<float>(2);
  EXPECT_PARSE_ERROR(b.data(), StatusCode::kDataLoss, "array of 5 float32 cannot fit in the 8 bytes left");
  Bytes s = Header(0, 1);
  Key(s, "arr", ValueType::kArray).Put<uint32_t>(8).Put<uint64_t>(~uint64_t{0}).Zeros(64);
  EXPECT_PARSE_ERROR(s.data(), StatusCode::kDataLoss, "array of 18446744073709551615 string cannot fit");
  // Count fits the bytes as a minimum, but the elements themselves run out.
  Bytes t = Header(0, 1);
  Key(t, "arr", ValueType::kArray).Put<uint32_t>(8).Put<uint64_t>(2).Str("abc").Put<uint64_t>(50).Zeros(8);
  EXPECT_PARSE_ERROR(t.data(), StatusCode::kDataLoss, "claims 50 bytes");
}

// depth levels of arrays, innermost an empty u8 array.
Bytes NestedArrays(int levels) {
  Bytes b = Header(0, 1);
  Key(b, "deep", ValueType::kArray);
  for (int d = 0; d < levels - 1; ++d) b.Put<uint32_t>(9).Put<uint64_t>(1);
  b.Put<uint32_t>(0).Put<uint64_t>(0);
  return b;
}

TEST(GgufBadInputTest, NestedArraysBeyondDepthLimit) {
  auto ok = ParseBytes(NestedArrays(8).data());
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  const Value* v = ok.value()->Find("deep");
  for (int d = 0; d < 7; ++d) v = &v->array.at(0);
  EXPECT_EQ(v->array_type, ValueType::kUint8);
  EXPECT_PARSE_ERROR(NestedArrays(9).data(), StatusCode::kDataLoss, "arrays nested deeper than 8");
  EXPECT_PARSE_ERROR(NestedArrays(100).data(), StatusCode::kDataLoss, "arrays nested deeper than 8");
}

TEST(GgufBadInputTest, UnknownValueType) {
  Bytes b = Header(0, 1);
  b.Str("k").Put<uint32_t>(13).Put<uint32_t>(0);
  EXPECT_PARSE_ERROR(b.data(), StatusCode::kDataLoss, "metadata 'k' has unknown type 13");
  Bytes big = Header(0, 1);
  big.Str("k").Put<uint32_t>(0x80000000u).Put<uint32_t>(0);
  EXPECT_PARSE_ERROR(big.data(), StatusCode::kDataLoss, "unknown type 2147483648");
  Bytes arr = Header(0, 1);
  Key(arr, "k", ValueType::kArray).Put<uint32_t>(99).Put<uint64_t>(0);
  EXPECT_PARSE_ERROR(arr.data(), StatusCode::kDataLoss, "array element type 99 is not a GGUF type");
}

TEST(GgufBadInputTest, BadBoolAndEmptyKey) {
  Bytes b = Header(0, 1);
  Key(b, "flag", ValueType::kBool).Put<uint8_t>(2);
  EXPECT_PARSE_ERROR(b.data(), StatusCode::kDataLoss, "bool value 2 is neither 0 nor 1");
  Bytes e = Header(0, 1);
  Key(e, "", ValueType::kUint8).Put<uint8_t>(1);
  EXPECT_PARSE_ERROR(e.data(), StatusCode::kDataLoss, "metadata entry 0 has a key of length 0");
  Bytes l = Header(0, 1);
  Key(l, std::string(70000, 'k'), ValueType::kUint8).Put<uint8_t>(1);
  EXPECT_PARSE_ERROR(l.data(), StatusCode::kDataLoss, "has a key of length 70000");
}

// One tensor entry followed by enough zero bytes for its data.
Bytes OneTensor(const std::vector<uint64_t>& ne, uint32_t type, uint64_t offset = 0,
                size_t data_bytes = 256) {
  Bytes b = Header(1, 0);
  TensorEntry(b, "t", ne, type, offset);
  b.PadTo(32).Zeros(data_bytes);
  return b;
}

TEST(GgufBadInputTest, DimensionCount) {
  EXPECT_PARSE_ERROR(OneTensor({}, 0).data(), StatusCode::kDataLoss, "tensor 't' has 0 dimensions (1 to 4 allowed)");
  EXPECT_PARSE_ERROR(OneTensor({1, 1, 1, 1, 1}, 0).data(), StatusCode::kDataLoss, "tensor 't' has 5 dimensions");
  Bytes huge = Header(1, 0);
  huge.Str("t").Put<uint32_t>(0xFFFFFFFFu).Zeros(64);
  EXPECT_PARSE_ERROR(huge.data(), StatusCode::kDataLoss, "has 4294967295 dimensions");
  EXPECT_TRUE(ParseBytes(OneTensor({2, 2, 2, 2}, 0, 0, 64).data()).ok());
}

TEST(GgufBadInputTest, ZeroAndHugeDimensions) {
  EXPECT_PARSE_ERROR(OneTensor({4, 0}, 0).data(), StatusCode::kDataLoss, "tensor 't' dimension 1 is 0");
  EXPECT_PARSE_ERROR(OneTensor({(uint64_t{1} << 40) + 1}, 0).data(), StatusCode::kDataLoss,
                     "tensor 't' dimension 0 is 1099511627777");
  EXPECT_PARSE_ERROR(OneTensor({1, ~uint64_t{0}}, 0).data(), StatusCode::kDataLoss,
                     "dimension 1 is 18446744073709551615");
}

TEST(GgufBadInputTest, DimensionProductOverflow) {
  uint64_t big = uint64_t{1} << 40;
  EXPECT_PARSE_ERROR(OneTensor({big, big}, 0).data(), StatusCode::kDataLoss, "dimension 1 is");
  EXPECT_PARSE_ERROR(OneTensor({big, 1 << 20, 1 << 20, 1 << 20}, 0).data(), StatusCode::kDataLoss, "dimension 2 is 1048576");
  // Regression: with a bound of 2^62 elements, n_bytes (elements * 4 or 8)
  // wrapped to 0 and a 2^62-element tensor "fit" in a 300-byte file.
  for (uint32_t type : {0u /* F32 */, 28u /* F64 */, 27u /* I64 */}) {
    auto r = ParseBytes(OneTensor({big, uint64_t{1} << 22}, type).data());
    EXPECT_FALSE(r.ok()) << "type " << type;
    r = ParseBytes(OneTensor({big, uint64_t{1} << 21}, type).data());
    EXPECT_FALSE(r.ok()) << "type " << type;
  }
  // Large but representable: rejected because the data is not there.
  EXPECT_PARSE_ERROR(OneTensor({big, 1 << 10}, 0).data(), StatusCode::kDataLoss, "runs past the end");
}

TEST(GgufBadInputTest, UnknownDtype) {
  EXPECT_PARSE_ERROR(OneTensor({4}, 4).data(), StatusCode::kUnimplemented, "tensor 't' has unknown type id 4");
  EXPECT_PARSE_ERROR(OneTensor({4}, 31).data(), StatusCode::kUnimplemented, "unknown type id 31");
  EXPECT_PARSE_ERROR(OneTensor({4}, 64).data(), StatusCode::kUnimplemented, "unknown type id 64");
  EXPECT_PARSE_ERROR(OneTensor({4}, 0xFFFFFFFFu).data(), StatusCode::kUnimplemented, "unknown type id 4294967295");
}

TEST(GgufBadInputTest, RowNotAMultipleOfBlockSize) {
  EXPECT_PARSE_ERROR(OneTensor({33}, 2).data(), StatusCode::kDataLoss,
                     "tensor 't' of type Q4_0 has a row of 33 elements, not a multiple of its block size 32");
  EXPECT_PARSE_ERROR(OneTensor({128, 2}, 12).data(), StatusCode::kDataLoss, "of type Q4_K has a row of 128");
  // Only the row must be whole blocks.
  EXPECT_TRUE(ParseBytes(OneTensor({32, 3}, 2, 0, 54).data()).ok());
}

TEST(GgufBadInputTest, OffsetNotAligned) {
  EXPECT_PARSE_ERROR(OneTensor({4}, 0, 4).data(), StatusCode::kDataLoss,
                     "tensor 't' offset 4 is not a multiple of the alignment 32");
  EXPECT_TRUE(ParseBytes(OneTensor({4}, 0, 32, 64).data()).ok());
}

TEST(GgufBadInputTest, TensorDataPastEof) {
  // 16 bytes of data present, 4 x F32 needs 16: fits exactly.
  EXPECT_TRUE(ParseBytes(OneTensor({4}, 0, 0, 16).data()).ok());
  EXPECT_PARSE_ERROR(OneTensor({5}, 0, 0, 16).data(), StatusCode::kDataLoss,
                     "tensor 't' (F32 [5], 20 bytes at data offset 0) runs past the end of the file "
                     "(data section is 16 bytes)");
  EXPECT_PARSE_ERROR(OneTensor({4}, 0, 32, 16).data(), StatusCode::kDataLoss, "at data offset 32) runs past");
  EXPECT_PARSE_ERROR(OneTensor({4}, 0, uint64_t{1} << 63, 16).data(), StatusCode::kDataLoss, "runs past the end");
  EXPECT_PARSE_ERROR(OneTensor({4}, 0, ~uint64_t{0} - 31, 16).data(), StatusCode::kDataLoss, "runs past the end");
  // The data section itself starting past the end.
  Bytes b = Header(1, 0);
  TensorEntry(b, "t", {1}, 0, 0);
  EXPECT_PARSE_ERROR(b.data(), StatusCode::kDataLoss, "the data section would start at byte 64, past the end of the 57-byte file");
}

TEST(GgufBadInputTest, DuplicateKeysAndTensors) {
  Bytes k = Header(0, 2);
  Key(k, "dup", ValueType::kUint8).Put<uint8_t>(1);
  Key(k, "dup", ValueType::kString).Str("x");
  EXPECT_PARSE_ERROR(k.data(), StatusCode::kDataLoss, "metadata key 'dup' appears twice");
  Bytes t = Header(2, 0);
  TensorEntry(t, "w", {8}, 0, 0);
  TensorEntry(t, "w", {8}, 0, 32);
  t.PadTo(32).Zeros(64);
  EXPECT_PARSE_ERROR(t.data(), StatusCode::kDataLoss, "tensor name 'w' appears twice");
}

Bytes WithAlignment(ValueType type, const std::vector<uint8_t>& value) {
  Bytes b = Header(0, 1);
  Key(b, "general.alignment", type).Raw(value);
  return b;
}

template <typename T>
std::vector<uint8_t> Le(T v) {
  return Bytes().Put<T>(v).data();
}

TEST(GgufBadInputTest, AlignmentNotAPowerOfTwo) {
  EXPECT_PARSE_ERROR(WithAlignment(ValueType::kUint32, Le<uint32_t>(48)).data(), StatusCode::kDataLoss,
                     "general.alignment must be a power of two up to 2^24, found 48");
  EXPECT_PARSE_ERROR(WithAlignment(ValueType::kUint32, Le<uint32_t>(0)).data(), StatusCode::kDataLoss,
                     "found 0");
  EXPECT_PARSE_ERROR(WithAlignment(ValueType::kInt32, Le<int32_t>(-32)).data(), StatusCode::kDataLoss,
                     "found -32");
  EXPECT_PARSE_ERROR(WithAlignment(ValueType::kUint64, Le<uint64_t>(uint64_t{1} << 63)).data(),
                     StatusCode::kDataLoss, "general.alignment must be");
  EXPECT_PARSE_ERROR(WithAlignment(ValueType::kUint32, Le<uint32_t>(1u << 25)).data(), StatusCode::kDataLoss,
                     "general.alignment must be");
  EXPECT_PARSE_ERROR(WithAlignment(ValueType::kFloat32, Le<float>(32)).data(), StatusCode::kDataLoss,
                     "found float32");
  EXPECT_PARSE_ERROR(WithAlignment(ValueType::kString, Bytes().Str("32").data()).data(), StatusCode::kDataLoss,
                     "found string");
  for (uint32_t a : {1u, 2u, 16u, 32u, 1u << 24}) {
    auto r = ParseBytes(WithAlignment(ValueType::kUint32, Le<uint32_t>(a)).data());
    ASSERT_TRUE(r.ok()) << a << ": " << r.status().ToString();
    EXPECT_EQ(r.value()->alignment(), a);
  }
  auto u8 = ParseBytes(WithAlignment(ValueType::kUint8, Le<uint8_t>(64)).data());
  ASSERT_TRUE(u8.ok());
  EXPECT_EQ(u8.value()->alignment(), 64u);
}

TEST(GgufBadInputTest, AlignmentAppliesToOffsetsAndDataStart) {
  Bytes b = Header(1, 1);
  Key(b, "general.alignment", ValueType::kUint32).Put<uint32_t>(256);
  TensorEntry(b, "t", {4}, 0, 32);  // 32 is not a multiple of 256
  b.PadTo(256).Zeros(512);
  EXPECT_PARSE_ERROR(b.data(), StatusCode::kDataLoss, "offset 32 is not a multiple of the alignment 256");
  Bytes ok = Header(1, 1);
  Key(ok, "general.alignment", ValueType::kUint32).Put<uint32_t>(256);
  TensorEntry(ok, "t", {4}, 0, 256);
  ok.PadTo(256).Zeros(256);
  for (int i = 0; i < 16; ++i) ok.Put<uint8_t>(static_cast<uint8_t>(i + 1));
  auto r = ParseBytes(ok.data());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const TensorInfo& t = r.value()->tensors()[0];
  EXPECT_EQ(t.data - ok.data().data(), 512);
  EXPECT_EQ(t.data[0], 1);
}

TEST(GgufBadInputTest, EveryByteFlipOfASmallFileIsSafe) {
  // Not a correctness check: each single-byte corruption either parses or
  // fails cleanly, and on success every tensor lies inside the buffer.
  std::vector<uint8_t> full = SmallValidFile();
  for (size_t i = 0; i < full.size(); ++i) {
    for (uint8_t x : {uint8_t{0x00}, uint8_t{0xFF}, uint8_t{0x80}, uint8_t{0x01}}) {
      std::vector<uint8_t> b = full;
      b[i] ^= x == 0 ? b[i] : x;
      auto r = ParseBytes(b);
      if (!r.ok()) continue;
      for (const TensorInfo& t : r.value()->tensors()) {
        ASSERT_GE(t.data, b.data());
        ASSERT_LE(t.data + t.n_bytes, b.data() + b.size());
        const DTypeInfo& info = GetDTypeInfo(t.type);
        ASSERT_EQ(t.n_bytes, static_cast<uint64_t>(t.n_elements() / info.block_size) * info.block_bytes);
      }
    }
  }
}

}  // namespace
}  // namespace glint::gguf

namespace glint::gguf {
namespace {

// A hostile file full of one-byte array elements must not make the reader
// allocate a Value (about 80 bytes) per byte without bound.
TEST(GgufBadInputTest, ArrayElementBudget) {
  using testing::Header;
  using testing::Key;
  const uint64_t n = (uint64_t{1} << 22) + 1;
  testing::Bytes b = Header(0, 1);
  Key(b, "big", ValueType::kArray).Put<uint32_t>(0).Put<uint64_t>(n).Zeros(n);
  auto r = GgufFile::Parse(b.data().data(), b.size(), "budget");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("more than 4194304 elements"), std::string::npos)
      << r.status().message();
}

TEST(GgufBadInputTest, TensorNameLongerThanTheSpecAllows) {
  GgufWriter w;
  uint8_t zero[4] = {};
  w.AddTensor(std::string(65, 'n'), DType::kF32, {1}, zero, 4);
  auto bytes = w.Serialize();
  auto r = GgufFile::Parse(bytes.data(), bytes.size(), "longname");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("name of 65 bytes"), std::string::npos);
}

}  // namespace
}  // namespace glint::gguf
