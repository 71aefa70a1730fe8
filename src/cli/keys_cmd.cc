// glint keys new | list: the API keys file a server checks requests
// against (src/server/keys.h). The file keeps only SHA-256 hashes, so a new
// key is printed once, when it is made, and never again.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "client/edit.h"
#include "server/keys.h"

namespace glint::cli {
namespace {

// Ordered: a rewritten file keeps its entries' fields in the order they had.
using json = nlohmann::ordered_json;
using server::Tier;

struct KeysArgs {
  std::string file = "keys.json";
  std::string name;
  std::vector<std::string> tiers;  // empty: both
  int64_t fast_rpm = 0, fast_tpm = 0, smart_rpm = 0, smart_tpm = 0;  // 0: unlimited
};

int Fail(const std::string& message) {
  fmt::print(stderr, "glint keys: {}\n", message);
  return 1;
}

// The file as JSON, or {"keys": []} when it does not exist yet.
Result<json> ReadKeysDocument(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return Error(StatusCode::kInvalidArgument, "{}: not a regular file", path);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return json{{"keys", json::array()}};
    return Error(StatusCode::kInvalidArgument, "{}: cannot read the keys file: {}", path,
                 std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  json doc = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("keys") ||
      !doc["keys"].is_array()) {
    // The server's parser says what is wrong, and where.
    auto parsed = server::KeyStore::Parse(text.str(), path);
    if (!parsed.ok()) return parsed.status();
    return Error(StatusCode::kInvalidArgument, "{}: not a keys file", path);
  }
  return doc;
}

int NewKey(const KeysArgs& a) {
  if (!server::IsValidKeyName(a.name)) {
    return Fail("--name must be 1 to 64 characters of letters, digits, '-', '_', '.', '@'");
  }
  auto doc = ReadKeysDocument(a.file);
  if (!doc.ok()) return Fail(doc.status().message());
  for (const json& k : (*doc)["keys"]) {
    if (k.is_object() && k.value("name", "") == a.name) {
      return Fail(fmt::format("{}: a key named '{}' already exists", a.file, a.name));
    }
  }

  const std::string key = server::NewKey();
  json entry = {{"name", a.name}, {"sha256", server::Sha256Hex(key)}};
  std::vector<Tier> tiers;
  for (const std::string& t : a.tiers) {
    auto tier = server::ParseTier(t);
    if (!tier) return Fail(fmt::format("--tiers: '{}' is not a tier (fast, smart)", t));
    tiers.push_back(*tier);
  }
  if (tiers.empty()) tiers.assign(std::begin(server::kAllTiers), std::end(server::kAllTiers));
  auto allowed = [&](Tier t) { return std::find(tiers.begin(), tiers.end(), t) != tiers.end(); };
  entry["tiers"] = json::array();
  for (Tier t : server::kAllTiers) {
    if (allowed(t)) entry["tiers"].push_back(server::TierName(t));
  }
  json limits = json::object();
  auto limit = [&](Tier t, const char* field, const char* flag, int64_t n) -> bool {
    if (n == 0) return true;
    if (!allowed(t)) {
      Fail(fmt::format("{} limits the {} tier, which --tiers leaves out", flag,
                       server::TierName(t)));
      return false;
    }
    limits[server::TierName(t)][field] = n;
    return true;
  };
  if (!limit(Tier::kFast, "requests_per_minute", "--fast-rpm", a.fast_rpm) ||
      !limit(Tier::kFast, "tokens_per_minute", "--fast-tpm", a.fast_tpm) ||
      !limit(Tier::kSmart, "requests_per_minute", "--smart-rpm", a.smart_rpm) ||
      !limit(Tier::kSmart, "tokens_per_minute", "--smart-tpm", a.smart_tpm)) {
    return 1;
  }
  if (!limits.empty()) entry["limits"] = limits;

  (*doc)["keys"].push_back(entry);
  const std::string text = doc->dump(2) + "\n";
  // The whole file must load as the server will load it (this also checks
  // the name and every entry already there).
  auto store = server::KeyStore::Parse(text, a.file);
  if (!store.ok()) return Fail(store.status().message());
  Status written = client::WriteFileAtomically(a.file, text, 0600);
  if (!written.ok()) return Fail(written.message());

  fmt::print("{}\n", key);
  std::fflush(stdout);
  fmt::print(stderr,
             "glint keys: added '{}' to {}.\n"
             "Save the key above now: it cannot be shown again (the file keeps only its "
             "SHA-256).\n",
             a.name, a.file);
  return 0;
}

std::string LimitsText(const server::ApiKey& k, Tier t) {
  if (!k.allows(t)) return "-";
  const server::Limits& l = k.limits(t);
  if (l.requests_per_minute == 0 && l.tokens_per_minute == 0) return "unlimited";
  std::string text;
  if (l.requests_per_minute > 0) text = fmt::format("{} rpm", l.requests_per_minute);
  if (l.tokens_per_minute > 0) {
    text += fmt::format("{}{} tpm", text.empty() ? "" : ", ", l.tokens_per_minute);
  }
  return text;
}

int ListKeys(const KeysArgs& a) {
  auto store = server::KeyStore::Load(a.file);
  if (!store.ok()) return Fail(store.status().message());
  fmt::print("{:<20} {:<9} {:<11} {:<24} {}\n", "name", "sha256", "tiers", "fast", "smart");
  for (const server::ApiKey& k : store->keys()) {
    std::string tiers;
    for (Tier t : server::kAllTiers) {
      if (!k.allows(t)) continue;
      if (!tiers.empty()) tiers += ",";
      tiers += server::TierName(t);
    }
    // Eight hex characters tell keys apart without printing the hash.
    const std::string hash = fmt::format("{:02x}{:02x}{:02x}{:02x}", k.sha256[0], k.sha256[1],
                                         k.sha256[2], k.sha256[3]);
    fmt::print("{:<20} {:<9} {:<11} {:<24} {}\n", k.name, hash, tiers,
               LimitsText(k, Tier::kFast), LimitsText(k, Tier::kSmart));
  }
  return 0;
}

}  // namespace

Runner AddKeysCommand(CLI::App& app) {
  auto args = std::make_shared<KeysArgs>();
  CLI::App* cmd = app.add_subcommand("keys", "Create and list the API keys a server accepts");
  cmd->require_subcommand(1);

  CLI::App* add = cmd->add_subcommand(
      "new", "Make a key, store its SHA-256 in the keys file and print the key (only once)");
  add->add_option("--name", args->name, "A unique name for the key (letters, digits, -_.@)")
      ->required();
  add->add_option("--file", args->file, "The keys file (created when missing)")
      ->capture_default_str();
  add->add_option("--tiers", args->tiers, "The tiers the key may use (default: fast,smart)")
      ->delimiter(',');
  const auto range = CLI::Range(int64_t{1}, server::kMaxLimitPerMinute);
  add->add_option("--fast-rpm", args->fast_rpm, "Fast tier: requests per minute (default: no limit)")
      ->check(range);
  add->add_option("--fast-tpm", args->fast_tpm, "Fast tier: tokens per minute (default: no limit)")
      ->check(range);
  add->add_option("--smart-rpm", args->smart_rpm,
                  "Smart tier: requests per minute (default: no limit)")
      ->check(range);
  add->add_option("--smart-tpm", args->smart_tpm,
                  "Smart tier: tokens per minute (default: no limit)")
      ->check(range);

  CLI::App* list = cmd->add_subcommand("list", "List the keys: names, tiers and limits");
  list->add_option("--file", args->file, "The keys file")->capture_default_str();

  return [args, add] { return add->parsed() ? NewKey(*args) : ListKeys(*args); };
}

}  // namespace glint::cli
