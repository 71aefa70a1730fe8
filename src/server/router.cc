#include "server/router.h"

#include <array>
#include <limits>
#include <optional>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "base/check.h"

namespace glint::server {
namespace {

// What a matched phrase says. Weak signals decide nothing alone: they count
// only next to a partner (kPairRules), because "parse" or "SELECT" alone
// is ordinary English.
enum class Signal {
  kSmart,
  kFast,
  // Security categories, in the order a reason names them (kCategoryNames).
  kAuth,
  kCrypto,
  kSql,
  kShell,
  kPermissions,
  kDeserialization,
  kUntrustedInput,
  kSecurityReview,
  kMultiStep,
  // Weak.
  kParse,
  kTaint,
  kRegex,
  kValidate,
  kSqlSelect,
  kSqlFrom,
  kQuery,
  kConcat,
  // Weak and read only in prose, like kSmart, kFast and kMultiStep.
  kImplement,
  kSystem,
  kFirst,
  kThen,
  kFinally,
  kCount,
};
using S = Signal;

constexpr const char* kCategoryNames[] = {
    "authentication", "cryptography",    "SQL",           "shell commands",
    "permissions",    "deserialization", "untrusted input", "security review"};

bool IsCategory(Signal s) { return s >= S::kAuth && s <= S::kSecurityReview; }

// Phrases about the request itself: code says "then", "finally" and even
// "fast model" for other reasons.
bool IsProseOnly(Signal s) {
  return s == S::kSmart || s == S::kFast || s == S::kMultiStep || s >= S::kImplement;
}

// A pattern is words separated by spaces: "stem*" matches any word that
// starts with the stem, "name(" only a call, a word in capitals only
// capitals; any other word matches itself or, from three letters on, its
// plural in "s".
struct Keyword {
  std::string_view pattern;
  Signal signal;
};

constexpr Keyword kKeywords[] = {
    // Explicit requests for a tier.
    {"think carefully", S::kSmart}, {"think hard", S::kSmart}, {"think harder", S::kSmart},
    {"think deeply", S::kSmart}, {"think step by step", S::kSmart}, {"be thorough", S::kSmart},
    {"review carefully", S::kSmart}, {"carefully review", S::kSmart},
    {"smart model", S::kSmart}, {"smart tier", S::kSmart}, {"glint smart", S::kSmart},
    {"fast model", S::kFast}, {"fast tier", S::kFast}, {"glint fast", S::kFast},
    {"quick answer", S::kFast}, {"quick question", S::kFast}, {"answer quickly", S::kFast},
    {"quickly answer", S::kFast}, {"reply quickly", S::kFast}, {"respond quickly", S::kFast},

    // Authentication. Not "author", "authority", "otp" (Erlang/OTP).
    {"auth", S::kAuth}, {"authn", S::kAuth}, {"authz", S::kAuth},
    {"authenticat*", S::kAuth}, {"unauthenticat*", S::kAuth}, {"authoriz*", S::kAuth},
    {"unauthoriz*", S::kAuth}, {"authoris*", S::kAuth}, {"unauthoris*", S::kAuth},
    {"oauth*", S::kAuth}, {"oidc", S::kAuth}, {"saml", S::kAuth}, {"sso", S::kAuth},
    {"ldap", S::kAuth}, {"login", S::kAuth}, {"passwd", S::kAuth}, {"password*", S::kAuth},
    {"passphrase*", S::kAuth}, {"credential*", S::kAuth}, {"jwt", S::kAuth},
    {"csrf", S::kAuth}, {"xsrf", S::kAuth}, {"2fa", S::kAuth}, {"mfa", S::kAuth},
    {"totp", S::kAuth}, {"two factor", S::kAuth}, {"multi factor", S::kAuth},
    {"session token", S::kAuth}, {"session cookie", S::kAuth}, {"access token", S::kAuth},
    {"refresh token", S::kAuth}, {"bearer token", S::kAuth}, {"api key", S::kAuth},
    {"client secret", S::kAuth},

    // Cryptography. Not "signature" alone: a function has one.
    {"encrypt*", S::kCrypto}, {"decrypt*", S::kCrypto}, {"cipher*", S::kCrypto},
    {"crypto", S::kCrypto}, {"cryptograph*", S::kCrypto}, {"aes", S::kCrypto},
    {"aes128", S::kCrypto}, {"aes256", S::kCrypto}, {"rsa", S::kCrypto}, {"ecdsa", S::kCrypto},
    {"ed25519", S::kCrypto}, {"hmac", S::kCrypto}, {"sha1", S::kCrypto},
    {"sha224", S::kCrypto}, {"sha256", S::kCrypto}, {"sha384", S::kCrypto},
    {"sha512", S::kCrypto}, {"md5", S::kCrypto}, {"bcrypt", S::kCrypto},
    {"scrypt", S::kCrypto}, {"argon2*", S::kCrypto}, {"pbkdf2", S::kCrypto},
    {"nonce", S::kCrypto}, {"csprng", S::kCrypto}, {"secure random", S::kCrypto},
    {"random key", S::kCrypto}, {"tls", S::kCrypto}, {"ssl", S::kCrypto},
    {"mtls", S::kCrypto}, {"openssl", S::kCrypto}, {"certificat*", S::kCrypto},
    {"x509", S::kCrypto}, {"private key", S::kCrypto}, {"public key", S::kCrypto},
    {"secret key", S::kCrypto}, {"key derivation", S::kCrypto},
    {"digital signature", S::kCrypto}, {"signature verification", S::kCrypto},
    {"verify signature", S::kCrypto}, {"verify the signature", S::kCrypto},

    // SQL. "insert into" and "delete from" are English in lower case.
    {"sql", S::kSql}, {"sqlite*", S::kSql}, {"mysql", S::kSql}, {"postgres*", S::kSql},
    {"prepared statement", S::kSql}, {"parameterized query", S::kSql},
    {"parameterised query", S::kSql}, {"drop table", S::kSql}, {"create table", S::kSql},
    {"alter table", S::kSql}, {"truncate table", S::kSql}, {"INSERT INTO", S::kSql},
    {"DELETE FROM", S::kSql},
    {"SELECT", S::kSqlSelect}, {"FROM", S::kSqlFrom},
    {"query*", S::kQuery}, {"queries", S::kQuery},
    {"concatenat*", S::kConcat}, {"interpolat*", S::kConcat}, {"string format*", S::kConcat},
    {"f string", S::kConcat},

    // Shell commands. Not "exec" or "eval" unless called: "evaluate",
    // "executive".
    {"shell", S::kShell}, {"subprocess*", S::kShell}, {"popen", S::kShell},
    {"execv*", S::kShell}, {"exec(", S::kShell}, {"eval(", S::kShell},
    {"os system", S::kShell}, {"child process", S::kShell}, {"exec command", S::kShell},
    {"bash command", S::kShell}, {"bash script", S::kShell},
    {"command injection", S::kShell}, {"shell injection", S::kShell},
    {"code injection", S::kShell},

    // Permissions. Not "pseudo".
    {"chmod", S::kPermissions}, {"chown", S::kPermissions}, {"chgrp", S::kPermissions},
    {"umask", S::kPermissions}, {"sudo", S::kPermissions}, {"sudoers", S::kPermissions},
    {"setuid", S::kPermissions}, {"setgid", S::kPermissions}, {"suid", S::kPermissions},
    {"permission*", S::kPermissions}, {"privileg*", S::kPermissions},
    {"acl", S::kPermissions}, {"rbac", S::kPermissions},
    {"access control", S::kPermissions},

    // Deserialization ("yaml.safe_load" is the safe one: not "yaml load").
    {"deserializ*", S::kDeserialization}, {"deserialis*", S::kDeserialization},
    {"unserializ*", S::kDeserialization}, {"unmarshal*", S::kDeserialization},
    {"pickle*", S::kDeserialization}, {"unpickl*", S::kDeserialization},
    {"yaml load", S::kDeserialization}, {"marshal load", S::kDeserialization},
    {"object input stream", S::kDeserialization},
    {"binary formatter", S::kDeserialization},

    // Untrusted input. Not "overflow" alone (Stack Overflow), nor
    // "injection" alone (dependency injection).
    {"untrusted", S::kUntrustedInput}, {"unsanitized", S::kUntrustedInput},
    {"unsanitised", S::kUntrustedInput}, {"unvalidated", S::kUntrustedInput},
    {"sanitiz*", S::kUntrustedInput}, {"sanitis*", S::kUntrustedInput},
    {"buffer overflow*", S::kUntrustedInput}, {"buffer overrun*", S::kUntrustedInput},
    {"integer overflow*", S::kUntrustedInput}, {"out of bounds", S::kUntrustedInput},
    {"bounds check*", S::kUntrustedInput}, {"use after free", S::kUntrustedInput},
    {"path traversal", S::kUntrustedInput}, {"directory traversal", S::kUntrustedInput},
    {"ldap injection", S::kUntrustedInput}, {"header injection", S::kUntrustedInput},
    {"html injection", S::kUntrustedInput}, {"script injection", S::kUntrustedInput},
    {"xml injection", S::kUntrustedInput},

    // Security review.
    {"security", S::kSecurityReview}, {"secure", S::kSecurityReview},
    {"securely", S::kSecurityReview}, {"insecure*", S::kSecurityReview},
    {"vulnerab*", S::kSecurityReview}, {"cve", S::kSecurityReview},
    {"xss", S::kSecurityReview}, {"ssrf", S::kSecurityReview},
    {"malicious", S::kSecurityReview}, {"attacker*", S::kSecurityReview},
    {"threat model*", S::kSecurityReview},

    // Weak: parsing, escaping and regular expressions, near untrusted input.
    {"parse*", S::kParse}, {"parsing", S::kParse}, {"escape*", S::kParse},
    {"escaping", S::kParse}, {"unescap*", S::kParse},
    {"regex*", S::kRegex}, {"regexp*", S::kRegex}, {"regular expression", S::kRegex},
    {"validat*", S::kValidate},
    {"untrusted", S::kTaint}, {"user input", S::kTaint}, {"user supplied", S::kTaint},
    {"user provided", S::kTaint}, {"user controlled", S::kTaint}, {"user data", S::kTaint},
    {"external input", S::kTaint}, {"network input", S::kTaint},
    {"from the network", S::kTaint}, {"from users", S::kTaint}, {"from the user", S::kTaint},

    // Multi-step tasks.
    {"refactor the whole", S::kMultiStep}, {"refactor the entire", S::kMultiStep},
    {"refactor all", S::kMultiStep}, {"across the codebase", S::kMultiStep},
    {"across the code base", S::kMultiStep}, {"across the repo", S::kMultiStep},
    {"across the repository", S::kMultiStep}, {"across the project", S::kMultiStep},
    {"whole codebase", S::kMultiStep}, {"entire codebase", S::kMultiStep},
    {"whole project", S::kMultiStep}, {"entire project", S::kMultiStep},
    {"architect*", S::kMultiStep}, {"design a", S::kMultiStep}, {"design an", S::kMultiStep},
    {"multiple files", S::kMultiStep}, {"several files", S::kMultiStep},
    {"many files", S::kMultiStep}, {"multiple modules", S::kMultiStep},
    {"from scratch", S::kMultiStep}, {"step by step plan", S::kMultiStep},
    {"implementation plan", S::kMultiStep}, {"migration plan", S::kMultiStep},
    {"implement", S::kImplement},
    {"system", S::kSystem}, {"subsystem", S::kSystem}, {"service", S::kSystem},
    {"framework", S::kSystem}, {"pipeline", S::kSystem},
    {"first", S::kFirst}, {"firstly", S::kFirst}, {"then", S::kThen}, {"next", S::kThen},
    {"finally", S::kFinally}, {"lastly", S::kFinally},
};

// Two weak signals within `window` words of each other (`ordered`: the
// first one first) make a direct one.
struct PairRule {
  Signal first, second;
  int64_t window;
  bool ordered;
  Signal result;
  std::string_view label;
};

constexpr PairRule kPairRules[] = {
    {S::kParse, S::kTaint, 8, false, S::kUntrustedInput, "parsing untrusted input"},
    {S::kRegex, S::kTaint, 8, false, S::kUntrustedInput, "a regex on untrusted input"},
    {S::kRegex, S::kValidate, 8, false, S::kUntrustedInput, "a regex for validation"},
    {S::kSqlSelect, S::kSqlFrom, 40, true, S::kSql, "SELECT ... FROM"},
    {S::kQuery, S::kConcat, 8, false, S::kSql, "a query built from strings"},
    {S::kImplement, S::kSystem, 5, true, S::kMultiStep, "implement ... system"},
};

// ---- Words ----

bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool IsUpper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
bool IsLower(unsigned char c) { return c >= 'a' && c <= 'z'; }
bool IsWordChar(unsigned char c) { return IsDigit(c) || IsUpper(c) || IsLower(c); }
bool IsBlank(unsigned char c) { return c == ' ' || c == '\t' || c == '\r'; }
char ToLower(unsigned char c) { return static_cast<char>(IsUpper(c) ? c - 'A' + 'a' : c); }

// Longer words (hashes, base64) match no keyword, so they are not copied.
constexpr size_t kMaxWordChars = 40;

struct Word {
  std::string text;       // lower case; empty when longer than kMaxWordChars
  bool capitals = false;  // no lower-case letter: "SELECT"
  bool call = false;      // directly followed by '('
  bool in_code = false;   // inside a ``` fence
  bool joined = false;    // no clause break (",;!?", ". ", a new line) before it
};

// Splits text into words: runs of ASCII letters and digits, cut at
// identifier humps. Everything else separates words.
class WordScanner {
 public:
  explicit WordScanner(std::string_view text) : text_(text) {}
  // Reads the next word into `word`; false at the end.
  bool Next(Word& word);

