#include "base/huge_page_buffer.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <utility>

namespace glint {
namespace {

constexpr size_t kHuge = HugePageBuffer::kHugePage;

bool Mapped(const void* addr, size_t bytes) {
  return ::msync(const_cast<void*>(addr), bytes, MS_ASYNC) == 0;
}

TEST(HugePageBufferTest, EmptyForZeroBytes) {
  Result<HugePageBuffer> b = HugePageBuffer::Allocate(0);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->data(), nullptr);
  EXPECT_EQ(b->size(), 0u);
}

TEST(HugePageBufferTest, RoundsUpToAlignedHugePagesThatAreZeroedAndWritable) {
  for (size_t bytes : {size_t{1}, kHuge - 1, kHuge, kHuge + 1, 3 * kHuge + 5}) {
    Result<HugePageBuffer> b = HugePageBuffer::Allocate(bytes);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_EQ(b->size(), (bytes + kHuge - 1) / kHuge * kHuge) << bytes;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b->data()) % kHuge, 0u) << bytes;
    uint8_t* p = b->data();
    for (size_t i = 0; i < b->size(); i += 4096) {
      ASSERT_EQ(p[i], 0) << i;
      p[i] = 0xa5;
    }
    EXPECT_EQ(p[b->size() - 1], 0);
    p[b->size() - 1] = 1;
  }
}

TEST(HugePageBufferTest, AdvisedWhereTheKernelHasTransparentHugePages) {
  if (!std::filesystem::exists("/sys/kernel/mm/transparent_hugepage/enabled")) {
    GTEST_SKIP() << "no transparent huge pages in this kernel";
  }
  Result<HugePageBuffer> b = HugePageBuffer::Allocate(kHuge);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_TRUE(b->advised());
}

TEST(HugePageBufferTest, MovesOwnershipAndUnmapsOnDestruction) {
  Result<HugePageBuffer> a = HugePageBuffer::Allocate(kHuge + 1);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  uint8_t* p = a->data();
  const size_t size = a->size();
  p[0] = 7;
  {
    HugePageBuffer b = std::move(*a);
    EXPECT_EQ(a->data(), nullptr);
    EXPECT_EQ(a->size(), 0u);
    EXPECT_EQ(b.data(), p);
    EXPECT_EQ(b.data()[0], 7);
    EXPECT_TRUE(Mapped(p, size));
  }
  EXPECT_FALSE(Mapped(p, size));
}

TEST(HugePageBufferTest, MoveAssignmentReleasesTheOldRegion) {
  Result<HugePageBuffer> a = HugePageBuffer::Allocate(1);
  Result<HugePageBuffer> b = HugePageBuffer::Allocate(1);
  ASSERT_TRUE(a.ok() && b.ok());
  uint8_t* old = a->data();
  *a = std::move(*b);
  EXPECT_FALSE(Mapped(old, kHuge));
  EXPECT_TRUE(Mapped(a->data(), kHuge));
}

TEST(HugePageBufferTest, ImpossibleSizesAreAnErrorNotACrash) {
  for (size_t bytes : {SIZE_MAX, SIZE_MAX / 2, size_t{1} << 60}) {
    Result<HugePageBuffer> b = HugePageBuffer::Allocate(bytes);
    ASSERT_FALSE(b.ok()) << bytes;
    EXPECT_EQ(b.status().code(), StatusCode::kResourceExhausted);
  }
}

}  // namespace
}  // namespace glint
