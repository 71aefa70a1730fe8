// API keys: the keys file parser and its errors, hashing, authentication
// and the Authorization header.
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "server/keys.h"

namespace glint::server {
namespace {

const std::string kAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// A keys file with one entry per (name, key string) pair; `extra` goes into
// each entry ("" or a leading comma and fields).
std::string KeysJson(const std::vector<std::pair<std::string, std::string>>& keys,
                     const std::string& extra = "") {
  std::string s = R"({"keys": [)";
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i) s += ", ";
    s += R"({"name": ")" + keys[i].first + R"(", "sha256": ")" + Sha256Hex(keys[i].second) +
         "\"" + extra + "}";
  }
  return s + "]}";
}

Result<KeyStore> ParseKeys(const std::string& text) { return KeyStore::Parse(text, "keys.json"); }

// The error message of a file that must not load.
std::string ErrorOf(const std::string& text) {
  auto r = ParseKeys(text);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? "" : r.status().message();
}

TEST(KeySha256, KnownAnswers) {
  // FIPS 180-2 appendix B.1 and the empty message.
  EXPECT_EQ(Sha256Hex("abc"), kAbc);
  EXPECT_EQ(Sha256Hex(""), kEmpty);
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(KeyNew, RandomUrlSafeKeys) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string k = NewKey();
    ASSERT_EQ(k.rfind("glint-", 0), 0u);
    ASSERT_EQ(k.size(), 6u + 43u);
    for (char c : k.substr(6)) {
      ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << k;
    }
    seen.insert(k);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(KeyStore, LoadsFieldsAndDefaults) {
  auto r = ParseKeys(R"({"keys": [
    {"name": "alice", "sha256": ")" + Sha256Hex("key-a") + R"(",
     "limits": {"fast": {"requests_per_minute": 600, "tokens_per_minute": 400000},
                "smart": {"requests_per_minute": 60}}},
    {"name": "bob", "sha256": ")" + kAbc + R"(", "tiers": ["fast"]}]})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->keys().size(), 2u);
  const ApiKey& a = r->keys()[0];
  EXPECT_EQ(a.name, "alice");
  EXPECT_TRUE(a.allows(Tier::kFast));
  EXPECT_TRUE(a.allows(Tier::kSmart));  // tiers default to both
  EXPECT_EQ(a.limits(Tier::kFast).requests_per_minute, 600);
  EXPECT_EQ(a.limits(Tier::kFast).tokens_per_minute, 400000);
  EXPECT_EQ(a.limits(Tier::kSmart).requests_per_minute, 60);
  EXPECT_EQ(a.limits(Tier::kSmart).tokens_per_minute, 0);  // absent: unlimited
  const ApiKey& b = r->keys()[1];
  EXPECT_TRUE(b.allows(Tier::kFast));
  EXPECT_FALSE(b.allows(Tier::kSmart));
  EXPECT_EQ(b.limits(Tier::kFast).requests_per_minute, 0);
  EXPECT_EQ(b.sha256[0], 0xba);
  EXPECT_EQ(b.sha256[31], 0xad);
  EXPECT_EQ(r->Find("bob"), &b);
  EXPECT_EQ(r->Find("carol"), nullptr);
}