 private:
  void SkipSeparators();
  size_t HumpEnd(size_t begin) const;

  std::string_view text_;
  size_t pos_ = 0;
  bool line_start_ = true;  // only blanks since the last new line
  bool in_code_ = false;
  bool joined_ = false;
};

void WordScanner::SkipSeparators() {
  while (pos_ < text_.size() && !IsWordChar(text_[pos_])) {
    const char c = text_[pos_];
    if (c == '`' && line_start_ && text_.compare(pos_, 3, "```") == 0) {
      in_code_ = !in_code_;
      joined_ = false;
      line_start_ = false;
      while (pos_ < text_.size() && text_[pos_] == '`') ++pos_;
      continue;
    }
    const bool period_break =
        c == '.' && (pos_ + 1 == text_.size() || !IsWordChar(text_[pos_ + 1]));
    if (c == '\n' || c == ',' || c == ';' || c == '!' || c == '?' || period_break) {
      joined_ = false;
    }
    if (c == '\n') {
      line_start_ = true;
    } else if (!IsBlank(c)) {
      line_start_ = false;
    }
    ++pos_;
  }
}

// The end of the identifier part that starts at `begin`. It ends before a
// capital that follows a lower-case letter ("hash|Password") and before
// the last capital of an acronym of two or more followed by lower case
// ("XML|Parser"), so "OAuth" stays whole.
size_t WordScanner::HumpEnd(size_t begin) const {
  size_t capitals = 0;  // consecutive capitals just before i
  size_t i = begin;
  for (; i < text_.size() && IsWordChar(text_[i]); ++i) {
    const unsigned char c = text_[i];
    if (i > begin && IsUpper(c)) {
      if (IsLower(text_[i - 1])) return i;
      const bool lower_next = i + 1 < text_.size() && IsLower(text_[i + 1]);
      if (capitals >= 2 && lower_next) return i;
    }
    capitals = IsUpper(c) ? capitals + 1 : 0;
  }
  return i;
}

bool WordScanner::Next(Word& word) {
  SkipSeparators();
  if (pos_ >= text_.size()) return false;
  const size_t end = HumpEnd(pos_);
  const std::string_view part = text_.substr(pos_, end - pos_);
  word.text.clear();
  word.capitals = true;
  for (const char c : part) {
    if (IsLower(c)) word.capitals = false;
  }
  if (part.size() <= kMaxWordChars) {
    for (const char c : part) word.text.push_back(ToLower(c));
  }
  word.call = end < text_.size() && text_[end] == '(';
  word.in_code = in_code_;
  word.joined = joined_;
  joined_ = true;
  line_start_ = false;
  pos_ = end;
  return true;
}

// ---- Keyword patterns ----

struct PatternWord {
  std::string text;       // lower case
  bool stem = false;      // "encrypt*"
  bool call = false;      // "exec("
  bool capitals = false;  // "SELECT"
};

struct Pattern {
  std::vector<PatternWord> words;
  Signal signal;
  std::string_view text;  // as written in kKeywords
};

constexpr size_t kMaxPatternWords = 4;

PatternWord ParsePatternWord(std::string_view w) {
  PatternWord p;
  p.capitals = IsUpper(w.front());
  if (w.back() == '*' || w.back() == '(') {
    p.stem = w.back() == '*';
    p.call = w.back() == '(';
    w.remove_suffix(1);
  }
  for (const char c : w) p.text.push_back(ToLower(c));
  return p;
}

Pattern ParsePattern(const Keyword& k) {
  Pattern p{{}, k.signal, k.pattern};
  std::string_view rest = k.pattern;
  while (!rest.empty()) {
    const size_t space = rest.find(' ');
    p.words.push_back(ParsePatternWord(rest.substr(0, space)));
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  }
  CHECK(!p.words.empty() && p.words.size() <= kMaxPatternWords);
  return p;
}

bool Matches(const PatternWord& p, const Word& w) {
  if ((p.capitals && !w.capitals) || (p.call && !w.call)) return false;
  if (p.stem) return w.text.starts_with(p.text);
  if (w.text == p.text) return true;
  // Plurals of short words are other words: "design as" is not "design a".
  return p.text.size() >= 3 && w.text.size() == p.text.size() + 1 && w.text.back() == 's' &&
         w.text.starts_with(p.text);
}

// The last kMaxPatternWords words; the word at position i is at i % size.
using RecentWords = std::array<Word, kMaxPatternWords>;

// Whether `p` matches the words that end at position `pos`, with no clause
// break inside the phrase.
bool EndsAt(const Pattern& p, const RecentWords& recent, int64_t pos) {
  const auto n = static_cast<int64_t>(p.words.size());
  if (n > pos + 1) return false;
  for (int64_t k = 0; k < n; ++k) {
    const Word& w = recent[(pos - k) % kMaxPatternWords];
    if (!Matches(p.words[n - 1 - k], w) || (k < n - 1 && !w.joined)) return false;
  }
  return true;
}

// kKeywords by their last word, so that each word of the request is tried
// against a few patterns rather than all of them.
class KeywordIndex {
 public:
  KeywordIndex() {
    patterns_.reserve(std::size(kKeywords));
    for (const Keyword& k : kKeywords) patterns_.push_back(ParsePattern(k));
    // After the last push_back: the keys point into patterns_.
    for (const Pattern& p : patterns_) {
      const PatternWord& last = p.words.back();
      if (last.stem) {
        stem_last_.push_back(&p);
      } else {
        by_last_word_[last.text].push_back(&p);
      }
    }
  }

