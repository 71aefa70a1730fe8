#include "client/code_blocks.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace glint::client {
namespace {

// Feeds the text in pieces of `step` bytes, as a stream would.
std::string Styled(const std::string& text, bool colour, size_t step) {
  CodeBlockStyler s(colour);
  std::string out;
  for (size_t i = 0; i < text.size(); i += step) out += s.Push(text.substr(i, step));
  return out + s.Finish();
}

std::string Strip(std::string s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\033') {
      while (i < s.size() && s[i] != 'm') ++i;
      continue;
    }
    out += s[i];
  }
  return out;
}

const std::string kAnswer =
    "Use a list comprehension:\n"
    "```python\n"
    "def evens(xs):\n"
    "    return [x for x in xs if x % 2 == 0]\n"
    "```\n"
    "It keeps the `order`.\n";

TEST(CodeBlockStyler, WithoutColourTheTextIsUnchanged) {
  for (size_t step : {1, 2, 3, 7, 1000}) EXPECT_EQ(Styled(kAnswer, false, step), kAnswer);
}

TEST(CodeBlockStyler, ColourOnlyAddsEscapes) {
  for (size_t step : {1, 2, 5, 1000}) EXPECT_EQ(Strip(Styled(kAnswer, true, step)), kAnswer);
}

TEST(CodeBlockStyler, CodeLinesAreColouredAndProseIsNot) {
  // Whole: each piece is styled on its own, so one piece shows whole lines.
  const std::string out = Styled(kAnswer, true, kAnswer.size());
  EXPECT_NE(out.find("\033[36mdef evens(xs):\033[0m"), std::string::npos) << out;
  EXPECT_NE(out.find("\033[2m```python\033[0m"), std::string::npos) << out;
  // Prose before and after the block, inline code included, stays plain.
  EXPECT_EQ(out.rfind("Use a list comprehension:\n", 0), 0u) << out;
  EXPECT_NE(out.find("\nIt keeps the `order`.\n"), std::string::npos) << out;
}

TEST(CodeBlockStyler, IndentedFencesAndBlankLinesInsideCode) {
  CodeBlockStyler s(true);
  std::string out = s.Push("   ```\nint x;\n\nint y;\n   ```\ndone\n");
  out += s.Finish();
  EXPECT_NE(out.find("\033[36mint y;\033[0m"), std::string::npos) << out;
  EXPECT_NE(out.find("\ndone\n"), std::string::npos) << out;
  EXPECT_FALSE(s.in_code());
}

TEST(CodeBlockStyler, TwoBackticksAreNotAFence) {
  CodeBlockStyler s(true);
  std::string out = s.Push("``\nplain\n");
  EXPECT_EQ(out, "``\nplain\n");
  EXPECT_FALSE(s.in_code());
}

TEST(CodeBlockStyler, AnUnclosedBlockEndsWithAReset) {
  const std::string out = Styled("```\nx = 1", true, 1);
  EXPECT_EQ(Strip(out), "```\nx = 1");
  EXPECT_EQ(out.substr(out.size() - 4), "\033[0m");
}

}  // namespace
}  // namespace glint::client
