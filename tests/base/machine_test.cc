// The cores and memory glint sizes itself by follow what the process is
// allowed, not the host's totals.
#include "base/machine.h"

#include <sched.h>
#include <unistd.h>

#include <thread>

#include <gtest/gtest.h>

namespace glint {
namespace {

TEST(Machine, UsableCoresFollowTheAffinityMask) {
  const int all = UsableCores();
  EXPECT_GE(all, 1);
  EXPECT_LE(all, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  cpu_set_t saved;
  ASSERT_EQ(sched_getaffinity(0, sizeof saved, &saved), 0);
  int first = -1;
  for (int c = 0; c < CPU_SETSIZE && first < 0; ++c) {
    if (CPU_ISSET(c, &saved)) first = c;
  }
  ASSERT_GE(first, 0);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);  // this thread only
  EXPECT_EQ(UsableCores(), 1);
  ASSERT_EQ(sched_setaffinity(0, sizeof saved, &saved), 0);
  EXPECT_EQ(UsableCores(), all);
}

TEST(Machine, UsableMemoryIsAtMostThePhysicalMemory) {
  const size_t phys = static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  const size_t usable = UsableMemoryBytes();
  EXPECT_GT(usable, size_t{64} << 20);
  EXPECT_LE(usable, phys);
}

}  // namespace
}  // namespace glint
