#pragma once
// What each fuzz target does with one input, shared with tests/runtime/io_fuzz_regressions_test.cpp so the saved
// regression inputs replay exactly the fuzzed code paths. Each function returns true when the input was accepted
// and false when it was rejected with bp::InputError; any other outcome (crash, other exception) is a bug.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "harness/common/error.h"
#include "harness/runtime/io/canonical_layout.h"
#include "harness/runtime/io/dtype_info.h"
#include "harness/runtime/io/gguf_model.h"
#include "harness/runtime/io/gguf_reader.h"
#include "harness/runtime/io/hf_config.h"
#include "harness/runtime/io/safetensors_reader.h"

namespace bp::rt::fuzz {

// Dequantizes a tensor when small enough to be cheap, so the decoders read every byte the parser vouched for.
inline void touch(const TensorRef& t) {
  constexpr int64_t kMaxElements = int64_t{1} << 20;
  if (t.numel() > kMaxElements) return;
  std::vector<float> out(static_cast<size_t>(t.numel()));
  dequantize_tensor(t, out.data());
}

// GGUF container, metadata decoding and every tensor; then the whole GGUF -> ModelFile path.
inline bool gguf_input(const uint8_t* data, size_t size) {
  bool container_ok = false, model_ok = false;
  try {
    const GgufFile f = parse_gguf(data, size, "fuzz.gguf");
    for (const auto& kv : f.kvs) {
      (void)gguf_to_json(kv, 64).dump();  // must serialize: strings are sanitized to UTF-8
      try {
        if (kv.type == GgufType::ARRAY && kv.elem_type == GgufType::STRING)
          (void)gguf_string_array(f, kv);
        else if (kv.type == GgufType::ARRAY)
          (void)gguf_int_array(f, kv);
        else if (kv.type == GgufType::STRING)
          (void)gguf_string(f, kv);
        else
          (void)gguf_float(f, kv);
      } catch (const InputError&) {
      }
    }
    for (const auto& g : f.tensors) {
      TensorRef t;
      t.name = g.name;
      t.dtype = *dtype_from_ggml(g.ggml_type);
      for (auto it = g.ne.rbegin(); it != g.ne.rend(); ++it) t.shape.push_back(static_cast<int64_t>(*it));
      t.data = g.data;
      t.nbytes = static_cast<size_t>(g.nbytes);
      touch(t);
    }
    container_ok = true;
  } catch (const InputError&) {
  }
  try {
    auto mf = open_gguf_buffer(nullptr, data, size, "fuzz.gguf");
    (void)mf->info().metadata.dump();
    for (const auto& name : mf->tensor_names()) touch(mf->get(name));
    model_ok = true;
  } catch (const InputError&) {
  }
  return container_ok && model_ok;
}

// safetensors header and every tensor it accepts.
inline bool safetensors_input(const uint8_t* data, size_t size) {
  try {
    const SafetensorsFile f = parse_safetensors(data, size, "fuzz.safetensors");
    for (const auto& st : f.tensors) {
      bool empty = false;
      for (int64_t d : st.shape) empty |= d == 0;
      if (empty) continue;
      TensorRef t;
      t.name = st.name;
      t.dtype = st.dtype;
      t.shape = st.shape.empty() ? std::vector<int64_t>{1} : st.shape;  // a scalar holds one element
      t.data = st.data;
      t.nbytes = static_cast<size_t>(st.end - st.begin);
      touch(t);
    }
    return true;
  } catch (const InputError&) {
    return false;
  }
}

// Hugging Face config.json interpretation and the config checks. Non-JSON input is rejected before our code runs.
inline bool hf_config_input(const uint8_t* data, size_t size) {
  const auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return false;
  try {
    const ModelConfig c = hf_model_config(j, "config.json");
    validate_config(c, "config.json");
    (void)canonical_names(c);
    return true;
  } catch (const InputError&) {
    return false;
  }
}

}  // namespace bp::rt::fuzz