  // Calls f(pattern) for each pattern whose last word may be `w`.
  template <class F>
  void ForEachCandidate(const Word& w, F&& f) const {
    const std::string_view text = w.text;
    if (text.empty()) return;
    Visit(text, f);
    if (text.back() == 's') Visit(text.substr(0, text.size() - 1), f);
    for (const Pattern* p : stem_last_) {
      if (text.starts_with(p->words.back().text)) f(*p);
    }
  }

 private:
  template <class F>
  void Visit(std::string_view key, F& f) const {
    const auto it = by_last_word_.find(key);
    if (it == by_last_word_.end()) return;
    for (const Pattern* p : it->second) f(*p);
  }

  std::vector<Pattern> patterns_;
  std::unordered_map<std::string_view, std::vector<const Pattern*>> by_last_word_;
  std::vector<const Pattern*> stem_last_;
};

// ---- What the words say ----

struct Findings {
  std::optional<Tier> asked;     // the last explicit request
  std::string_view asked_phrase;
  uint32_t categories = 0;       // bit i: kCategoryNames[i]
  std::string_view task_phrase;  // the first multi-step phrase
  bool sequence = false;         // "first", then "then", then "finally"
};

// Turns matched phrases into findings, pairing weak signals.
class SignalCollector {
 public:
  explicit SignalCollector(Findings& out) : out_(out) {
    last_seen_.fill(std::numeric_limits<int64_t>::min() / 2);
  }

