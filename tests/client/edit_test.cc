// The parts of `glint edit` that need no server: reading the file (and
// refusing what is not text), the fence language, the request body, the
// answer turned back into a file, the diff, and the atomic write.
#include "client/edit.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace glint::client {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A fresh directory per test, removed (after making it writable again) at
// the end.
class EditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "glint-edit-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    ::chmod(dir_.c_str(), 0755);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string Path(const std::string& name) const { return (fs::path(dir_) / name).string(); }

  std::string Write(const std::string& name, const std::string& bytes, mode_t mode = 0644) {
    const std::string p = Path(name);
    std::ofstream(p, std::ios::binary) << bytes;
    ::chmod(p.c_str(), mode);
    return p;
  }

  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::vector<std::string> Entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string dir_;
};

// --- ReadEditableFile ---

TEST_F(EditTest, ReadsATextFileAndItsMode) {
  const std::string text = "def f(x):\n    return x + 1\n";
  const std::string p = Write("a.py", text, 0640);
  auto f = ReadEditableFile(p, 1024);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->path, p);
  EXPECT_EQ(f->text, text);
  EXPECT_EQ(f->mode, 0640u);

  ::chmod(p.c_str(), 0755);
  auto g = ReadEditableFile(p, 1024);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->mode, 0755u);
}

TEST_F(EditTest, AnEmptyFileIsText) {
  auto f = ReadEditableFile(Write("empty.txt", ""), 1024);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->text, "");
}

TEST_F(EditTest, MissingFileNamesThePath) {
  const std::string p = Path("no-such-file.py");
  auto f = ReadEditableFile(p, 1024);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kNotFound);
  EXPECT_NE(f.status().message().find(p), std::string::npos) << f.status().message();
  EXPECT_NE(f.status().message().find("No such file"), std::string::npos)
      << f.status().message();
}

TEST_F(EditTest, DirectoryIsRefused) {
  fs::create_directory(Path("sub"));
  auto f = ReadEditableFile(Path("sub"), 1024);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(f.status().message().find("not a regular file"), std::string::npos)
      << f.status().message();
  EXPECT_NE(f.status().message().find(Path("sub")), std::string::npos);
}

TEST_F(EditTest, TooLargeIsRefusedAndTheLimitIsInclusive) {
  const std::string p = Write("big.txt", std::string(101, 'x'));
  auto f = ReadEditableFile(p, 100);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
  const std::string& m = f.status().message();
  EXPECT_NE(m.find(p), std::string::npos) << m;
  EXPECT_NE(m.find("101 bytes"), std::string::npos) << m;
  EXPECT_NE(m.find("100 bytes"), std::string::npos) << m;
  EXPECT_TRUE(ReadEditableFile(p, 101).ok());
}

TEST_F(EditTest, BinaryIsRefused) {
  const std::string p = Write("x.bin", std::string("abc\0def\n", 8));
  auto f = ReadEditableFile(p, 1024);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(f.status().message().find("not a text file"), std::string::npos)
      << f.status().message();
  EXPECT_NE(f.status().message().find(p), std::string::npos);
}

TEST_F(EditTest, InvalidUtf8IsRefused) {
  const std::vector<std::pair<const char*, std::string>> cases = {
      {"overlong 2-byte '/'", "a\xC0\xAF" "b\n"},
      {"overlong 2-byte C1", "a\xC1\xBF\n"},
      {"overlong 3-byte", "a\xE0\x80\xAF\n"},
      {"overlong 4-byte", "a\xF0\x80\x80\xAF\n"},
      {"surrogate D800", "a\xED\xA0\x80\n"},
      {"surrogate DFFF", "a\xED\xBF\xBF\n"},
      {"above U+10FFFF", "a\xF4\x90\x80\x80\n"},
      {"lead byte F8", "a\xF8\x88\x80\x80\x80\n"},
      {"lone continuation", "a\x80" "b\n"},
      {"truncated at the end (2 of 3)", "abc\xE2\x82"},
      {"truncated at the end (1 of 2)", "abc\xC3"},
      {"truncated before ASCII", "a\xE2\x82" "b\n"},
      {"latin-1 e-acute", "caf\xE9\n"},
  };
  for (const auto& [what, bytes] : cases) {
    auto f = ReadEditableFile(Write("bad.txt", bytes), 1024);
    EXPECT_FALSE(f.ok()) << what;
    if (!f.ok()) {
      EXPECT_NE(f.status().message().find("not a text file"), std::string::npos) << what;
    }
  }
}

