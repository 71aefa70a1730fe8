// libFuzzer target for the server's network path: bytes on a real TCP
// connection to an in-process server, through Beast's HTTP parser, the
// router, the WebSocket upgrade and frames, and the WebSocket message
// handler (tests/fuzz/wire_exercise.h says how an input is read). After
// every input the server must release the connection and answer GET /health.
//
// Linked against glint_server (CMakeLists.txt maps "wire" to it).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "wire_exercise.h"

// Defaults put before the command line's flags (which win): the server's
// threads allocate and free across inputs, so libFuzzer's per-input
// malloc/free balance would take every input for a leak and rerun it; and
// an input takes about a second at most, so 30 s is a hang.
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  static std::vector<char*> args;
  static char detect_leaks[] = "-detect_leaks=0";
  static char timeout[] = "-timeout=30";
  args.assign(*argv, *argv + 1);
  args.push_back(detect_leaks);
  args.push_back(timeout);
  args.insert(args.end(), *argv + 1, *argv + *argc);
  args.push_back(nullptr);
  *argc = static_cast<int>(args.size()) - 1;
  *argv = args.data();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  glint::server::wire::ExerciseWire(
      std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
