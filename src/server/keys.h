// API keys: a JSON file of named keys, stored only as SHA-256 hashes, each
// with the tiers it may use and its per-tier rate limits. The file format:
//
//   {"keys": [{"name": "alice", "sha256": "<64 hex: SHA-256 of the key>",
//              "tiers": ["fast", "smart"],                        (default: both)
//              "limits": {"smart": {"requests_per_minute": 60,    (each optional:
//                                   "tokens_per_minute": 60000}}}]} absent = unlimited)
//
// Parsing is a pure function of the text; no error message ever holds key
// material (a presented key or a stored hash).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "server/tier.h"

namespace glint::server {

inline constexpr Tier kAllTiers[] = {Tier::kFast, Tier::kSmart};
inline constexpr size_t kNumTiers = std::size(kAllTiers);

// The largest limit a keys file may set, per minute: keeps the rate
// limiter's fixed-point arithmetic (rate_limit.cc) far from overflow.
inline constexpr int64_t kMaxLimitPerMinute = 1'000'000'000;

// Per-tier limits; 0 means unlimited.
struct Limits {
  int64_t requests_per_minute = 0;
  int64_t tokens_per_minute = 0;
};

struct ApiKey {
  struct TierAccess {
    bool allowed = false;
    Limits limits;
  };

  std::string name;                  // unique in its file; names the rate-limit buckets
  std::array<uint8_t, 32> sha256{};  // SHA-256 of the key string, raw bytes
  std::array<TierAccess, kNumTiers> tiers;

  bool allows(Tier tier) const { return tiers[static_cast<size_t>(tier)].allowed; }
  const Limits& limits(Tier tier) const { return tiers[static_cast<size_t>(tier)].limits; }
};

class KeyStore {
 public:
  // Reads and parses a keys file. Errors name the file and the field:
  // "keys.json: keys[2].sha256 must be 64 hex characters".
  static Result<KeyStore> Load(const std::string& path);
  // The same from text; `source` names it in errors.
  static Result<KeyStore> Parse(std::string_view text, std::string_view source);

  // The key whose hash matches SHA-256(presented), or nullptr. Every stored
  // hash is compared in constant time, whether or not one matched, so the
  // time taken says nothing about which key (if any) was close.
  const ApiKey* Authenticate(std::string_view presented) const;
  const ApiKey* Find(std::string_view name) const;
  const std::vector<ApiKey>& keys() const { return keys_; }

 private:
  std::vector<ApiKey> keys_;
};

// The token of an "Authorization: Bearer <token>" header (scheme
// case-insensitive, surrounding blanks trimmed), or "" when the header is
// not a bearer token.
std::string_view BearerToken(std::string_view authorization_header);

// A key's name: 1 to 64 letters, digits, '-', '_', '.', '@' (names appear
// in logs, metrics and error messages).
bool IsValidKeyName(std::string_view name);

// SHA-256 of data as 64 lowercase hex characters.
std::string Sha256Hex(std::string_view data);

// A new random key: "glint-" and 32 random bytes (RAND_bytes) in unpadded
// base64url (43 characters).
std::string NewKey();

}  // namespace glint::server
