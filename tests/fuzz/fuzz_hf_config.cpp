// libFuzzer target: Hugging Face config.json interpretation and the config checks.
// Any input must end in success or bp::InputError (tests/fuzz/fuzz_entry.h).
#include "tests/fuzz/fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)bp::rt::fuzz::hf_config_input(data, size);
  return 0;
}
