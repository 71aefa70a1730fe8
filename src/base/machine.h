// What this process may use of the machine: the cores and memory it is
// allowed, not the host's totals (a container's CPU quota and memory limit
// are what count there).
#pragma once

#include <cstddef>

namespace glint {

// Cores in this process's CPU affinity mask, capped by a cgroup CPU quota
// (cgroup v2 cpu.max or v1 cfs_quota_us / cfs_period_us), at least 1.
int UsableCores();

// Physical memory, capped by a cgroup memory limit (v2 memory.max or v1
// memory.limit_in_bytes).
size_t UsableMemoryBytes();

}  // namespace glint