TEST_F(EditTest, ValidMultibyteUtf8IsAccepted) {
  // 2, 3 and 4 byte forms, and the boundaries: U+0080, U+07FF, U+0800,
  // U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF; the last character of the
  // file is multibyte (no trailing newline).
  const std::string text =
      "# caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xE4\xBD\xA0\xE5\xA5\xBD\n"
      "\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF"
      "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\n"
      "print('\xCE\xBB')  # \xF0\x9F\x98\x80";
  auto f = ReadEditableFile(Write("u.py", text), 1024);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->text, text);
}

// --- FenceLanguage ---

TEST(FenceLanguage, KnownExtensions) {
  EXPECT_EQ(FenceLanguage("a.py"), "python");
  EXPECT_EQ(FenceLanguage("src/x/y.cc"), "cpp");
  EXPECT_EQ(FenceLanguage("y.cpp"), "cpp");
  EXPECT_EQ(FenceLanguage("y.hpp"), "cpp");
  EXPECT_EQ(FenceLanguage("y.h"), "c");
  EXPECT_EQ(FenceLanguage("y.c"), "c");
  EXPECT_EQ(FenceLanguage("/abs/path/app.ts"), "typescript");
  EXPECT_EQ(FenceLanguage("app.tsx"), "tsx");
  EXPECT_EQ(FenceLanguage("main.go"), "go");
  EXPECT_EQ(FenceLanguage("lib.rs"), "rust");
  EXPECT_EQ(FenceLanguage("run.sh"), "bash");
  EXPECT_EQ(FenceLanguage("c.yml"), "yaml");
  EXPECT_EQ(FenceLanguage("README.md"), "markdown");
  EXPECT_EQ(FenceLanguage("archive.tar.json"), "json");  // the last extension counts
}

TEST(FenceLanguage, UnknownOrNoExtension) {
  EXPECT_EQ(FenceLanguage("Makefile"), "");
  EXPECT_EQ(FenceLanguage("dir/Makefile"), "");
  EXPECT_EQ(FenceLanguage("notes.xyz"), "");
  EXPECT_EQ(FenceLanguage(""), "");
  // A dot in a directory name is not an extension.
  EXPECT_EQ(FenceLanguage("my.py/Makefile"), "");
  EXPECT_EQ(FenceLanguage("./Makefile"), "");
  EXPECT_EQ(FenceLanguage("../v1.2/build"), "");
  // Extensions are matched as written.
  EXPECT_EQ(FenceLanguage("a.PY"), "");
  EXPECT_EQ(FenceLanguage("a.pyc"), "");
}

// --- EditRequest ---

TEST(EditRequest, Shape) {
  EditFile f;
  f.path = "some/dir/calc.py";
  f.text = "def add(a, b):\n    return a + b\n";
  const json r = EditRequest("glint-fast", f, "rename add to plus", 123);
  EXPECT_EQ(r["model"], "glint-fast");
  ASSERT_TRUE(r["messages"].is_array());
  ASSERT_EQ(r["messages"].size(), 3u);
  EXPECT_EQ(r["messages"][0]["role"], "system");
  EXPECT_TRUE(r["messages"][0]["content"].is_string());
  EXPECT_FALSE(r["messages"][0]["content"].get<std::string>().empty());
  EXPECT_EQ(r["messages"][1]["role"], "user");
  const std::string user = r["messages"][1]["content"];
  // The file name (not its directory), the whole file fenced, the instruction.
  EXPECT_NE(user.find("`calc.py`"), std::string::npos) << user;
  EXPECT_EQ(user.find("some/dir"), std::string::npos) << user;
  EXPECT_NE(user.find("```python\n" + f.text + "```\n"), std::string::npos) << user;
  EXPECT_NE(user.find("rename add to plus"), std::string::npos) << user;
  EXPECT_EQ(r["messages"][2]["role"], "assistant");
  EXPECT_EQ(r["messages"][2]["content"], "```python\n");

  EXPECT_EQ(r["prediction"], json({{"type", "content"}, {"content", f.text}}));
  EXPECT_EQ(r["stop"], json::array({"\n```"}));
  EXPECT_EQ(r["temperature"], 0);
  EXPECT_EQ(r["stream"], true);
  EXPECT_EQ(r["max_tokens"], 123);
  EXPECT_EQ(r["stream_options"]["include_usage"], true);
  // It is JSON that survives a round trip (what is sent on the wire).
  EXPECT_EQ(json::parse(r.dump()), r);
}

