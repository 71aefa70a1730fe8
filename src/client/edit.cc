#include "client/edit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <dtl/dtl.hpp>
#include <fmt/format.h>

namespace glint::client {
namespace {

// True when s is valid UTF-8 (RFC 3629: no overlong forms, no surrogates,
// nothing above U+10FFFF).
bool IsUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int extra;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;  // truncated at the end
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string::npos) {
      out.push_back(s.substr(pos));  // a last line without its newline
      break;
    }
    out.push_back(s.substr(pos, nl + 1 - pos));
    pos = nl + 1;
  }
  return out;
}

}  // namespace

Result<EditFile> ReadEditableFile(const std::string& path, size_t max_bytes) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Error(StatusCode::kNotFound, "cannot read '{}': {}", path, std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return Error(StatusCode::kInvalidArgument, "'{}' is not a regular file", path);
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return Error(StatusCode::kInvalidArgument,
                 "'{}' is {} bytes; glint edit takes files up to {} bytes (the model's context "
                 "must hold the file twice)", path, st.st_size, max_bytes);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(StatusCode::kNotFound, "cannot read '{}': {}", path, std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  EditFile f;
  f.path = path;
  f.text = ss.str();
  f.mode = st.st_mode & 07777;
  if (f.text.find('\0') != std::string::npos || !IsUtf8(f.text)) {
    return Error(StatusCode::kInvalidArgument, "'{}' is not a text file (it is not UTF-8 text)",
                 path);
  }
  return f;
}

std::string FenceLanguage(const std::string& path) {
  static const std::pair<const char*, const char*> kLanguages[] = {
      {".py", "python"}, {".cc", "cpp"}, {".cpp", "cpp"}, {".cxx", "cpp"}, {".hpp", "cpp"},
      {".hh", "cpp"}, {".h", "c"}, {".c", "c"}, {".js", "javascript"}, {".mjs", "javascript"},
      {".cjs", "javascript"}, {".jsx", "jsx"}, {".ts", "typescript"}, {".tsx", "tsx"},
      {".go", "go"}, {".rs", "rust"}, {".java", "java"}, {".kt", "kotlin"}, {".rb", "ruby"},
      {".sh", "bash"}, {".bash", "bash"}, {".sql", "sql"}, {".html", "html"}, {".css", "css"},
      {".json", "json"}, {".yaml", "yaml"}, {".yml", "yaml"}, {".toml", "toml"},
      {".md", "markdown"}, {".swift", "swift"}, {".php", "php"}, {".cs", "csharp"},
      {".lua", "lua"}, {".zig", "zig"}};
  const size_t slash = path.find_last_of('/');
  const size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  const std::string ext = path.substr(dot);
  for (const auto& [e, lang] : kLanguages) {
    if (ext == e) return lang;
  }
  return "";
}

// A code fence longer than any run of backticks in text (CommonMark: a
// fence is closed only by one at least as long), so that neither the
// file's own fences nor its closing one can end the answer early.
static std::string FenceFor(const std::string& text) {
  size_t longest = 0, run = 0;
  for (char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return std::string(std::max<size_t>(3, longest + 1), '`');
}

nlohmann::json EditRequest(const std::string& model, const EditFile& file,
                           const std::string& instruction, int max_tokens) {
  const std::string lang = FenceLanguage(file.path);
  const std::string fence = FenceFor(file.text);
  const size_t slash = file.path.find_last_of('/');
  const std::string name = slash == std::string::npos ? file.path : file.path.substr(slash + 1);
  const std::string system =
      "You are a precise code editor. Apply the user's instruction to the file and reply with "
      "the complete updated file in one fenced code block, and nothing else. Change only what "
      "the instruction asks for; keep everything else exactly as it is, and add no comments "
      "about the change.";
  std::string user = fmt::format("File `{}`:\n{}{}\n{}", name, fence, lang, file.text);
  if (!file.text.empty() && file.text.back() != '\n') user += '\n';
  user += fmt::format("{}\n\nInstruction: {}", fence, instruction);
  return {
      {"model", model},
      {"messages",
       {{{"role", "system"}, {"content", system}},
        {{"role", "user"}, {"content", user}},
        {{"role", "assistant"}, {"content", fence + lang + "\n"}}}},
      {"prediction", {{"type", "content"}, {"content", file.text}}},
      {"stop", {"\n" + fence}},
      {"temperature", 0},
      {"max_tokens", max_tokens},
      {"stream", true},
      {"stream_options", {{"include_usage", true}}},
  };
}

std::string EditedText(const EditFile& file, const std::string& answer) {
  std::string out = answer;
  // The stop sequence took the newline that ended the file's last line
  // (the answer is everything before "\n" + fence).
  if (!file.text.empty() && file.text.back() == '\n') out += '\n';
  return out;
}

std::string UnifiedDiff(const std::string& a, const std::string& b, const std::string& path,
                        bool color) {
  if (a == b) return "";
  const std::vector<std::string> la = Lines(a), lb = Lines(b);
  dtl::Diff<std::string> diff(la, lb);
  diff.compose();
  diff.composeUnifiedHunks();
  const char* red = color ? "\033[31m" : "";
  const char* green = color ? "\033[32m" : "";
  const char* cyan = color ? "\033[36m" : "";
  const char* bold = color ? "\033[1m" : "";
  const char* reset = color ? "\033[0m" : "";
  std::string out = fmt::format("{}--- {}\n+++ {} (edited){}\n", bold, path, path, reset);
  auto line = [&](const char* prefix, const char* col, const std::string& text) {
    out += col;
    out += prefix;
    if (!text.empty() && text.back() == '\n') {
      out.append(text, 0, text.size() - 1);
      out += reset;
      out += '\n';
    } else {
      out += text;
      out += reset;
      out += "\n\\ No newline at end of file\n";
    }
  };
  for (const auto& h : diff.getUniHunks()) {
    out += fmt::format("{}@@ -{},{} +{},{} @@{}\n", cyan, h.a, h.b, h.c, h.d, reset);
    for (const auto& e : h.common[0]) line(" ", "", e.first);
    for (const auto& e : h.change) {
      switch (e.second.type) {
        case dtl::SES_DELETE: line("-", red, e.first); break;
        case dtl::SES_ADD: line("+", green, e.first); break;
        default: line(" ", "", e.first); break;
      }
    }
    for (const auto& e : h.common[1]) line(" ", "", e.first);
  }
  return out;
}

Status WriteFileAtomically(const std::string& link_or_path, const std::string& text,
                           mode_t mode) {
  // Through a symbolic link, replace its target (renaming over the link
  // would replace the link itself).
  std::string path = link_or_path;
  if (char* real = ::realpath(link_or_path.c_str(), nullptr)) {
    path = real;
    std::free(real);
  }
  std::string tmpl = path + ".glint-XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  const int fd = ::mkstemp(name.data());
  if (fd < 0) {
    return Error(StatusCode::kInternal, "cannot create a temporary file beside '{}': {}", path,
                 std::strerror(errno));
  }
  auto fail = [&](const char* what) {
    const int err = errno;
    ::close(fd);
    ::unlink(name.data());
    return Error(StatusCode::kInternal, "cannot write '{}' ({}): {}; the file is unchanged",
                 path, what, std::strerror(err));
  };
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, mode) != 0) return fail("chmod");
  if (::fsync(fd) != 0) return fail("fsync");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(name.data());
    return Error(StatusCode::kInternal, "cannot write '{}' (close): {}; the file is unchanged",
                 path, std::strerror(err));
  }
  if (::rename(name.data(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(name.data());
    return Error(StatusCode::kInternal, "cannot replace '{}': {}; the file is unchanged", path,
                 std::strerror(err));
  }
  return Status::Ok();
}

}  // namespace glint::client
