// libFuzzer target: the safetensors header parser and dequantization of every tensor it accepts.
// Any input must end in success or bp::InputError (tests/fuzz/fuzz_entry.h).
#include "tests/fuzz/fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)bp::rt::fuzz::safetensors_input(data, size);
  return 0;
}