TEST(EditRequest, UnknownLanguageAndNoTrailingNewline) {
  EditFile f;
  f.path = "Makefile";
  f.text = "all:\n\techo hi";  // no newline at the end
  const json r = EditRequest("m", f, "say bye", 10);
  EXPECT_EQ(r["messages"][2]["content"], "```\n");
  const std::string user = r["messages"][1]["content"];
  // The closing fence stands on its own line all the same.
  EXPECT_NE(user.find("```\nall:\n\techo hi\n```\n"), std::string::npos) << user;
  EXPECT_EQ(r["prediction"]["content"], f.text);  // the file as it is, not as fenced
}

TEST(EditRequest, NonAsciiFileSurvivesJson) {
  EditFile f;
  f.path = "x.py";
  f.text = "s = 'caf\xC3\xA9 \xF0\x9F\x98\x80'\n";
  const json r = EditRequest("m", f, "\xE2\x82\xAC", 10);
  const json back = json::parse(r.dump());
  EXPECT_EQ(back["prediction"]["content"], f.text);
}

// --- EditedText ---

TEST(EditedText, RestoresTheTrailingNewlineOnlyWhenTheOriginalHadOne) {
  EditFile with, without, empty;
  with.text = "a\nb\n";
  without.text = "a\nb";
  // The stop sequence "\n```" took the last newline.
  EXPECT_EQ(EditedText(with, "a\nc"), "a\nc\n");
  EXPECT_EQ(EditedText(with, ""), "\n");
  EXPECT_EQ(EditedText(without, "a\nc"), "a\nc");
  EXPECT_EQ(EditedText(without, "a\nb"), "a\nb");
  EXPECT_EQ(EditedText(empty, ""), "");
  EXPECT_EQ(EditedText(empty, "x"), "x");
  // An answer that repeats the file unchanged gives the file back.
  EXPECT_EQ(EditedText(with, "a\nb"), with.text);
}

// A file that ends with a blank line ("a\n\n")
// is fenced as "```\na\n\n```"; the model repeats it as "a\n\n```", the
// stop sequence "\n```" cuts at its first newline and the answer is "a\n".
// EditedText adds the newline the stop sequence took whenever the
// original ended with one, also when the answer already ends with '\n'
// (otherwise the file would lose its last blank line).
TEST(EditedText, KeepsATrailingBlankLine) {
  EditFile f;
  f.text = "a\n\n";
  EXPECT_EQ(EditedText(f, "a\n"), "a\n\n");
  f.text = "x = 1\n\n\n";
  EXPECT_EQ(EditedText(f, "x = 1\n\n"), "x = 1\n\n\n");
}

// The stop sequence "\n```" would occur inside any
// file that holds a fenced block (Markdown, docstrings with examples): the
// answer is cut at the first inner fence and the rest of the file is
// dropped (`glint edit README.md ... --yes` truncates README.md). The fence
// of the request must be longer than any run of backticks in the file (a
// CommonMark fence may be any length >= 3), in the user message, the
// prefill and the stop sequence alike.
TEST(EditRequest, TheStopSequenceDoesNotOccurInTheFile) {
  EditFile f;
  f.path = "README.md";
  f.text = "# Demo\n\nInstall:\n\n```bash\npip install demo\n```\n\nThen run it.\n";
  const json r = EditRequest("m", f, "fix the typo", 100);
  ASSERT_TRUE(r["stop"].is_array());
  for (const auto& stop : r["stop"]) {
    const std::string s = stop;
    EXPECT_EQ(("\n" + f.text).find(s), std::string::npos) << s;
  }
  // The prefill opens the same fence that the stop sequence closes.
  const std::string prefill = r["messages"][2]["content"];
  const std::string stop = r["stop"][0];
  ASSERT_GT(stop.size(), 1u);
  EXPECT_EQ(prefill.rfind(stop.substr(1), 0), 0u) << prefill << " vs " << stop;
}

