// `bench convert IN --to f16|f32 OUT.gguf`: writes an unquantized GGUF that llama.cpp can read, from a GGUF of any
// supported type or a Hugging Face checkpoint directory (harness/runtime/io/convert.h does the work).
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "harness/cli/args.h"
#include "harness/cli/command.h"
#include "harness/common/error.h"
#include "harness/core/model_registry.h"
#include "harness/runtime/io/convert.h"

namespace bp::cli {
namespace {

constexpr const char* kUsage =
    "usage: bench convert IN --to f16|f32 OUT.gguf\n"
    "\n"
    "Dequantizes a model checkpoint into an unquantized GGUF file.\n"
    "  IN          a registry model name, a GGUF file (F32/F16/BF16/Q8_0/Q4_0/Q4_1/Q5_0/Q5_1/Q4_K/Q6_K tensors) or a\n"
    "              Hugging Face directory (config.json + model.safetensors or model.safetensors.index.json)\n"
    "  --to TYPE   f32 or f16: storage type of the 2-D weights (1-D norms and biases stay f32, as llama.cpp expects)\n"
    "  OUT.gguf    output path (written to OUT.gguf.tmp first, then renamed)\n"
    "\n"
    "GGUF input keeps every metadata key (general.file_type is updated); Hugging Face input gets llama.cpp's keys\n"
    "from config.json and tokenizer.json. attn_q/attn_k rows are stored in llama.cpp's RoPE order for 'llama' files.\n";

int cmd_convert(const std::vector<std::string>& args) {
  const ParsedArgs p = parse_args("convert", args, {{"--to", true}}, 2, 2);
  if (p.help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const auto to = p.get("--to");
  if (!to) throw InputError("", "--to", "expected --to f16 or --to f32, got no --to");
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

BENCH_REGISTER_COMMAND(convert, "convert", "dequantize a model to an f32/f16 GGUF file", cmd_convert);

}  // namespace bp::cli