TEST(KeyStore, UppercaseHexIsAccepted) {
  std::string upper = kAbc;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto r = ParseKeys(R"({"keys": [{"name": "a", "sha256": ")" + upper + R"("}]})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_NE(r->Authenticate("abc"), nullptr);
}

TEST(KeyStore, Authenticates) {
  auto r = ParseKeys(KeysJson({{"alice", "glint-aaa"}, {"bob", "glint-bbb"}, {"eve", "x"}}));
  ASSERT_TRUE(r.ok()) << r.status().message();
  const ApiKey* bob = r->Authenticate("glint-bbb");
  ASSERT_NE(bob, nullptr);
  EXPECT_EQ(bob->name, "bob");
  EXPECT_EQ(r->Authenticate("glint-aaa")->name, "alice");
  EXPECT_EQ(r->Authenticate("x")->name, "eve");  // the last entry matches too
  EXPECT_EQ(r->Authenticate("glint-bb"), nullptr);
  EXPECT_EQ(r->Authenticate("glint-bbbb"), nullptr);
  EXPECT_EQ(r->Authenticate("GLINT-BBB"), nullptr);
  EXPECT_EQ(r->Authenticate(""), nullptr);
  EXPECT_EQ(r->Authenticate(Sha256Hex("glint-bbb")), nullptr);  // the hash is not the key
}

TEST(KeyStore, TiersAreChecked) {
  auto r = ParseKeys(KeysJson({{"a", "k"}}, R"(, "tiers": ["smart"])"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->keys()[0].allows(Tier::kFast));
  EXPECT_TRUE(r->keys()[0].allows(Tier::kSmart));
  EXPECT_NE(ErrorOf(KeysJson({{"a", "k"}}, R"(, "tiers": ["fast", "turbo"])"))
                .find("keys.json: keys[0].tiers[1] must be \"fast\" or \"smart\", not \"turbo\""),
            std::string::npos);
  EXPECT_NE(ErrorOf(KeysJson({{"a", "k"}}, R"(, "tiers": [])")).find("keys[0].tiers must be"),
            std::string::npos);
  EXPECT_NE(ErrorOf(KeysJson({{"a", "k"}}, R"(, "tiers": "fast")")).find("keys[0].tiers must be"),
            std::string::npos);
  EXPECT_NE(ErrorOf(KeysJson({{"a", "k"}}, R"(, "limits": {"turbo": {}})"))
                .find("keys[0].limits.turbo is not a tier"),
            std::string::npos);
  EXPECT_NE(ErrorOf(KeysJson({{"a", "k"}},
                             R"(, "tiers": ["fast"], "limits": {"smart": {"requests_per_minute": 1}})"))
                .find("keys[0].limits.smart is set but the key may not use the smart tier"),
            std::string::npos);
}

TEST(KeyStore, RejectsDuplicates) {
  EXPECT_NE(ErrorOf(KeysJson({{"a", "k1"}, {"b", "k2"}, {"a", "k3"}}))
                .find("keys.json: keys[2].name 'a' is also the name of keys[0]"),
            std::string::npos);
  const std::string msg = ErrorOf(KeysJson({{"a", "k1"}, {"b", "k1"}}));
  EXPECT_NE(msg.find("keys.json: keys[1].sha256 is also the hash of keys[0] ('a')"),
            std::string::npos);
  EXPECT_EQ(msg.find(Sha256Hex("k1")), std::string::npos);
}

TEST(KeyStore, LoadErrorsNameTheFileAndField) {
  struct Case {
    std::string text;
    std::string fragment;
  };
  const std::string h = Sha256Hex("k");
  const std::vector<Case> cases = {
      {"{\"keys\": [", "keys.json: not valid JSON"},
      {"[]", "keys.json: must be a JSON object"},
      {"{}", "keys.json: keys is missing"},
      {R"({"keys": {}})", "keys.json: keys must be an array, not object"},
      {R"({"keys": []})", "keys.json: keys is empty"},
      {R"({"keys": [1]})", "keys.json: keys[0] must be an object, not number"},
      {R"({"keys": [{"sha256": ")" + h + R"("}]})", "keys.json: keys[0].name is missing"},
      {R"({"keys": [{"name": "", "sha256": ")" + h + R"("}]})", "keys[0].name must be 1 to 64"},
      {R"({"keys": [{"name": "a b", "sha256": ")" + h + R"("}]})", "keys[0].name must be"},
      {R"({"keys": [{"name": 7, "sha256": ")" + h + R"("}]})", "keys[0].name must be"},
      {R"({"keys": [{"name": "a"}]})", "keys.json: keys[0].sha256 is missing"},
      {R"({"keys": [{"name": "a", "sha256": "abc"}]})",
       "keys.json: keys[0].sha256 must be 64 hex characters"},
      {R"({"keys": [{"name": "a", "sha256": ")" + h.substr(0, 63) + "g" + R"("}]})",
       "keys[0].sha256 must be 64 hex characters"},
      {R"({"keys": [{"name": "a", "sha256": ")" + h + "00" + R"("}]})",
       "keys[0].sha256 must be 64 hex characters"},
      {R"({"keys": [{"name": "a", "sha256": ")" + kEmpty + R"("}]})",
       "keys[0].sha256 is the hash of the empty string"},
      {R"({"keys": [{"name": "a", "sha256": ")" + h + R"(", "secret": "x"}]})",
       "keys[0] has an unknown field 'secret'"},
      {R"({"keys": [{"name": "a", "sha256": ")" + h + R"(", "limits": []}]})",
       "keys[0].limits must be an object"},
      {R"({"keys": [{"name": "a", "sha256": ")" + h + R"(", "limits": {"fast": 5}}]})",
       "keys[0].limits.fast must be an object"},
      {R"({"keys": [{"name": "a", "sha256": ")" + h +
           R"(", "limits": {"fast": {"request_per_minute": 5}}}]})",
       "keys[0].limits.fast has an unknown field 'request_per_minute'"},
  };
  for (const Case& c : cases) {
    const std::string msg = ErrorOf(c.text);
    EXPECT_NE(msg.find(c.fragment), std::string::npos) << c.text << "\n  -> " << msg;
  }
}

