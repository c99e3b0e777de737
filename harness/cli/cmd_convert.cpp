// `bench convert IN --to f16|f32 OUT.gguf`: writes an unquantized GGUF that llama.cpp can read, from a GGUF of any
// supported type or a Hugging Face checkpoint directory (harness/runtime/io/convert.h does the work).
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "harness/cli/command.h"
#include "harness/common/error.h"
#include "harness/core/model_registry.h"
#include "harness/runtime/io/convert.h"

namespace bp::cli {
namespace {

const CommandSpec kSpec{
    .name = "convert",
    .summary = "dequantize a model to an f32/f16 GGUF file",
    .description =
        "Dequantizes a model checkpoint into an unquantized GGUF file. GGUF input keeps every metadata key\n"
        "(general.file_type is updated); Hugging Face input gets llama.cpp's keys from config.json and tokenizer.json.\n"
        "attn_q/attn_k rows are stored in llama.cpp's RoPE order for 'llama' files.",
    .positionals = {{"IN", "a registry model name, a GGUF file (F32/F16/BF16/Q8_0/Q4_0/Q4_1/Q5_0/Q5_1/Q4_K/Q6_K tensors) "
                           "or a Hugging Face directory (config.json + model.safetensors or its index)"},
                    {"OUT.gguf", "output path (written to OUT.gguf.tmp first, then renamed)"}},
    .options = {{.name = "--to", .value_name = "f16|f32",
                 .help = "storage type of the 2-D weights (1-D norms and biases stay f32, as llama.cpp expects)",
                 .required = true}},
};

int cmd_convert(const ParsedArgs& p) {
  const auto to = p.get("--to");  // required: the parser has checked it is there
  rt::DType type;
  if (*to == "f32" || *to == "F32")
    type = rt::DType::F32;
  else if (*to == "f16" || *to == "F16")
    type = rt::DType::F16;
  else
    throw InputError("", "--to", "expected f16 or f32, got '" + *to + "'");

  std::string in = p.positional[0];
  if (const ModelEntry* e = find_model_entry(in)) in = model_cache_path(*e);
  const std::string& out = p.positional[1];
  const auto t0 = std::chrono::steady_clock::now();
  const rt::ConvertStats s = rt::convert_to_gguf(in, out, type);
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("wrote %s: %d tensors, %llu bytes (%s) in %.1f s\n", out.c_str(), s.tensors,
              static_cast<unsigned long long>(s.bytes_written), to->c_str(), sec);
  return 0;
}

}  // namespace

BENCH_REGISTER_COMMAND(convert, kSpec, cmd_convert);

}  // namespace bp::cli