  // A phrase with signal `s` ended at word position `pos`.
  void Note(Signal s, int64_t pos, std::string_view label);

 private:
  void NotePair(Signal s, int64_t pos);
  void NoteSequence(Signal s);

  Findings& out_;
  std::array<int64_t, static_cast<size_t>(S::kCount)> last_seen_;  // position by signal
  int sequence_stage_ = 0;  // 1: "first" seen; 2: then "then"
};

void SignalCollector::Note(Signal s, int64_t pos, std::string_view label) {
  if (s == S::kSmart || s == S::kFast) {
    // Positions only grow, so the last request wins.
    out_.asked = s == S::kSmart ? Tier::kSmart : Tier::kFast;
    out_.asked_phrase = label;
  } else if (IsCategory(s)) {
    out_.categories |= 1u << (static_cast<int>(s) - static_cast<int>(S::kAuth));
  } else if (s == S::kMultiStep) {
    if (out_.task_phrase.empty()) out_.task_phrase = label;
  } else if (s >= S::kFirst) {
    NoteSequence(s);
  } else {
    NotePair(s, pos);
  }
}

void SignalCollector::NotePair(Signal s, int64_t pos) {
  last_seen_[static_cast<size_t>(s)] = pos;
  for (const PairRule& r : kPairRules) {
    Signal partner;
    if (s == r.second) {
      partner = r.first;
    } else if (s == r.first && !r.ordered) {
      partner = r.second;
    } else {
      continue;
    }
    if (pos - last_seen_[static_cast<size_t>(partner)] <= r.window) Note(r.result, pos, r.label);
  }
}

void SignalCollector::NoteSequence(Signal s) {
  if (s == S::kFirst && sequence_stage_ == 0) sequence_stage_ = 1;
  if (s == S::kThen && sequence_stage_ >= 1) sequence_stage_ = 2;
  if (s == S::kFinally && sequence_stage_ == 2) out_.sequence = true;
}

Findings ScanWords(std::string_view text) {
  static const KeywordIndex index;
  Findings found;
  SignalCollector signals(found);
  WordScanner scanner(text);
  RecentWords recent;
  for (int64_t pos = 0; scanner.Next(recent[pos % kMaxPatternWords]); ++pos) {
    const Word& word = recent[pos % kMaxPatternWords];
    index.ForEachCandidate(word, [&](const Pattern& p) {
      if (word.in_code && IsProseOnly(p.signal)) return;
      if (EndsAt(p, recent, pos)) signals.Note(p.signal, pos, p.text);
    });
  }
  return found;
}

// ---- Prose: lines outside ``` fences ----

struct Prose {
  size_t chars = 0;  // characters (UTF-8 code points), not bytes
  int32_t listed_steps = 0;
};

constexpr std::string_view kImperativeVerbs[] = {
    "add",     "build",  "change",   "check",     "clean",   "configure", "convert",
    "create",  "delete", "document", "drop",      "edit",    "ensure",    "expose",
    "extract", "fix",    "generate", "handle",    "implement", "install", "introduce",
    "log",     "make",   "merge",    "migrate",   "modify",  "move",      "optimize",
    "port",    "refactor", "remove", "rename",    "replace", "run",       "set",
    "split",   "support", "test",    "update",    "use",     "validate",  "wire",
    "write",
};

bool StartsWithImperative(std::string_view text) {
  std::string verb;
  for (size_t i = 0; i < text.size() && i <= 10 && IsWordChar(text[i]); ++i) {
    verb.push_back(ToLower(text[i]));
  }
  for (std::string_view v : kImperativeVerbs) {
    if (verb == v) return true;
  }
  return false;
}

// "1. ...", "12) ...", or a bullet that starts with a verb: "- add ...".
bool IsListedStep(std::string_view line) {
  size_t digits = 0;
  while (digits < line.size() && digits <= 3 && IsDigit(line[digits])) ++digits;
  if (digits > 0) {
    return digits <= 3 && line.size() > digits + 1 &&
           (line[digits] == '.' || line[digits] == ')') && IsBlank(line[digits + 1]);
  }
  const bool bullet = line.size() > 2 && (line[0] == '-' || line[0] == '*' || line[0] == '+') &&
                      line[1] == ' ';
  return bullet && StartsWithImperative(line.substr(2));
}

size_t CountCodePoints(std::string_view s) {
  size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

Prose ReadProse(std::string_view text) {
  Prose prose;
  bool in_code = false;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(begin, end - begin);
    size_t indent = 0;
    while (indent < line.size() && IsBlank(line[indent])) ++indent;
    const std::string_view body = line.substr(indent);
    if (body.starts_with("```")) {
      in_code = !in_code;
    } else if (!in_code) {
      prose.chars += CountCodePoints(line);
      prose.listed_steps += IsListedStep(body);
    }
    begin = end + 1;
  }
  return prose;
}

// ---- Reasons ----

std::string WithThousands(size_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string CategoryList(uint32_t categories) {
  std::string out;
  for (size_t i = 0; i < std::size(kCategoryNames); ++i) {
    if ((categories & (1u << i)) == 0) continue;
    if (!out.empty()) out += ", ";
    out += kCategoryNames[i];
  }
  return out;
}

std::optional<std::string> MultiStepReason(const RouteInput& in, const Findings& found,
                                           const RoutePolicy& policy) {
  if (!found.task_phrase.empty()) {
    return fmt::format("a multi-step task (\"{}\")", found.task_phrase);
  }
  const Prose prose = ReadProse(in.request_text);
  if (prose.listed_steps >= policy.min_listed_steps) {
    return fmt::format("a multi-step task ({} listed steps)", prose.listed_steps);
  }
  if (found.sequence) return "a multi-step task (first ... then ... finally)";
  if (prose.chars > policy.long_request_chars) {
    return fmt::format("a long request ({} characters)", WithThousands(prose.chars));
  }
  if (in.tools >= policy.agent_min_tools && in.user_turns >= policy.agent_min_user_turns) {
    return fmt::format("an agent session ({} user turns, {} tools)", in.user_turns, in.tools);
  }
  return std::nullopt;
}

}  // namespace

RouteDecision Route(const RouteInput& in, const RoutePolicy& policy) {
  const Findings found = ScanWords(in.request_text);
  // A completion's text is code to continue, not an instruction: only the
  // code itself and its size speak for it.
  if (!in.fim && found.asked) {
    return {*found.asked, "explicit",
            fmt::format("the user asked for the {} model (\"{}\")", TierName(*found.asked),
                        found.asked_phrase)};
  }
  if (found.categories != 0) {
    return {Tier::kSmart, "security",
            fmt::format("security-sensitive code ({})", CategoryList(found.categories))};
  }
  if (in.context_chars > policy.large_input_chars) {
    return {Tier::kSmart, "large_input",
            fmt::format("large input ({} characters)", WithThousands(in.context_chars))};
  }
  if (!in.fim) {
    if (auto reason = MultiStepReason(in, found, policy)) {
      return {Tier::kSmart, "multi_step", std::move(*reason)};
    }
  }
  return {Tier::kFast, "default", in.fim ? "a code completion" : "a short, targeted request"};
}

}  // namespace glint::server
