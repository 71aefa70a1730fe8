#include "server/service.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace glint::server {
namespace {

// A stored response can be continued by whoever knows its id: ids must be
// unique and must not follow from one another.
TEST(ServerStateIds, UniqueAndNotDerivableFromEachOther) {
  ServerState state(ServerOptions{}, {});
  std::set<std::string> seen;
  std::string previous_random;
  int same_bytes = 0;
  for (int i = 0; i < 5000; ++i) {
    const std::string id = state.NewId("resp");
    ASSERT_EQ(id.rfind("resp_", 0), 0u) << id;
    ASSERT_EQ(id.size(), 5u + 24u + 8u) << id;
    ASSERT_TRUE(seen.insert(id).second) << "duplicate " << id;
    const std::string random = id.substr(5, 24);
    for (size_t b = 0; b + 1 < random.size() && !previous_random.empty(); b += 2) {
      same_bytes += random.compare(b, 2, previous_random, b, 2) == 0;
    }
    previous_random = random;
  }
  // Random bytes agree with the previous id's about 1 time in 256.
  EXPECT_LT(same_bytes, 5000 * 12 / 64) << same_bytes;
}

}  // namespace
}  // namespace glint::server
