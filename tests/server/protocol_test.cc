// The server's pure parts: request parsing, prompt rendering (a session's
// continuation must equal the full rendering, or KV reuse would change
// answers), model-output parsing, the streaming text filter, metrics, and
// the fuzz corpus replayed.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "fuzz/server_exercise.h"
#include "server/metrics.h"
#include "server/prompt.h"
#include "server/protocol.h"

namespace glint::server {
namespace {

json J(const char* text) { return json::parse(text); }

TEST(Protocol, ResponseRequestFields) {
  auto r = ParseResponseRequest(J(R"({
    "type": "response.create", "model": "glint-fast", "instructions": "be brief",
    "input": [{"type": "message", "role": "developer", "content": [
                 {"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}]},
              {"type": "message", "role": "user", "content": "hi"},
              {"type": "reasoning", "summary": []},
              {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{\"x\":1}"},
              {"type": "function_call_output", "call_id": "c", "output": "ok"}],
    "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}},
              {"type": "web_search"}, {"type": "namespace", "name": "ns", "tools": []}],
    "tool_choice": "auto", "parallel_tool_calls": true, "store": false, "stream": true,
    "include": ["reasoning.encrypted_content"], "prompt_cache_key": "thread-1",
    "client_metadata": {"a": "b"}, "reasoning": {"summary": "auto"}, "generate": false,
    "max_output_tokens": 64, "temperature": 0.2, "previous_response_id": "resp_1"})"));
  ASSERT_TRUE(r.ok()) << r.error.message;
  const ResponseRequest& q = *r.value;
  EXPECT_EQ(q.model, "glint-fast");
  EXPECT_EQ(q.instructions, "be brief");
  ASSERT_EQ(q.input.size(), 4u);  // the reasoning item is skipped
  EXPECT_EQ(q.input[0].role, "developer");
  EXPECT_EQ(q.input[0].text, "ab");
  EXPECT_EQ(q.input[2].kind, Item::Kind::kFunctionCall);
  EXPECT_EQ(q.input[2].arguments, "{\"x\":1}");
  EXPECT_EQ(q.input[3].kind, Item::Kind::kFunctionCallOutput);
  EXPECT_EQ(q.input[3].text, "ok");
  ASSERT_EQ(q.tools.size(), 1u);  // non-function tools are skipped
  EXPECT_FALSE(q.store);
  EXPECT_FALSE(q.generate);
  EXPECT_TRUE(q.params.stream);
  EXPECT_EQ(*q.params.max_tokens, 64);
  EXPECT_FLOAT_EQ(q.params.sampling.temperature, 0.2f);
  EXPECT_EQ(q.prompt_cache_key, "thread-1");
  EXPECT_EQ(q.previous_response_id, "resp_1");
}

TEST(Protocol, DefaultsAreGreedyAndStored) {
  auto r = ParseResponseRequest(J(R"({"input": "hello"})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value->params.sampling.temperature, 0.0f);
  EXPECT_TRUE(r.value->store);
  EXPECT_TRUE(r.value->generate);
  EXPECT_FALSE(r.value->params.max_tokens.has_value());
  ASSERT_EQ(r.value->input.size(), 1u);
  EXPECT_EQ(r.value->input[0].role, "user");
}

TEST(Protocol, ErrorsNameTheField) {
  struct Case {
    const char* body;
    const char* code;
    const char* param;
  } cases[] = {
      {R"({"input": 1})", "invalid_type", "input"},
      {R"({"input": "x", "temperature": "hot"})", "invalid_type", "temperature"},
      {R"({"input": "x", "temperature": 3})", "invalid_value", "temperature"},
      {R"({"input": "x", "max_output_tokens": 0})", "invalid_value", "max_output_tokens"},
      {R"({"input": "x", "tool_choice": "sometimes"})", "invalid_value", "tool_choice"},
      {R"({"input": [{"role": "king", "content": "x"}]})", "invalid_value", "input[].role"},
      {R"({"input": "x", "stop": ["a", ""]})", "invalid_value", "stop"},
      {R"([1])", "invalid_type", ""},
      {R"({"input": "x", "prediction": "text"})", "invalid_type", "prediction"},
      {R"({"input": "x", "prediction": {"type": "diff", "content": "a"}})", "invalid_value",
       "prediction.type"},
      {R"({"input": "x", "prediction": {"type": "content"}})", "missing_field",
       "prediction.content"},
      {R"({"input": "x", "prediction": {"type": "content", "content": 3}})", "invalid_type",
       "prediction.content"},
      {R"({"input": "x", "prediction": {"type": "content", "content": [{"type": "text"}]}})",
       "missing_field", "prediction.content"},
      {R"({"input": "x", "prediction": {"type": "content", "content": [{"text": 5}]}})",
       "invalid_type", "prediction.content[].text"},
  };
  for (const Case& c : cases) {
    auto r = ParseResponseRequest(J(c.body));
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.error.code, c.code) << c.body;
    EXPECT_EQ(r.error.param, c.param) << c.body;
    EXPECT_EQ(r.error.status, 400);
    EXPECT_EQ(r.error.ToJson()["error"]["type"], "invalid_request_error");
  }
  auto bad = ParseJson("{\"a\": ");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error.code, "invalid_json");
  EXPECT_FALSE(ParseJson("\"\xff\"").ok());  // invalid UTF-8 inside a string
}

TEST(Protocol, PredictionOnEveryGenerationEndpoint) {
  auto r = ParseResponseRequest(J(R"({"input": "x",
      "prediction": {"type": "content", "content": "def f():\n    pass\n"}})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value->params.prediction, "def f():\n    pass\n");
  auto c = ParseChatRequest(J(R"({"messages": [{"role": "user", "content": "q"}],
      "prediction": {"type": "content", "content": [{"type": "text", "text": "a"},
                                                     {"type": "text", "text": "b"}]}})"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.value->params.prediction, "ab");
  auto p = ParseCompletionRequest(J(R"({"prompt": "q", "prediction": null})"));
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p.value->params.prediction.empty());
}

TEST(Protocol, ChatAndCompletionRequests) {
  auto c = ParseChatRequest(J(R"({"messages": [
      {"role": "user", "content": "q"},
      {"role": "assistant", "content": "let me look",
       "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
      {"role": "tool", "tool_call_id": "t", "content": "r"}],
      "max_tokens": 9, "stop": "END", "stream": true,
      "stream_options": {"include_usage": true}})"));
  ASSERT_TRUE(c.ok()) << c.error.message;
  ASSERT_EQ(c.value->messages.size(), 4u);
  EXPECT_EQ(c.value->messages[1].text, "let me look");
  EXPECT_EQ(c.value->messages[2].kind, Item::Kind::kFunctionCall);
  EXPECT_EQ(c.value->messages[3].kind, Item::Kind::kFunctionCallOutput);
  EXPECT_EQ(c.value->params.stop, std::vector<std::string>{"END"});
  EXPECT_TRUE(c.value->include_usage);
  EXPECT_FALSE(ParseChatRequest(J(R"({"messages": [{"role": "user", "content": "x"}], "n": 3})")).ok());

  auto p = ParseCompletionRequest(J(R"({"prompt": ["def f("], "suffix": "  return 1"})"));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.value->prompt, "def f(");
  EXPECT_EQ(*p.value->suffix, "  return 1");
  EXPECT_EQ(*p.value->params.max_tokens, 16);
}

Item Msg(const char* role, const char* text) {
  Item it;
  it.role = role;
  it.text = text;
  return it;
}

// Continuing a session renders exactly the text a full rendering would.
TEST(Prompt, ContinuationEqualsFullRendering) {
  for (const char* name : {"chatml", "smollm2", "qwen2"}) {
    const auto tpl = tokenizer::ChatTemplate::ByName(name).value();
    std::vector<FunctionTool> tools = {{"exec", "Runs a command", J(R"({"type": "object"})")}};
    Item call;
    call.kind = Item::Kind::kFunctionCall;
    call.name = "exec";
    call.arguments = R"({"cmd": "ls"})";
    Item out;
    out.kind = Item::Kind::kFunctionCallOutput;
    out.text = "a.txt";
    const std::vector<Item> first = {Msg("developer", "You code."), Msg("user", "list files")};
    // Warm-up (no generation prompt), then the turn.
    const std::string warm = RenderConversation(tpl, "", tools, {first[0]}, false);
    EXPECT_EQ(warm + RenderContinuation(tpl, {first[1]}, false, true),
              RenderConversation(tpl, "", tools, first, true)) << name;
    // After the model answered with a call, the tool's output continues it.
    const std::string answer =
        "<tool_call>\n{\"name\": \"exec\", \"arguments\": {\"cmd\": \"ls\"}}\n</tool_call>";
    const std::string turn1 = RenderConversation(tpl, "", tools, first, true) + answer;
    std::vector<Item> all = first;
    all.push_back(call);
    all.push_back(out);
    EXPECT_EQ(turn1 + RenderContinuation(tpl, {out}, true, true),
              RenderConversation(tpl, "", tools, all, true)) << name;
  }
}

TEST(Prompt, ToolsAreCompactAndInTheSystemTurn) {
  const auto tpl = tokenizer::ChatTemplate::ByName("qwen2").value();
  std::vector<FunctionTool> tools = {
      {"exec", "Runs a command",
       J(R"({"type": "object", "title": "Exec", "properties": {"cmd": {"type": "string", "title": "Cmd"}}})")}};
  const std::string text = RenderConversation(tpl, "Be brief.", tools, {Msg("user", "hi")}, true);
  EXPECT_EQ(text.rfind("<|im_start|>system\nBe brief.\n\n# Tools", 0), 0u) << text;
  EXPECT_NE(text.find(R"({"function":{"description":"Runs a command","name":"exec","parameters":{"properties":{"cmd":{"type":"string"}},"type":"object"}},"type":"function"})"),
            std::string::npos) << text;
  EXPECT_EQ(text.find("title"), std::string::npos);
  // Without a system message, Qwen's default system prompt carries the tools.
  const std::string bare = RenderConversation(tpl, "", tools, {Msg("user", "hi")}, true);
  EXPECT_EQ(bare.rfind("<|im_start|>system\n" + tpl.default_system() + "\n\n# Tools", 0), 0u);
}

TEST(Prompt, ParsesToolCallsOutOfTheOutput) {
  ParsedOutput p = ParseModelOutput(
      "Let me check.\n<tool_call>\n{\"name\": \"exec\", \"arguments\": {\"cmd\": \"ls\"}}\n"
      "</tool_call>\n<tool_call>\n{\"name\": \"read\", \"arguments\": \"{\\\"p\\\":1}\"}\n</tool_call>");
  EXPECT_EQ(p.text, "Let me check.");
  ASSERT_EQ(p.calls.size(), 2u);
  EXPECT_EQ(p.calls[0].name, "exec");
  EXPECT_EQ(p.calls[0].arguments, R"({"cmd": "ls"})");
  EXPECT_EQ(p.calls[1].arguments, R"({"p":1})");
  // Not JSON: left as text.
  ParsedOutput q = ParseModelOutput("<tool_call>oops</tool_call> done");
  EXPECT_TRUE(q.calls.empty());
  EXPECT_EQ(q.text, "<tool_call>oops</tool_call> done");
}

std::string StreamAll(TextStream& s, const std::vector<std::string>& pieces) {
  std::string shown;
  for (const auto& p : pieces) shown += s.Push(p);
  return shown + s.Finish();
}

TEST(TextStream, StopSequenceAcrossPieces) {
  TextStream s({"END"}, false);
  EXPECT_EQ(s.Push("abc E"), "abc ");  // "E" may start END
  EXPECT_EQ(s.Push("N"), "");
  EXPECT_EQ(s.Push("D more"), "");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.output(), "abc ");
  EXPECT_EQ(s.Finish(), "");
  TextStream t({"END"}, false);
  EXPECT_EQ(StreamAll(t, {"abc E", "x"}), "abc Ex");  // a false start is shown in the end
  EXPECT_FALSE(t.stopped());
}

TEST(TextStream, ToolCallsAreNotShown) {
  TextStream s({}, true);
  EXPECT_EQ(StreamAll(s, {"Sure", ". <tool", "_call>\n{\"name\"", ": 1}</tool_call>"}), "Sure. ");
  EXPECT_EQ(s.output(), "Sure. <tool_call>\n{\"name\": 1}</tool_call>");
  TextStream plain({}, false);
  EXPECT_EQ(StreamAll(plain, {"a <tool", "_call>"}), "a <tool_call>");
}

TEST(Metrics, PrometheusText) {
  Metrics m;
  m.CountRequest("/v1/responses", 200);
  m.CountRequest("/v1/responses", 200);
  m.CountRequest("/v1/responses", 400);
  m.ObserveTtft(0.03);
  m.ObserveTtft(2.0);
  m.AddTokens(100, 60, 7);
  Metrics::Gauges g;
  g.queue_depth = 3;
  g.ready = true;
  const std::string text = m.Render(g);
  EXPECT_NE(text.find("glint_requests_total{endpoint=\"/v1/responses\",status=\"200\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("glint_requests_total{endpoint=\"/v1/responses\",status=\"400\"} 1\n"),
            std::string::npos);
  // Buckets are cumulative.
  EXPECT_NE(text.find("glint_time_to_first_token_seconds_bucket{le=\"0.025\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("glint_time_to_first_token_seconds_bucket{le=\"0.05\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("glint_time_to_first_token_seconds_bucket{le=\"+Inf\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("glint_time_to_first_token_seconds_count 2\n"), std::string::npos);
  EXPECT_NE(text.find("glint_cached_prompt_tokens_total 60\n"), std::string::npos);
  EXPECT_NE(text.find("glint_queue_depth 3\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE glint_requests_total counter\n"), std::string::npos);
}

TEST(Protocol, FuzzCorpusReplays) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(GLINT_SOURCE_DIR) / "tests/fuzz/corpus/server";
  int n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::ifstream f(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    ExerciseProtocol(ss.str());
    ++n;
  }
  EXPECT_GE(n, 6);
}

}  // namespace
}  // namespace glint::server
