#include "tokenizer/chat_template.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gguf/gguf_writer.h"

namespace glint::tokenizer {
namespace {

// testdata/chat_golden.json holds each model's template text and what jinja2
// renders from it (gen_chat_golden.py; re-checked against jinja2 by
// tests/e2e/test_tokenizer_ref.py).
nlohmann::json LoadGolden() {
  std::ifstream in(std::string(GLINT_SOURCE_DIR) + "/tests/tokenizer/testdata/chat_golden.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

Result<ChatTemplate> FromTemplateText(const std::string& text, const std::string& name = "") {
  gguf::GgufWriter w;
  w.AddString("tokenizer.chat_template", text);
  const auto bytes = w.Serialize();
  auto f = gguf::GgufFile::Parse(bytes.data(), bytes.size(), "tpl.gguf");
  if (!f.ok()) return f.status();
  return ChatTemplate::FromGguf(**f, name);
}

TEST(ChatTemplate, MatchesJinjaRenders) {
  const nlohmann::json golden = LoadGolden();
  const std::map<std::string, std::string> expected_family = {{"smollm2", "smollm2"},
                                                              {"qwen25coder", "qwen2"}};
  int n_cases = 0;
  for (const auto& [key, entry] : golden["templates"].items()) {
    auto tpl = FromTemplateText(entry["template"].get<std::string>());
    ASSERT_TRUE(tpl.ok()) << key << ": " << tpl.status().ToString();
    EXPECT_EQ(tpl->name(), expected_family.at(key));
    for (const auto& c : entry["cases"]) {
      std::vector<ChatMessage> messages;
      for (const auto& m : c["messages"]) {
        messages.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
      }
      EXPECT_EQ(tpl->Render(messages, c["add_generation_prompt"].get<bool>()),
                c["expected"].get<std::string>())
          << key << ": " << c["messages"].dump();
      ++n_cases;
    }
  }
  EXPECT_GE(n_cases, 40);
}

TEST(ChatTemplate, DefaultSystemPromptsComeFromTheTemplate) {
  const nlohmann::json golden = LoadGolden();
  auto smol = FromTemplateText(golden["templates"]["smollm2"]["template"].get<std::string>());
  ASSERT_TRUE(smol.ok());
  EXPECT_EQ(smol->default_system(),
            "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  auto qwen = FromTemplateText(golden["templates"]["qwen25coder"]["template"].get<std::string>());
  ASSERT_TRUE(qwen.ok());
  EXPECT_EQ(qwen->default_system(),
            "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
}

TEST(ChatTemplate, Qwen2StyleTemplateWithEscapedNewline) {
  // Qwen2-Instruct's template: the SmolLM2 structure, "\n" escapes.
  const std::string text =
      "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
      "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
      "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
      "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  auto tpl = FromTemplateText(text);
  ASSERT_TRUE(tpl.ok()) << tpl.status().ToString();
  EXPECT_EQ(tpl->default_system(), "You are a helpful assistant.");
  EXPECT_EQ(tpl->Render({{"user", "hi"}}, true),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, PlainChatMl) {
  const std::string text =
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
      "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
      "{{ '<|im_start|>assistant\\n' }}{% endif %}";
  auto tpl = FromTemplateText(text);
  ASSERT_TRUE(tpl.ok()) << tpl.status().ToString();
  EXPECT_EQ(tpl->name(), "chatml");
  EXPECT_EQ(tpl->Render({{"user", "hi"}}, false), "<|im_start|>user\nhi<|im_end|>\n");
}

TEST(ChatTemplate, UnknownTemplateNamesItsBeginning) {
  auto tpl = FromTemplateText("{{ bos_token }}{% for m in messages %}[INST] {{ m.content }} [/INST]");
  ASSERT_FALSE(tpl.ok());
  EXPECT_EQ(tpl.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(tpl.status().message().find("{{ bos_token }}{% for m in messages %}"), std::string::npos)
      << tpl.status().ToString();
  EXPECT_NE(tpl.status().message().find("pass a chat template name"), std::string::npos);
}

TEST(ChatTemplate, ExplicitNameOverridesDetection) {
  auto tpl = FromTemplateText("anything at all", "qwen2");
  ASSERT_TRUE(tpl.ok());
  EXPECT_EQ(tpl->name(), "qwen2");
  auto bad = ChatTemplate::ByName("mistral");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("\"mistral\""), std::string::npos);
}

TEST(ChatTemplate, MissingTemplateKey) {
  gguf::GgufWriter w;
  w.AddString("general.architecture", "llama");
  const auto bytes = w.Serialize();
  auto f = gguf::GgufFile::Parse(bytes.data(), bytes.size(), "x.gguf");
  ASSERT_TRUE(f.ok());
  auto tpl = ChatTemplate::FromGguf(**f);
  ASSERT_FALSE(tpl.ok());
  EXPECT_NE(tpl.status().message().find("tokenizer.chat_template"), std::string::npos);
}

}  // namespace
}  // namespace glint::tokenizer