// --- UnifiedDiff ---

// The two header lines of a diff of `path`.
std::string Header(const std::string& path) {
  return "--- " + path + "\n+++ " + path + " (edited)\n";
}

TEST(UnifiedDiff, EqualIsEmpty) {
  EXPECT_EQ(UnifiedDiff("", "", "f", false), "");
  EXPECT_EQ(UnifiedDiff("a\nb\n", "a\nb\n", "f", false), "");
  EXPECT_EQ(UnifiedDiff("a\nb\n", "a\nb\n", "f", true), "");
}

TEST(UnifiedDiff, OneLineChangeGivesOneHunkWithThreeLinesOfContext) {
  std::string a, b;
  for (int i = 1; i <= 10; ++i) {
    a += "line " + std::to_string(i) + "\n";
    b += i == 5 ? "LINE FIVE\n" : "line " + std::to_string(i) + "\n";
  }
  EXPECT_EQ(UnifiedDiff(a, b, "dir/x.py", false),
            Header("dir/x.py") +
            "@@ -2,7 +2,7 @@\n"
            " line 2\n"
            " line 3\n"
            " line 4\n"
            "-line 5\n"
            "+LINE FIVE\n"
            " line 6\n"
            " line 7\n"
            " line 8\n");
}

TEST(UnifiedDiff, ChangeOnTheFirstLine) {
  EXPECT_EQ(UnifiedDiff("a\nb\nc\n", "A\nb\nc\n", "f", false),
            Header("f") +
            "@@ -1,3 +1,3 @@\n"
            "-a\n"
            "+A\n"
            " b\n"
            " c\n");
}

TEST(UnifiedDiff, InsertionAndDeletion) {
  EXPECT_EQ(UnifiedDiff("a\nb\nc\n", "a\nb\nnew\nc\n", "f", false),
            Header("f") +
            "@@ -1,3 +1,4 @@\n"
            " a\n"
            " b\n"
            "+new\n"
            " c\n");
  EXPECT_EQ(UnifiedDiff("a\nb\nc\n", "a\nc\n", "f", false),
            Header("f") +
            "@@ -1,3 +1,2 @@\n"
            " a\n"
            "-b\n"
            " c\n");
}

TEST(UnifiedDiff, DistantChangesGiveTwoHunks) {
  std::string a, b;
  for (int i = 1; i <= 30; ++i) {
    a += std::to_string(i) + "\n";
    b += (i == 3 || i == 27 ? "x" : std::to_string(i)) + "\n";
  }
  const std::string d = UnifiedDiff(a, b, "f", false);
  EXPECT_NE(d.find("@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+x\n 4\n 5\n 6\n"), std::string::npos) << d;
  EXPECT_NE(d.find("@@ -24,7 +24,7 @@\n 24\n 25\n 26\n-27\n+x\n 28\n 29\n 30\n"),
            std::string::npos)
      << d;
  size_t hunks = 0;
  for (size_t p = 0; (p = d.find("\n@@ ", p)) != std::string::npos; ++p) ++hunks;
  EXPECT_EQ(hunks, 2u) << d;
}

