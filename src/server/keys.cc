#include "server/keys.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/check.h"

namespace glint::server {
namespace {

using json = nlohmann::json;
using Digest = std::array<uint8_t, 32>;

Digest Sha256(std::string_view data) {
  Digest d{};
  unsigned int n = 0;
  // EVP_Digest fails only when libcrypto itself is broken.
  CHECK(EVP_Digest(data.data(), data.size(), d.data(), &n, EVP_sha256(), nullptr) == 1);
  CHECK(n == d.size());
  return d;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool DecodeHex(std::string_view hex, Digest* out) {
  if (hex.size() != 2 * out->size()) return false;
  for (size_t i = 0; i < out->size(); ++i) {
    const int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

// Parses one file; every error names the file and the field.
class KeysParser {
 public:
  explicit KeysParser(std::string_view source) : source_(source) {}

  template <typename... Args>
  Status Fail(fmt::format_string<Args...> format, Args&&... args) const {
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("{}: {}", source_,
                              fmt::format(format, std::forward<Args>(args)...)));
  }

  Status ParseKey(const json& j, const std::string& at, ApiKey* key) const {
    if (!j.is_object()) return Fail("{} must be an object, not {}", at, j.type_name());
    for (const auto& [field, value] : j.items()) {
      if (field != "name" && field != "sha256" && field != "tiers" && field != "limits") {
        return Fail("{} has an unknown field '{}' (expected name, sha256, tiers, limits)", at,
                    field);
      }
    }

    auto name = j.find("name");
    if (name == j.end()) return Fail("{}.name is missing", at);
    if (!name->is_string() || !IsValidKeyName(name->get_ref<const std::string&>())) {
      return Fail("{}.name must be 1 to 64 characters of letters, digits, '-', '_', '.', '@'", at);
    }
    key->name = name->get<std::string>();

    auto hash = j.find("sha256");
    if (hash == j.end()) return Fail("{}.sha256 is missing", at);
    // The hash is not the key, but it is still never echoed.
    if (!hash->is_string() || !DecodeHex(hash->get_ref<const std::string&>(), &key->sha256)) {
      return Fail("{}.sha256 must be 64 hex characters", at);
    }
    if (CRYPTO_memcmp(key->sha256.data(), Sha256("").data(), key->sha256.size()) == 0) {
      return Fail("{}.sha256 is the hash of the empty string", at);
    }

    auto tiers = j.find("tiers");
    if (tiers == j.end()) {
      for (auto& t : key->tiers) t.allowed = true;
    } else {
      if (!tiers->is_array() || tiers->empty()) {
        return Fail("{}.tiers must be a non-empty array of tier names (fast, smart)", at);
      }
      for (size_t i = 0; i < tiers->size(); ++i) {
        const json& t = (*tiers)[i];
        std::optional<Tier> tier;
        if (t.is_string()) tier = ParseTier(t.get_ref<const std::string&>());
        if (!tier) {
          return Fail("{}.tiers[{}] must be \"fast\" or \"smart\", not {}", at, i, t.dump());
        }
        key->tiers[static_cast<size_t>(*tier)].allowed = true;
      }
    }

    auto limits = j.find("limits");
    if (limits != j.end()) {
      if (!limits->is_object()) return Fail("{}.limits must be an object", at);
      for (const auto& [tier_name, value] : limits->items()) {
        const std::string where = fmt::format("{}.limits.{}", at, tier_name);
        std::optional<Tier> tier = ParseTier(tier_name);
        if (!tier) return Fail("{} is not a tier (expected fast or smart)", where);
        if (!key->allows(*tier)) {
          return Fail("{} is set but the key may not use the {} tier", where, tier_name);
        }
        RETURN_IF_ERROR(ParseLimits(value, where, &key->tiers[static_cast<size_t>(*tier)].limits));
      }
    }
    return Status::Ok();
  }

 private:
  Status ParseLimits(const json& j, const std::string& at, Limits* limits) const {
    if (!j.is_object()) return Fail("{} must be an object", at);
    for (const auto& [field, value] : j.items()) {
      int64_t* out = nullptr;
      if (field == "requests_per_minute") out = &limits->requests_per_minute;
      if (field == "tokens_per_minute") out = &limits->tokens_per_minute;
      if (!out) {
        // A misspelt limit would otherwise mean no limit at all.
        return Fail("{} has an unknown field '{}' (expected requests_per_minute, "
                    "tokens_per_minute)", at, field);
      }
      // Text parses a non-negative integer as unsigned, a negative one as signed.
      int64_t v = 0;
      if (value.is_number_unsigned()) {
        v = static_cast<int64_t>(std::min<uint64_t>(value.get<uint64_t>(), INT64_MAX));
      } else if (value.is_number_integer()) {
        v = value.get<int64_t>();
      }
      if (v < 1 || v > kMaxLimitPerMinute) {
        return Fail("{}.{} must be an integer from 1 to {} (leave it out for no limit), not {}",
                    at, field, kMaxLimitPerMinute, value.dump());
      }
      *out = v;
    }
    return Status::Ok();
  }

  std::string source_;
};

}  // namespace

Result<KeyStore> KeyStore::Parse(std::string_view text, std::string_view source) {
  KeysParser p(source);
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    // Parse again for the position; only the failing path pays for it.
    std::string why = "invalid JSON";
    try {
      json again = json::parse(text.begin(), text.end());
      (void)again;
    } catch (const json::parse_error& e) {
      why = e.what();
    }
    return p.Fail("not valid JSON: {}", why);
  }
  if (!doc.is_object()) return p.Fail("must be a JSON object {{\"keys\": [...]}}");
  auto list = doc.find("keys");
  if (list == doc.end()) return p.Fail("keys is missing (expected {{\"keys\": [...]}})");
  if (!list->is_array()) return p.Fail("keys must be an array, not {}", list->type_name());
  if (list->empty()) return p.Fail("keys is empty: no key could authenticate");

  KeyStore store;
  store.keys_.reserve(list->size());
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string at = fmt::format("keys[{}]", i);
    ApiKey key;
    RETURN_IF_ERROR(p.ParseKey((*list)[i], at, &key));
    for (size_t k = 0; k < store.keys_.size(); ++k) {
      if (store.keys_[k].name == key.name) {
        return p.Fail("{}.name '{}' is also the name of keys[{}]", at, key.name, k);
      }
      if (store.keys_[k].sha256 == key.sha256) {
        return p.Fail("{}.sha256 is also the hash of keys[{}] ('{}')", at, k,
                      store.keys_[k].name);
      }
    }
    store.keys_.push_back(std::move(key));
  }
  return store;
}

Result<KeyStore> KeyStore::Load(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return Error(StatusCode::kInvalidArgument, "{}: not a regular file", path);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error(errno == ENOENT ? StatusCode::kNotFound : StatusCode::kInvalidArgument,
                 "{}: cannot read the keys file: {}", path, std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return Error(StatusCode::kInvalidArgument, "{}: cannot read the keys file", path);
  }
  return Parse(text.str(), path);
}

const ApiKey* KeyStore::Authenticate(std::string_view presented) const {
  if (presented.empty()) return nullptr;
  const Digest digest = Sha256(presented);
  // No early exit: every hash is compared, the match only remembered.
  const ApiKey* match = nullptr;
  for (const ApiKey& key : keys_) {
    const bool equal = CRYPTO_memcmp(key.sha256.data(), digest.data(), digest.size()) == 0;
    match = equal ? &key : match;
  }
  return match;
}

const ApiKey* KeyStore::Find(std::string_view name) const {
  for (const ApiKey& key : keys_) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

bool IsValidKeyName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '@';
    if (!ok) return false;
  }
  return true;
}

