// The KV cache's memory: pages are committed as positions are written, and
// Trim hands them back (the KV budget relies on both).
#include "model/kv_cache.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>

#include <gtest/gtest.h>

namespace glint::model {
namespace {

// Resident bytes of this process (/proc/self/statm, second field).
size_t ResidentBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

HParams Shape() {
  HParams hp;
  hp.n_layers = 8;
  hp.n_kv_heads = 4;
  hp.head_dim = 64;  // rows of 256 halves: 512 bytes per position, K and V each
  return hp;
}

// Writes positions [from, to) of every layer, as a forward pass would.
void Fill(KvCache& kv, int32_t layers, int32_t from, int32_t to, uint16_t value) {
  for (int32_t l = 0; l < layers; ++l) {
    for (int32_t p = from; p < to; ++p) {
      for (int i = 0; i < 256; ++i) kv.k(l, p)[i] = kv.v(l, p)[i] = value;
    }
  }
  kv.Advance(to - from);
}

TEST(KvCache, HighWaterFollowsTheLongestSequenceUntilTrimmed) {
  KvCache kv(Shape(), 1024);
  Fill(kv, 8, 0, 300, 1);
  EXPECT_EQ(kv.size(), 300);
  EXPECT_EQ(kv.high_water(), 300);
  kv.Truncate(100);  // a rolled-back draft: the pages stay
  EXPECT_EQ(kv.size(), 100);
  EXPECT_EQ(kv.high_water(), 300);
  kv.Trim(200);  // more than it holds: the positions stay, the tail goes
  EXPECT_EQ(kv.size(), 100);
  EXPECT_EQ(kv.high_water(), 200);
  kv.Trim(50);
  EXPECT_EQ(kv.size(), 50);
  EXPECT_EQ(kv.high_water(), 50);
  kv.Trim(0);
  EXPECT_EQ(kv.size(), 0);
  EXPECT_EQ(kv.high_water(), 0);
}

TEST(KvCache, TrimKeepsThePositionsBeforeItAndZeroesTheReleasedPages) {
  KvCache kv(Shape(), 1024);
  Fill(kv, 8, 0, 1024, 7);
  kv.Trim(100);
  for (int32_t l = 0; l < 8; ++l) {
    for (int32_t p = 0; p < 100; ++p) {
      ASSERT_EQ(kv.k(l, p)[0], 7) << l << " " << p;
      ASSERT_EQ(kv.v(l, p)[255], 7) << l << " " << p;
    }
    // Well past the boundary page: released, so it reads as fresh zeros.
    EXPECT_EQ(kv.k(l, 900)[0], 0) << l;
    EXPECT_EQ(kv.v(l, 900)[0], 0) << l;
  }
}

TEST(KvCache, TrimGivesTheMemoryBack) {
  // 8 layers x 8192 positions x 512 bytes x 2 = 64 MiB when full.
  KvCache kv(Shape(), 8192);
  const size_t before = ResidentBytes();
  Fill(kv, 8, 0, 8192, 3);
  const size_t full = ResidentBytes();
  ASSERT_GT(full, before + (56u << 20));
  kv.Trim(0);
  const size_t after = ResidentBytes();
  EXPECT_LT(after, full - (56u << 20)) << "before " << before << " full " << full;
  // Writing again commits pages again (nothing broke).
  Fill(kv, 8, 0, 16, 5);
  EXPECT_EQ(kv.k(7, 15)[0], 5);
}

TEST(KvCache, ResidentBytesCountsWholePagesPerLayer) {
  KvCache kv(Shape(), 8192);
  EXPECT_EQ(kv.ResidentBytes(0), 0u);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  // One position: one page per layer for K and V, plus the start page.
  EXPECT_EQ(kv.ResidentBytes(1), 2u * 8 * 2 * page);
  // 8192 positions x 512 bytes = 1024 pages of 4 KiB per layer, + 1.
  EXPECT_EQ(kv.ResidentBytes(8192), 2u * 8 * (8192 * 512 / page + 1) * page);
  // Never more than the context.
  EXPECT_EQ(kv.ResidentBytes(100000), kv.ResidentBytes(8192));
}

}  // namespace
}  // namespace glint::model