TEST(UnifiedDiff, NoNewlineAtEndOfFile) {
  // Both sides lack it: the changed last line is marked on both sides.
  EXPECT_EQ(UnifiedDiff("x\ny", "x\nz", "f", false),
            Header("f") +
            "@@ -1,2 +1,2 @@\n"
            " x\n"
            "-y\n"
            "\\ No newline at end of file\n"
            "+z\n"
            "\\ No newline at end of file\n");
  // Only the newline went away.
  EXPECT_EQ(UnifiedDiff("x\ny\n", "x\ny", "f", false),
            Header("f") +
            "@@ -1,2 +1,2 @@\n"
            " x\n"
            "-y\n"
            "+y\n"
            "\\ No newline at end of file\n");
  // Only a newline was added.
  EXPECT_EQ(UnifiedDiff("x\ny", "x\ny\n", "f", false),
            Header("f") +
            "@@ -1,2 +1,2 @@\n"
            " x\n"
            "-y\n"
            "\\ No newline at end of file\n"
            "+y\n");
  // A context line that lacks it is marked too.
  EXPECT_EQ(UnifiedDiff("a\nb", "A\nb", "f", false),
            Header("f") +
            "@@ -1,2 +1,2 @@\n"
            "-a\n"
            "+A\n"
            " b\n"
            "\\ No newline at end of file\n");
}

TEST(UnifiedDiff, FromAndToEmpty) {
  const std::string add = UnifiedDiff("", "a\nb\n", "f", false);
  EXPECT_NE(add.find("+a\n+b\n"), std::string::npos) << add;
  EXPECT_EQ(add.find("\n-"), std::string::npos) << add;
  const std::string del = UnifiedDiff("a\nb\n", "", "f", false);
  EXPECT_NE(del.find("-a\n-b\n"), std::string::npos) << del;
  EXPECT_EQ(del.find("\n+a"), std::string::npos) << del;
}

TEST(UnifiedDiff, ColourWrapsLinesInAnsiCodes) {
  const std::string d = UnifiedDiff("a\nb\nc\n", "a\nB\nc\n", "f", true);
  EXPECT_EQ(d.rfind("\033[1m--- f\n+++ f (edited)\033[0m\n", 0), 0u) << d;
  EXPECT_NE(d.find("\033[36m@@ -1,3 +1,3 @@\033[0m\n"), std::string::npos) << d;
  EXPECT_NE(d.find("\033[31m-b\033[0m\n"), std::string::npos) << d;
  EXPECT_NE(d.find("\033[32m+B\033[0m\n"), std::string::npos) << d;
  EXPECT_NE(d.find(" a\033[0m\n"), std::string::npos) << d;  // context: no colour, reset
  // Without colour: no escape at all; the same text once the codes are gone.
  const std::string plain = UnifiedDiff("a\nb\nc\n", "a\nB\nc\n", "f", false);
  EXPECT_EQ(plain.find('\033'), std::string::npos);
  std::string stripped;
  for (size_t i = 0; i < d.size(); ++i) {
    if (d[i] == '\033') {
      while (i < d.size() && d[i] != 'm') ++i;
      continue;
    }
    stripped += d[i];
  }
  EXPECT_EQ(stripped, plain);
}

TEST(UnifiedDiff, ColourPutsTheNoNewlineMarkerAfterTheReset) {
  const std::string d = UnifiedDiff("x", "y", "f", true);
  EXPECT_NE(d.find("\033[31m-x\033[0m\n\\ No newline at end of file\n"), std::string::npos) << d;
  EXPECT_NE(d.find("\033[32m+y\033[0m\n\\ No newline at end of file\n"), std::string::npos) << d;
}

