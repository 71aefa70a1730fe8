// libFuzzer target for the server's parsers: request bodies of every
// endpoint, the prompt rendering they feed, and the model-output parser.
#include <cstddef>
#include <cstdint>

#include "server_exercise.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  glint::server::ExerciseProtocol(
      std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
