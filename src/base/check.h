// CHECK aborts on a broken invariant (a bug, never bad input). DCHECK is the
// same in debug builds and free in release builds, for hot loops.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace glint::internal {
[[noreturn]] inline void CheckFailed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "glint: CHECK failed: %s at %s:%d\n", expr, file, line);
  std::abort();
}
}  // namespace glint::internal

#define CHECK(cond) \
  ((cond) ? (void)0 : ::glint::internal::CheckFailed(#cond, __FILE__, __LINE__))

#ifdef NDEBUG
#define DCHECK(cond) ((void)0)
#else
#define DCHECK(cond) CHECK(cond)
#endif