// Applies a unified diff (as UnifiedDiff writes it) to a: hunks in order,
// context and deletions checked against a.
std::string Apply(const std::string& a, const std::string& diff) {
  std::vector<std::string> in, out;
  {
    size_t pos = 0;
    while (pos < a.size()) {
      size_t nl = a.find('\n', pos);
      if (nl == std::string::npos) nl = a.size() - 1;
      in.push_back(a.substr(pos, nl + 1 - pos));
      pos = nl + 1;
    }
  }
  std::vector<std::string> lines;
  {
    std::istringstream ss(diff);
    std::string l;
    while (std::getline(ss, l)) lines.push_back(l);
  }
  size_t next = 0;  // the next line of `in` not yet copied
  std::string* last = nullptr;
  for (size_t i = 2; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (l.rfind("@@ -", 0) == 0) {
      long start = std::stol(l.substr(4));
      const size_t comma = l.find(',');
      const long count = std::stol(l.substr(comma + 1));
      if (count == 0) start += 1;  // "-n,0" is after line n
      if (start < 1) start = 1;
      EXPECT_GE(static_cast<size_t>(start - 1), next) << "hunks out of order\n" << diff;
      while (next < static_cast<size_t>(start - 1) && next < in.size()) out.push_back(in[next++]);
      continue;
    }
    if (l == "\\ No newline at end of file") {
      if (last != nullptr && !last->empty() && last->back() == '\n') last->pop_back();
      continue;
    }
    const char op = l.empty() ? ' ' : l[0];
    const std::string text = (l.empty() ? "" : l.substr(1)) + "\n";
    last = nullptr;
    if (op == ' ' || op == '-') {
      EXPECT_LT(next, in.size()) << diff;
      if (next < in.size()) {
        std::string want = in[next];
        if (!want.empty() && want.back() != '\n') want += '\n';
        EXPECT_EQ(text, want) << "line " << next + 1 << "\n" << diff;
      }
      ++next;
      if (op == ' ') {
        out.push_back(text);
        last = &out.back();
      } else {
        static std::string dropped;
        dropped = text;
        last = &dropped;
      }
    } else if (op == '+') {
      out.push_back(text);
      last = &out.back();
    } else {
      ADD_FAILURE() << "unexpected line '" << l << "'\n" << diff;
    }
  }
  while (next < in.size()) out.push_back(in[next++]);
  std::string result;
  for (const auto& l : out) result += l;
  return result;
}

TEST(UnifiedDiff, AppliedToTheOldTextGivesTheNewText) {
  // Many small random edits of small files: every diff, applied, gives b
  // (the hunk headers, context and no-newline markers are all right).
  uint32_t seed = 12345;
  auto rnd = [&](uint32_t n) {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) % n;
  };
  for (int iter = 0; iter < 400; ++iter) {
    std::vector<std::string> la;
    const uint32_t n = rnd(14);
    for (uint32_t i = 0; i < n; ++i) la.push_back(std::string(1, static_cast<char>('a' + rnd(6))));
    std::vector<std::string> lb = la;
    for (uint32_t k = 0, edits = 1 + rnd(3); k < edits; ++k) {
      const uint32_t op = rnd(3);
      const uint32_t at = rnd(static_cast<uint32_t>(lb.size()) + 1);
      if (op == 0 || lb.empty()) {
        lb.insert(lb.begin() + at, std::string(1, static_cast<char>('x' + rnd(3))));
      } else if (op == 1) {
        lb.erase(lb.begin() + std::min<size_t>(at, lb.size() - 1));
      } else {
        lb[std::min<size_t>(at, lb.size() - 1)] = std::string(1, 'y');
      }
    }
    auto join = [&](const std::vector<std::string>& v, bool nl_end) {
      std::string s;
      for (size_t i = 0; i < v.size(); ++i) {
        s += v[i];
        if (i + 1 < v.size() || nl_end) s += '\n';
      }
      return s;
    };
    const std::string a = join(la, rnd(4) != 0), b = join(lb, rnd(4) != 0);
    const std::string d = UnifiedDiff(a, b, "f", false);
    if (a == b) {
      EXPECT_EQ(d, "");
      continue;
    }
    ASSERT_EQ(d.rfind(Header("f") + "@@ -", 0), 0u) << d;
    EXPECT_EQ(Apply(a, d), b) << "a=" << ::testing::PrintToString(a)
                              << " b=" << ::testing::PrintToString(b) << "\n" << d;
  }
}

// --- WriteFileAtomically ---

TEST_F(EditTest, WriteReplacesTheContentAndKeepsTheMode) {
  const std::string p = Write("f.py", "old\n", 0640);
  ASSERT_TRUE(WriteFileAtomically(p, "new content\n", 0640).ok());
  EXPECT_EQ(Read(p), "new content\n");
  struct stat st;
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  // No temporary left beside it.
  EXPECT_EQ(Entries(), std::vector<std::string>{"f.py"});
}