TEST(KeyStore, LimitsMustBePositiveIntegers) {
  for (const char* bad : {"0", "-5", "1.5", "60.0", "\"60\"", "true", "null", "1000000000001",
                          "18446744073709551615"}) {
    const std::string text = KeysJson(
        {{"a", "k"}, {"b", "l"}},
        std::string(R"(, "limits": {"smart": {"tokens_per_minute": )") + bad + "}}");
    const std::string msg = ErrorOf(text);
    EXPECT_NE(msg.find("keys.json: keys[0].limits.smart.tokens_per_minute must be an integer "
                       "from 1 to 1000000000"),
              std::string::npos)
        << bad << " -> " << msg;
  }
  auto r = ParseKeys(KeysJson({{"a", "k"}},
                              R"(, "limits": {"smart": {"tokens_per_minute": 1000000000}})"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->keys()[0].limits(Tier::kSmart).tokens_per_minute, kMaxLimitPerMinute);
}

TEST(KeyStore, LoadsFromDiskAndReportsUnreadableFiles) {
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/glint_keys_test_" + std::to_string(::getpid()) + ".json";
  {
    std::ofstream out(path);
    out << KeysJson({{"alice", "glint-k"}});
  }
  auto r = KeyStore::Load(path);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->Authenticate("glint-k")->name, "alice");
  {
    std::ofstream out(path);
    out << R"({"keys": [{"name": "a", "sha256": "xyz"}]})";
  }
  r = KeyStore::Load(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), path + ": keys[0].sha256 must be 64 hex characters");
  std::remove(path.c_str());

  r = KeyStore::Load(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find(path + ": cannot read the keys file"), std::string::npos);
  r = KeyStore::Load(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), dir + ": not a regular file");
}

TEST(BearerToken, Parses) {
  EXPECT_EQ(BearerToken("Bearer glint-abc"), "glint-abc");
  EXPECT_EQ(BearerToken("bearer glint-abc"), "glint-abc");
  EXPECT_EQ(BearerToken("BEARER glint-abc"), "glint-abc");
  EXPECT_EQ(BearerToken("  Bearer   glint-abc  "), "glint-abc");
  EXPECT_EQ(BearerToken("Bearer\tglint-abc"), "glint-abc");
  EXPECT_EQ(BearerToken("Bearer a.b_c-d~e+f/g="), "a.b_c-d~e+f/g=");
}

TEST(BearerToken, RejectsOtherForms) {
  EXPECT_EQ(BearerToken(""), "");
  EXPECT_EQ(BearerToken("Bearer"), "");
  EXPECT_EQ(BearerToken("Bearer "), "");
  EXPECT_EQ(BearerToken("Bearer    "), "");
  EXPECT_EQ(BearerToken("Bearerglint-abc"), "");
  EXPECT_EQ(BearerToken("Basic dXNlcjpwYXNz"), "");
  EXPECT_EQ(BearerToken("glint-abc"), "");
  EXPECT_EQ(BearerToken("Bearer a b"), "");
  EXPECT_EQ(BearerToken("Bear glint-abc"), "");
}

}  // namespace
}  // namespace glint::server
