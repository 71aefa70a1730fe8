// The playground's files compiled into the server (cmake/embed_files.cmake)
// and the Sec-WebSocket-Protocol list that carries a browser's API key.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "server/connection.h"
#include "server/web_assets.h"

namespace glint::server {
namespace {

std::string ReadSource(const std::string& name) {
  std::ifstream in(std::string(GLINT_SOURCE_DIR) + "/web/" + name, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(WebAssetsTest, EveryFileIsEmbeddedByteForByte) {
  const std::pair<const char*, const char*> kFiles[] = {
      {"index.html", "text/html; charset=utf-8"},
      {"app.js", "text/javascript; charset=utf-8"},
      {"channel.js", "text/javascript; charset=utf-8"},
      {"markdown.js", "text/javascript; charset=utf-8"},
      {"diff.js", "text/javascript; charset=utf-8"},
      {"style.css", "text/css; charset=utf-8"},
      {"favicon.svg", "image/svg+xml"}};
  for (const auto& [name, type] : kFiles) {
    const EmbeddedFile* f = FindEmbeddedFile(std::string("/") + name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_EQ(f->content_type, type) << name;
    EXPECT_EQ(f->body, ReadSource(name)) << name;
  }
}

TEST(WebAssetsTest, OnlyTheListedPathsExist) {
  EXPECT_EQ(FindEmbeddedFile("/"), nullptr);  // the route maps "/" to /index.html
  EXPECT_EQ(FindEmbeddedFile("index.html"), nullptr);
  EXPECT_EQ(FindEmbeddedFile("/../CMakeLists.txt"), nullptr);
  EXPECT_EQ(FindEmbeddedFile("/app.js?x=1"), nullptr);
}

TEST(SubprotocolsTest, SplitsOnCommasAndTrims) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(Subprotocols("glint, glint-key.abc"), (V{"glint", "glint-key.abc"}));
  EXPECT_EQ(Subprotocols(" glint ,\tx,, "), (V{"glint", "x"}));
  EXPECT_EQ(Subprotocols(""), V{});
  EXPECT_EQ(Subprotocols(","), V{});
}

}  // namespace
}  // namespace glint::server