TEST_F(EditTest, WriteGivesTheModeAskedFor) {
  // mkstemp creates 0600 files; the umask must not matter either.
  const mode_t old_umask = ::umask(077);
  const std::string p = Write("s.sh", "#!/bin/sh\n", 0755);
  ASSERT_TRUE(WriteFileAtomically(p, "#!/bin/sh\necho hi\n", 0755).ok());
  ::umask(old_umask);
  struct stat st;
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(Read(p), "#!/bin/sh\necho hi\n");
}

TEST_F(EditTest, WriteEmptyAndLargeContent) {
  const std::string p = Write("f.txt", "something\n");
  ASSERT_TRUE(WriteFileAtomically(p, "", 0644).ok());
  EXPECT_EQ(Read(p), "");
  std::string big;
  for (int i = 0; i < 100000; ++i) big += "line " + std::to_string(i) + "\n";
  ASSERT_TRUE(WriteFileAtomically(p, big, 0644).ok());
  EXPECT_EQ(Read(p), big);
  EXPECT_EQ(Entries(), std::vector<std::string>{"f.txt"});
}

TEST_F(EditTest, WriteReplacesTheInodeNotTheFileInPlace) {
  // An open reader of the old file keeps seeing the old content: the new
  // file was renamed over it, not written into it.
  const std::string p = Write("f.txt", "old\n");
  std::ifstream reader(p, std::ios::binary);
  struct stat before, after;
  ASSERT_EQ(::stat(p.c_str(), &before), 0);
  ASSERT_TRUE(WriteFileAtomically(p, "new\n", 0644).ok());
  ASSERT_EQ(::stat(p.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino);
  std::ostringstream ss;
  ss << reader.rdbuf();
  EXPECT_EQ(ss.str(), "old\n");
  EXPECT_EQ(Read(p), "new\n");
}

TEST_F(EditTest, WriteFailsInAReadOnlyDirectoryAndLeavesTheOriginal) {
  const std::string p = Write("f.py", "original\n", 0644);
  ASSERT_EQ(::chmod(dir_.c_str(), 0555), 0);
  if (::access(dir_.c_str(), W_OK) == 0) {
    GTEST_SKIP() << "the directory stays writable (running as root)";
  }
  Status s = WriteFileAtomically(p, "new\n", 0644);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(p), std::string::npos) << s.message();
  ::chmod(dir_.c_str(), 0755);
  EXPECT_EQ(Read(p), "original\n");
  EXPECT_EQ(Entries(), std::vector<std::string>{"f.py"});
}

// Editing through a symbolic link must not replace the
// link with a regular file and leaves its target as it was (rename()
// replaces the link itself). The temporary must be made beside, and renamed
// over, the link's target: realpath(path) before mkstemp.
TEST_F(EditTest, WriteThroughASymlinkWritesItsTarget) {
  fs::create_directory(Path("real"));
  const std::string target = Write("real/f.py", "old\n", 0640);
  fs::create_symlink("real/f.py", Path("link.py"));
  ASSERT_TRUE(WriteFileAtomically(Path("link.py"), "new\n", 0640).ok());
  EXPECT_TRUE(fs::is_symlink(Path("link.py")));
  EXPECT_EQ(Read(target), "new\n");
  EXPECT_EQ(Read(Path("link.py")), "new\n");
}

TEST_F(EditTest, WriteFailsWhenTheTargetIsADirectoryAndCleansUp) {
  // The rename fails (a file cannot replace a non-empty directory): the
  // directory is untouched and the temporary removed. Works as root too.
  fs::create_directory(Path("d"));
  Write("d/inner", "x");
  Status s = WriteFileAtomically(Path("d"), "new\n", 0644);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("unchanged"), std::string::npos) << s.message();
  EXPECT_TRUE(fs::is_directory(Path("d")));
  EXPECT_EQ(Read(Path("d/inner")), "x");
  EXPECT_EQ(Entries(), std::vector<std::string>{"d"});
}

TEST_F(EditTest, WriteFailsWhenTheDirectoryIsMissing) {
  Status s = WriteFileAtomically(Path("no-dir/f.py"), "new\n", 0644);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no-dir/f.py"), std::string::npos) << s.message();
  EXPECT_TRUE(Entries().empty());
}

}  // namespace
}  // namespace glint::client
