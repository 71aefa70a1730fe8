#include "base/machine.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <thread>

namespace glint {
namespace {

// The first whitespace-separated words of a small file ("" when unreadable).
std::string ReadWord(const char* path, int index = 0) {
  std::ifstream in(path);
  std::string word;
  for (int i = 0; i <= index; ++i) {
    if (!(in >> word)) return "";
  }
  return word;
}

// A positive number, or 0 for "max", absent or unparsable.
double Number(const std::string& s) {
  if (s.empty() || s == "max") return 0;
  try {
    const double v = std::stod(s);
    return v > 0 ? v : 0;
  } catch (...) {
    return 0;
  }
}

}  // namespace

int UsableCores() {
  int n = 0;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  double quota = Number(ReadWord("/sys/fs/cgroup/cpu.max", 0));
  double period = Number(ReadWord("/sys/fs/cgroup/cpu.max", 1));
  if (quota == 0) {
    quota = Number(ReadWord("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"));
    period = Number(ReadWord("/sys/fs/cgroup/cpu/cpu.cfs_period_us"));
  }
  if (quota > 0 && period > 0) n = std::min(n, static_cast<int>(std::ceil(quota / period)));
  return std::max(n, 1);
}

size_t UsableMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGESIZE);
  double bytes = pages > 0 && page > 0 ? static_cast<double>(pages) * page : 0;
  // v1 reports "no limit" as a huge number: the min below ignores it.
  for (const char* path : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    if (const double limit = Number(ReadWord(path)); limit > 0 && (bytes == 0 || limit < bytes)) {
      bytes = limit;
    }
  }
  return static_cast<size_t>(bytes);
}

}  // namespace glint
