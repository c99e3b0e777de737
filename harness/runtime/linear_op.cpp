#include "harness/runtime/linear_op.h"

namespace bp::rt {

const char* linear_kind_name(LinearKind k) {
  switch (k) {
    case LinearKind::Q: return "attn_q";
    case LinearKind::K: return "attn_k";
    case LinearKind::V: return "attn_v";
    case LinearKind::O: return "attn_output";
    case LinearKind::Gate: return "ffn_gate";
    case LinearKind::Up: return "ffn_up";
    case LinearKind::Down: return "ffn_down";
    case LinearKind::Output: return "output";
  }
  return "?";
}

std::string LinearSite::name() const {
  if (kind == LinearKind::Output) return "output";
  return "blk." + std::to_string(layer) + "." + linear_kind_name(kind);
}

const CalibrationData::Site* CalibrationData::find(const std::string& name) const {
  for (const auto& [k, v] : sites)
    if (k == name) return &v;
  return nullptr;
}

}  // namespace bp::rt
