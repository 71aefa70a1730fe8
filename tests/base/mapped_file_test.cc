#include "base/mapped_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace glint {
namespace {

namespace fs = std::filesystem;

class MappedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("glint_mapped_file_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& bytes) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  fs::path dir_;
};

TEST_F(MappedFileTest, MapsContents) {
  std::string path = Write("a.bin", std::string("hello\0world", 11));
  Result<MappedFile> f = MappedFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->size(), 11u);
  EXPECT_EQ(f->path(), path);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(f->data()), f->size()),
            std::string("hello\0world", 11));
}

TEST_F(MappedFileTest, MissingFileIsNotFound) {
  std::string path = (dir_ / "nope.gguf").string();
  Result<MappedFile> f = MappedFile::Open(path);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kNotFound);
  EXPECT_NE(f.status().message().find("nope.gguf"), std::string::npos) << f.status().message();
}

TEST_F(MappedFileTest, DirectoryIsRejected) {
  Result<MappedFile> f = MappedFile::Open(dir_.string());
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(f.status().message().find("not a regular file"), std::string::npos)
      << f.status().message();
}

TEST_F(MappedFileTest, UnreadableFileIsAnError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads everything";
  std::string path = Write("secret", "x");
  ::chmod(path.c_str(), 0);
  Result<MappedFile> f = MappedFile::Open(path);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("cannot open"), std::string::npos);
}

TEST_F(MappedFileTest, EmptyFileHasNoData) {
  std::string path = Write("empty", "");
  Result<MappedFile> f = MappedFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->size(), 0u);
  EXPECT_EQ(f->data(), nullptr);
}

TEST_F(MappedFileTest, MoveTransfersOwnership) {
  std::string path = Write("m", "abcdef");
  MappedFile a = std::move(MappedFile::Open(path)).value();
  const uint8_t* data = a.data();
  MappedFile b(std::move(a));
  EXPECT_EQ(b.data(), data);
  EXPECT_EQ(b.size(), 6u);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT: checking the moved-from state
  EXPECT_EQ(a.size(), 0u);
  MappedFile c;
  c = std::move(b);
  EXPECT_EQ(c.data(), data);
  EXPECT_EQ(c.data()[5], 'f');
  // Move-assigning over a live mapping unmaps the old one (checked under ASan/valgrind).
  MappedFile d = std::move(MappedFile::Open(Write("n", "xyz"))).value();
  d = std::move(c);
  EXPECT_EQ(d.size(), 6u);
  d = std::move(d);  // self-move keeps the mapping
  EXPECT_EQ(d.size(), 6u);
}

TEST_F(MappedFileTest, MappingOutlivesTheFileName) {
  std::string path = Write("gone", "still here");
  MappedFile f = std::move(MappedFile::Open(path)).value();
  fs::remove(path);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(f.data()), f.size()), "still here");
}

}  // namespace
}  // namespace glint
