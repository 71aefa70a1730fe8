// The routing policy of the model "glint-auto": which tier answers a request.
// A pure function of the request, so it is tested without a model.
//
// Rules, first match wins:
//
// 1. explicit: the user names a tier in request_text. Smart: "think
//    carefully", "think hard", "think harder", "think deeply", "think step by
//    step", "be thorough", "review carefully", "carefully review", "smart
//    model", "smart tier", "glint smart" (so "use the smart model",
//    "glint-smart"). Fast: "fast model", "fast tier", "glint fast", "quick
//    answer", "quick question", "answer quickly", "quickly answer", "reply
//    quickly", "respond quickly". When both appear, the last one wins. Plain
//    "quickly" and "smart" do not count: "make this loop run quickly" and
//    "use a smart pointer" talk about the code, not the model.
// 2. security: request_text touches security-sensitive code, by category:
//    authentication, cryptography, SQL, shell commands, permissions,
//    deserialization, untrusted input, security review. The word lists are
//    kKeywords in router.cc. Decisions worth knowing:
//    - "auth" counts, and so do "authenticat*", "authoriz*", "oauth*";
//      "author" and "authority" do not. "password*" counts, so
//      "passwordless" (an authentication topic) does.
//    - "signature" alone is a function's signature; only "digital
//      signature", "verify signature" and the like count. "injection"
//      alone may be dependency injection; only "SQL/command/... injection"
//      counts.
//    - "parse", "escape" and "regex" count only within 8 words of
//      untrusted input ("untrusted", "user input", "user-supplied", ...),
//      and "regex" also near "validate": "parse the date string" is fast.
//    - SQL statements count when written in capitals ("SELECT ... FROM"
//      within 40 words, "INSERT INTO", "DELETE FROM"), since "insert into
//      the list" is ordinary English; "drop/create/alter table" in any case.
//    - "exec" and "eval" count only as calls: "exec(", "eval(".
// 3. large_input: context_chars > large_input_chars (about 3,000 tokens): a
//    135M model loses track of long contexts.
// 4. multi_step: a task rather than a question, when any of:
//    - a phrase: "refactor the whole/entire", "refactor all", "across the
//      codebase/code base/repo/repository/project", "whole/entire
//      codebase", "whole/entire project", "architect*", "design a/an",
//      "multiple/several/many files", "multiple modules", "from scratch",
//      "step by step plan", "implementation plan", "migration plan";
//      "implement" followed within 5 words by "system", "subsystem",
//      "service", "framework" or "pipeline";
//    - min_listed_steps or more listed steps: lines starting "1." or "1)"
//      (any number), or "- ", "* ", "+ " bullets whose first word is an
//      imperative verb ("add", "remove", "rename", ...);
//    - "first" (or "firstly"), later "then" (or "next"), later "finally"
//      (or "lastly");
//    - more than long_request_chars characters of prose (outside fences);
//    - an agent session: at least agent_min_tools tools offered and
//      agent_min_user_turns user turns, where an early wrong tool call costs
//      more than the slower model does.
// 5. default: fast ("a short, targeted request"; "a code completion").
//
// Only request_text is scanned for words: a coding agent's instructions and
// history mention shell commands everywhere. Words are ASCII letters and
// digits, matched case-insensitively on whole words, with identifiers split
// (check_auth, hashPassword, XMLParser -> xml parser; OAuth stays oauth); a
// trailing "s" is allowed on words of three letters or more (passwords,
// permissions; "design as" is not "design a"). A phrase does not cross a
// clause break (",;!?", ". ", a new line). Bytes outside ASCII
// separate words, so "密码password" still finds "password". Explicit and
// multi-step phrases are read only in prose, outside ``` fences, since code
// may say "finally" or "then". A completion (fim) has no instruction: only
// security and large_input apply to it.
//
// Route is linear in the size of request_text and uses no regular
// expressions (std::regex is slow and recurses on long inputs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/tier.h"

namespace glint::server {

struct RouteInput {
  std::string_view request_text;  // this turn's user message(s), pasted code included
  size_t context_chars = 0;       // all the model reads: instructions, history, tools, this turn
  int32_t user_turns = 0;         // user messages in the whole conversation
  int32_t tools = 0;              // function tools offered
  bool fim = false;               // a text or fill-in-the-middle completion (/v1/completions)
};

struct RoutePolicy {
  size_t large_input_chars = 12000;  // about 3,000 tokens
  size_t long_request_chars = 1500;  // an instruction this long is a task, not a question
  int32_t min_listed_steps = 3;      // a list this long is a plan to carry out
  int32_t agent_min_tools = 1;
  int32_t agent_min_user_turns = 8;  // with tools: an agent session well under way
};

// The rules by name, in order: for reports and metric labels.
inline constexpr const char* kRouteRules[] = {"explicit", "security", "large_input", "multi_step",
                                              "default"};

struct RouteDecision {
  Tier tier = Tier::kFast;
  std::string rule;    // one of kRouteRules
  std::string reason;  // for people, e.g. "security-sensitive code (SQL)"
};

RouteDecision Route(const RouteInput& in, const RoutePolicy& policy = {});

}  // namespace glint::server