std::string_view BearerToken(std::string_view header) {
  auto blank = [](char c) { return c == ' ' || c == '\t'; };
  while (!header.empty() && blank(header.front())) header.remove_prefix(1);
  while (!header.empty() && blank(header.back())) header.remove_suffix(1);
  constexpr std::string_view kScheme = "bearer";
  if (header.size() <= kScheme.size() || !blank(header[kScheme.size()])) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    const char c = header[i];
    if ((c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c) != kScheme[i]) return {};
  }
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && blank(token.front())) token.remove_prefix(1);
  // A token (RFC 6750 b64token) has no blanks inside.
  for (char c : token) {
    if (blank(c)) return {};
  }
  return token;
}

std::string Sha256Hex(std::string_view data) {
  const Digest d = Sha256(data);
  std::string hex;
  hex.reserve(2 * d.size());
  for (uint8_t b : d) fmt::format_to(std::back_inserter(hex), "{:02x}", b);
  return hex;
}

std::string NewKey() {
  std::array<uint8_t, 32> bytes{};
  // RAND_bytes fails only when the system cannot seed its generator; a key
  // made without randomness must never be handed out.
  CHECK(RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) == 1);
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string key = "glint-";
  // base64url (RFC 4648 section 5) without padding: 32 bytes -> 43 characters.
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      key.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) key.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return key;
}

}  // namespace glint::server
