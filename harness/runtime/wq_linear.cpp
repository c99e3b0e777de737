#include "harness/runtime/wq_linear.h"

namespace bp::rt {

void add_wq_storage_params(ParamSchema& s) {
  s.integer_of("bits", 4, {2, 3, 4, 8}, "bits per weight code")
      .integer_of("group", 64, {0, 32, 64, 128},
                  "G: inputs per group with their own scale; 0 = one group per output channel (a shorter last group "
                  "when G does not divide the row)")
      .boolean("symmetric", false,
               "symmetric: levels ±(2^(b-1)-1) around 0, one FP16 scale per group; asymmetric: levels 0..2^b-1 "
               "between the group's min and max (FP16 scale and minimum)")
      .boolean("include_output", false,
               "also quantize the output projection (LM head; tied to the embedding on SmolLM2): off by default, as "
               "weight-quantization papers keep it in full precision");
}

kern::WqFormat wq_format_of(const Params& p) {
  kern::WqFormat f;
  f.bits = (int)p.get_int("bits");
  f.group = (int)p.get_int("group");
  f.symmetric = p.get_bool("symmetric");
  return f;
}

std::string WqLinear::format() const {
  const kern::WqFormat& f = w_.format();
  return "int" + std::to_string(f.bits) + (f.group == 0 ? "-row" : "-g" + std::to_string(f.group)) +
         (f.symmetric ? "-sym" : "-asym");
}

}  // namespace bp::rt
