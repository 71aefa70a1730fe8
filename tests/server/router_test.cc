// The routing policy of glint-auto: each rule, their order, the guards
// against words that only look like keywords, and inputs of several MB.
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "server/router.h"

namespace glint::server {
namespace {

struct RouteCase {
  const char* name;
  RouteInput input;
  Tier tier;
  const char* rule;
};

void PrintTo(const RouteCase& c, std::ostream* os) { *os << c.name; }

RouteInput Ask(std::string_view text) { return {.request_text = text}; }

constexpr Tier kFast = Tier::kFast;
constexpr Tier kSmart = Tier::kSmart;

const RouteCase kCases[] = {
    // 1. explicit
    {"think_hard", Ask("Think hard about why this loop never ends."), kSmart, "explicit"},
    {"think_carefully", Ask("think carefully: is this thread-safe?"), kSmart, "explicit"},
    {"think_step_by_step", Ask("Think step by step: what does f(3) return?"), kSmart,
     "explicit"},
    {"use_the_smart_model", Ask("Use the smart model to explain this loop."), kSmart, "explicit"},
    {"model_name_glint_smart", Ask("glint-smart: what is a monad?"), kSmart, "explicit"},
    {"be_thorough", Ask("Be thorough. Why is this slow?"), kSmart, "explicit"},
    {"review_carefully", Ask("Please review carefully the diff below"), kSmart, "explicit"},
    {"use_the_fast_model", Ask("Use the fast model: rename x to count."), kFast, "explicit"},
    {"quick_answer", Ask("Quick answer: is Python's sort stable?"), kFast, "explicit"},
    {"quick_question", Ask("quick question, what does std::move do"), kFast, "explicit"},
    {"explicit_fast_beats_security", Ask("Use the fast model to hash this password with bcrypt."),
     kFast, "explicit"},
    {"explicit_fast_beats_large_input",
     {.request_text = "quick answer please", .context_chars = 50000}, kFast, "explicit"},
    {"explicit_fast_beats_multi_step", Ask("Refactor the whole module; use the fast model."),
     kFast, "explicit"},
    {"both_phrases_last_is_smart", Ask("Use the fast model. No wait, use the smart model."),
     kSmart, "explicit"},
    {"both_phrases_last_is_fast", Ask("Think hard... no, just a quick answer."), kFast,
     "explicit"},
    {"explicit_inside_code_fence_ignored",
     Ask("```\n# think hard here\nx = 1\n```\nWhat does this print?"), kFast, "default"},
    {"phrase_across_clause_break_ignored", Ask("I think, hard to say, but is x unused?"), kFast,
     "default"},
    {"explicit_ignored_for_completion", {.request_text = "# think hard\ndef f(", .fim = true},
     kFast, "default"},

    // 2. security
    {"sql_word", Ask("Why does this SQL query return duplicates?"), kSmart, "security"},
    {"sql_select_from_in_capitals", Ask("Fix: SELECT name, email FROM users WHERE id = 3"),
     kSmart, "security"},
    {"sql_insert_into_in_capitals", Ask("Write INSERT INTO orders rows for these items"), kSmart,
     "security"},
    {"insert_into_in_lower_case_is_english", Ask("insert into the list at index 3"), kFast,
     "default"},
    {"select_from_in_lower_case_is_english", Ask("select the text from the first line"), kFast,
     "default"},
    {"query_built_from_strings", Ask("I build the query by concatenating strings, ok?"), kSmart,
     "security"},
    {"snake_case_run_sql_query", Ask("Speed up run_sql_query()"), kSmart, "security"},
    {"camel_case_get_user_password", Ask("What does getUserPassword return when empty?"), kSmart,
     "security"},
    {"camel_case_hash_password", Ask("Add a unit test for hashPassword"), kSmart, "security"},
    {"snake_case_check_auth", Ask("Why does check_auth always return false?"), kSmart,
     "security"},
    {"screaming_snake_auth_token", Ask("Where is AUTH_TOKEN read?"), kSmart, "security"},
    {"authorize", Ask("Where should I authorize the request?"), kSmart, "security"},
    {"oauth2_stays_one_word", Ask("Refresh the OAuth2 token in this client"), kSmart, "security"},
    {"passwordless_is_authentication", Ask("Explain passwordless sign-in"), kSmart, "security"},
    {"passwords_plural", Ask("Where are passwords stored?"), kSmart, "security"},
    {"jwt", Ask("Decode this JWT in Go"), kSmart, "security"},
    {"encrypt_with_aes", Ask("Encrypt the file with AES-GCM"), kSmart, "security"},
    {"md5", Ask("Is md5 fine here?"), kSmart, "security"},
    {"verify_the_signature", Ask("How do I verify the signature of a webhook payload?"), kSmart,
     "security"},
    {"subprocess", Ask("Call ffmpeg with subprocess.run"), kSmart, "security"},
    {"os_system", Ask("Replace os.system(cmd) with something better"), kSmart, "security"},
    {"eval_call", Ask("Is eval(input()) fine here?"), kSmart, "security"},
    {"chmod", Ask("chmod 777 the upload dir in the Dockerfile"), kSmart, "security"},
    {"sudo", Ask("Why does npm need sudo here?"), kSmart, "security"},
    {"permissions", Ask("Check file permissions before reading"), kSmart, "security"},
    {"pickle_load", Ask("Load the model with pickle.load"), kSmart, "security"},
    {"yaml_load", Ask("yaml.load(f) warns, why?"), kSmart, "security"},
    {"object_input_stream", Ask("Read objects with ObjectInputStream"), kSmart, "security"},
    {"unmarshal", Ask("json.Unmarshal fails on this struct"), kSmart, "security"},
    {"parse_user_supplied", Ask("Parse the user-supplied file name"), kSmart, "security"},
    {"regex_for_validation", Ask("Write a regex to validate email addresses"), kSmart,
     "security"},
    {"buffer_overflow", Ask("Is there a buffer overflow in this memcpy?"), kSmart, "security"},
    {"sql_injection", Ask("Is this vulnerable to SQL injection?"), kSmart, "security"},
    {"security_review", Ask("Is this code secure?"), kSmart, "security"},
    {"capitals_match", Ask("PASSWORD CHECK FAILS"), kSmart, "security"},
    {"keyword_in_code_counts",
     Ask("```\ncur.execute(\"SELECT * FROM t WHERE id=\" + id)\n```\nIs this fine?"), kSmart,
     "security"},
    {"security_beats_large_input", {.request_text = "hash the password", .context_chars = 50000},
     kSmart, "security"},
    {"security_beats_multi_step", Ask("Refactor the whole login flow"), kSmart, "security"},
    {"security_applies_to_completion",
     {.request_text = "def check_password(user, pw):\n    ", .fim = true}, kSmart, "security"},
    {"quickly_alone_is_not_a_request", Ask("Make this password check run quickly"), kSmart,
     "security"},

    // False positives: words that only contain a keyword.
    {"author_is_not_auth", Ask("Who is the author of this module? Add an @author tag."), kFast,
     "default"},
    {"authority_is_not_auth", Ask("Print the authority part of this URL"), kFast, "default"},
    {"parse_the_date_string", Ask("Parse the date string 2024-01-05 in Python"), kFast,
     "default"},
    {"regex_without_validation", Ask("Write a regex that matches hex colors"), kFast, "default"},
    {"sparse_is_not_parse", Ask("Multiply two sparse matrices from user input"), kFast,
     "default"},
    {"function_signature_is_not_crypto", Ask("Change the signature of run_job to take a list"),
     kFast, "default"},
    {"stack_overflow_is_a_site", Ask("I found this on Stack Overflow, what does it do?"), kFast,
     "default"},
    {"dependency_injection", Ask("What is dependency injection?"), kFast, "default"},
    {"pseudo_is_not_sudo", Ask("Write pseudo code for binary search"), kFast, "default"},
    {"aesthetic_is_not_aes", Ask("Make the button more aesthetic"), kFast, "default"},
    {"oracle_is_not_acl", Ask("Connect to Oracle from Java"), kFast, "default"},
    {"executive_is_not_exec", Ask("Write an executive summary of this diff"), kFast, "default"},
    {"evaluate_is_not_eval", Ask("Evaluate 2 + 3 * 4 by hand"), kFast, "default"},
    {"yaml_safe_load_is_safe", Ask("Use yaml.safe_load(f) to read the config"), kFast,
     "default"},
    {"smartphone_is_not_smart", Ask("Write a smartphone-friendly CSS layout"), kFast, "default"},
    {"smart_pointer_is_not_smart_model", Ask("Use a smart pointer here"), kFast, "default"},
    {"fast_modeling_is_not_fast_model", Ask("Which fast modeling tool is best?"), kFast,
     "default"},

    // UTF-8.
    {"utf8_around_keywords", Ask("Bitte prüfe das Passwort-Hashing: sha256(salz + pw) — ok?"),
     kSmart, "security"},
    {"cjk_next_to_keyword", Ask("这个password怎么存储"), kSmart, "security"},
    {"utf8_without_keywords", Ask("¿Qué hace esta función? 日本語 ✓ 🙂"), kFast, "default"},
    {"invalid_utf8", Ask("\xff\xfe\xfd what is this \xc3"), kFast, "default"},

    // 3. large_input
    {"large_input", {.request_text = "what does this do?", .context_chars = 12001}, kSmart,
     "large_input"},
    {"at_the_threshold_is_not_large", {.request_text = "what?", .context_chars = 12000}, kFast,
     "default"},
    {"large_input_beats_multi_step",
     {.request_text = "Refactor the whole thing", .context_chars = 20000}, kSmart, "large_input"},
    {"large_completion", {.request_text = "int main() {", .context_chars = 20000, .fim = true},
     kSmart, "large_input"},

    // 4. multi_step
    {"across_the_codebase", Ask("Rename Foo to Bar across the codebase"), kSmart, "multi_step"},
    {"refactor_the_whole", Ask("Refactor the whole parser module"), kSmart, "multi_step"},
    {"architecture", Ask("What architecture fits a plugin host?"), kSmart, "multi_step"},
    {"design_a", Ask("Design a rate limiter for our API"), kSmart, "multi_step"},
    {"design_as_is_not_design_a", Ask("Keep the same design as before, rename x"), kFast,
     "default"},
    {"implement_a_system", Ask("Implement a plugin loading system in C++"), kSmart,
     "multi_step"},
    {"multiple_files", Ask("Split this class into multiple files"), kSmart, "multi_step"},
    {"three_numbered_steps", Ask("1. Add a flag\n2. Read it\n3) Print it\n"), kSmart,
     "multi_step"},
    {"two_numbered_steps", Ask("1. Add a flag\n2. Print it\n"), kFast, "default"},
    {"three_bullets_with_verbs", Ask("- add a flag\n  - Remove the old one\n* update the docs"),
     kSmart, "multi_step"},
    {"bullets_without_verbs", Ask("- apples\n- pears\n- plums"), kFast, "default"},
    {"numbered_lines_in_code_fence", Ask("```\n1. a\n2. b\n3. c\n```\nWhat is this?"), kFast,
     "default"},
    {"first_then_finally", Ask("First read the file, then count words, finally print them."),
     kSmart, "multi_step"},
    {"first_then_finally_in_code",
     Ask("```\ntry { first(); then(); } finally { x(); }\n```\nWhat is wrong?"), kFast,
     "default"},
    {"agent_session", {.request_text = "run the tests", .user_turns = 8, .tools = 3}, kSmart,
     "multi_step"},
    {"agent_session_too_young", {.request_text = "run the tests", .user_turns = 7, .tools = 3},
     kFast, "default"},
    {"long_chat_without_tools", {.request_text = "and now?", .user_turns = 20}, kFast, "default"},
    {"multi_step_phrase_ignored_for_completion",
     {.request_text = "// refactor the whole thing\n", .fim = true}, kFast, "default"},

    // 5. default
    {"empty", Ask(""), kFast, "default"},
    {"short_question", Ask("What does std::move do?"), kFast, "default"},
    {"completion", {.request_text = "def add(a, b):\n    return", .fim = true}, kFast, "default"},
};

class RouteTable : public testing::TestWithParam<RouteCase> {};

TEST_P(RouteTable, Decides) {
  const RouteCase& c = GetParam();
  const RouteDecision d = Route(c.input);
  EXPECT_STREQ(TierName(d.tier), TierName(c.tier)) << d.rule << ": " << d.reason;
  EXPECT_EQ(d.rule, c.rule) << d.reason;
  EXPECT_FALSE(d.reason.empty());
}

INSTANTIATE_TEST_SUITE_P(Route, RouteTable, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<RouteCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(Route, ReasonsNameWhatWasFound) {
  EXPECT_EQ(Route(Ask("think hard")).reason,
            "the user asked for the smart model (\"think hard\")");
  EXPECT_EQ(Route(Ask("use the fast model")).reason,
            "the user asked for the fast model (\"fast model\")");
  EXPECT_EQ(Route(Ask("Why is this SQL slow?")).reason, "security-sensitive code (SQL)");
  EXPECT_EQ(Route(Ask("run_sql_query(password)")).reason,
            "security-sensitive code (authentication, SQL)");
  EXPECT_EQ(Route(Ask("sudo rm it")).reason, "security-sensitive code (permissions)");
  EXPECT_EQ(Route({.request_text = "hi", .context_chars = 14210}).reason,
            "large input (14,210 characters)");
  EXPECT_EQ(Route(Ask("move it across the codebase")).reason,
            "a multi-step task (\"across the codebase\")");
  EXPECT_EQ(Route(Ask("1. a\n2. b\n3. c\n4. d")).reason, "a multi-step task (4 listed steps)");
  EXPECT_EQ(Route({.request_text = "go", .user_turns = 9, .tools = 2}).reason,
            "an agent session (9 user turns, 2 tools)");
  EXPECT_EQ(Route(Ask("what?")).reason, "a short, targeted request");
  EXPECT_EQ(Route({.request_text = "int x", .fim = true}).reason, "a code completion");
}

TEST(Route, LongProseIsATaskButCodeIsNot) {
  const std::string prose(1600, 'a');  // one long word: prose all the same
  const RouteDecision long_request = Route(Ask(prose));
  EXPECT_EQ(long_request.rule, "multi_step");
  EXPECT_EQ(long_request.reason, "a long request (1,600 characters)");
  EXPECT_EQ(Route(Ask(std::string(1500, 'a'))).rule, "default");

  const std::string fenced = "```\n" + prose + "\n```\nwhy does this fail?";
  EXPECT_EQ(Route(Ask(fenced)).rule, "default");

  // 1,000 characters in 2,000 bytes: the threshold counts characters.
  std::string accents;
  for (int i = 0; i < 1000; ++i) accents += "é";
  EXPECT_EQ(Route(Ask(accents)).rule, "default");

  EXPECT_EQ(Route({.request_text = prose, .fim = true}).rule, "default");
}

TEST(Route, PolicyIsOverridable) {
  RoutePolicy policy;
  policy.large_input_chars = 100;
  policy.long_request_chars = 10;
  policy.min_listed_steps = 2;
  policy.agent_min_user_turns = 2;
  EXPECT_EQ(Route({.request_text = "hi", .context_chars = 101}, policy).rule, "large_input");
  EXPECT_EQ(Route(Ask("what does this loop do?"), policy).rule, "multi_step");
  EXPECT_EQ(Route(Ask("1. a\n2. b"), policy).rule, "multi_step");
  EXPECT_EQ(Route({.request_text = "go", .user_turns = 2, .tools = 1}, policy).rule,
            "multi_step");
}

// Several MB in one request: Route reads it once, without recursion, and
// reads all of it.
TEST(Route, HugeInputsEndAndAreReadToTheEnd) {
  constexpr size_t kSize = 5 << 20;
  std::string prose;
  while (prose.size() < kSize) prose += "the quick brown fox jumps over the lazy dog. ";
  EXPECT_EQ(Route({.request_text = prose, .context_chars = prose.size()}).rule, "large_input");
  const std::string with_secret = prose + " password";
  EXPECT_EQ(Route({.request_text = with_secret, .context_chars = with_secret.size()}).rule,
            "security");

  const std::string one_word(kSize, 'a');
  EXPECT_EQ(Route(Ask(one_word)).rule, "multi_step");  // a long request

  std::string humps;
  while (humps.size() < kSize) humps += "aB";
  EXPECT_EQ(Route(Ask(humps)).rule, "multi_step");

  // One fence opens; backticks inside a line close nothing: all code.
  std::string fenced = "```\n";
  while (fenced.size() < kSize) fenced += "(((``` x\n";
  EXPECT_EQ(Route(Ask(fenced)).rule, "default");

  std::string steps;
  while (steps.size() < kSize) steps += "1. add it\n- fix it\n";
  EXPECT_EQ(Route(Ask(steps)).rule, "multi_step");
}

TEST(Route, NamesOfTiersAndRules) {
  EXPECT_STREQ(TierName(Tier::kFast), "fast");
  EXPECT_STREQ(TierName(Tier::kSmart), "smart");
  EXPECT_EQ(std::size(kRouteRules), 5u);
  EXPECT_STREQ(kRouteRules[0], "explicit");
  EXPECT_STREQ(kRouteRules[4], "default");
}

}  // namespace
}  // namespace glint::server
