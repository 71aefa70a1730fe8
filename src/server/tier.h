// The two service tiers: a fast model for short, targeted requests and a
// smart model for long, multi-step or security-sensitive ones.
#pragma once

#include <optional>
#include <string_view>

namespace glint::server {

enum class Tier { kFast, kSmart };

inline const char* TierName(Tier t) { return t == Tier::kFast ? "fast" : "smart"; }

inline std::optional<Tier> ParseTier(std::string_view name) {
  if (name == "fast") return Tier::kFast;
  if (name == "smart") return Tier::kSmart;
  return std::nullopt;
}

}  // namespace glint::server
