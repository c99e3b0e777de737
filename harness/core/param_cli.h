#pragma once
// Command-line parameter assignments ("bits=4", "ratio=0.5", "symmetric=true") typed by a ParamSchema, so that
// `bench generate --param k=v` and friends validate exactly like suite files do.
#include <string>
#include <vector>

#include "harness/common/param_schema.h"

namespace bp {

// Parses "name=value" strings into a JSON object whose values have the types the schema declares. Unknown names and
// unparsable values throw InputError(source, "/name", ...). The result still goes through canonicalize().
json parse_param_assignments(const ParamSchema& schema, const std::vector<std::string>& assignments,
                             const std::string& source);

}  // namespace bp
