// libFuzzer target: GGUF container parsing, metadata decoding, dequantization of every tensor, and the full
// GGUF -> ModelFile path.
// Any input must end in success or bp::InputError (tests/fuzz/fuzz_entry.h).
#include "tests/fuzz/fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)bp::rt::fuzz::gguf_input(data, size);
  return 0;
}
