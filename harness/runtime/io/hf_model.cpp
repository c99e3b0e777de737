#include "harness/runtime/io/hf_model.h"

#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <set>

#include "harness/common/error.h"
#include "harness/runtime/io/canonical_layout.h"
#include "harness/runtime/io/hf_config.h"
#include "harness/runtime/io/hf_tokenizer.h"
#include "harness/runtime/io/json_file.h"
#include "harness/runtime/io/loaded_model_file.h"
#include "harness/runtime/io/mapped_file.h"
#include "harness/runtime/io/safetensors_reader.h"
#include "harness/runtime/io/sha256.h"

namespace bp::rt {

namespace {
namespace fs = std::filesystem;

// Shard file names from the index, sorted (HF names them model-00001-of-0000N.safetensors, so this is their
// natural order), with the tensor -> shard map for cross-checking.
struct ShardPlan {
  std::vector<std::string> shards;
  std::map<std::string, std::string> tensor_shard;  // empty for a single model.safetensors
  std::string index_path;
};

ShardPlan plan_shards(const std::string& dir) {
  ShardPlan p;
  const std::string single = (fs::path(dir) / "model.safetensors").string();
  const std::string index = (fs::path(dir) / "model.safetensors.index.json").string();
  if (fs::exists(index)) {
    p.index_path = index;
    const nlohmann::json j = read_json_file(index);
    auto wm = j.is_object() ? j.find("weight_map") : j.end();
    if (!j.is_object() || wm == j.end() || !wm->is_object() || wm->empty())
      throw InputError(index, "/weight_map", "expected a non-empty object of tensor name -> shard file");
    std::set<std::string> shards;
    for (const auto& [name, shard] : wm->items()) {
      const std::string where = json_pointer_append("/weight_map", name);
      if (!shard.is_string()) throw InputError(index, where, "expected a shard file name");
      const std::string s = shard.get<std::string>();
      // Shards must be plain names inside the checkpoint directory.
      if (s.empty() || s.find('/') != std::string::npos || s == "." || s == "..")
        throw InputError(index, where, fmt::format("expected a file name in the checkpoint directory, got '{}'", s));
      p.tensor_shard[name] = s;
      shards.insert(s);
    }
    p.shards.assign(shards.begin(), shards.end());
  } else if (fs::exists(single)) {
    p.shards.push_back("model.safetensors");
  } else {
    throw InputError(dir, "",
                     "expected model.safetensors or model.safetensors.index.json in the directory, got neither");
  }
  return p;
}

}  // namespace

std::unique_ptr<ModelFile> open_hf_dir(const std::string& dir) {
  const std::string cfg_path = (fs::path(dir) / "config.json").string();
  if (!fs::exists(cfg_path))
    throw InputError(dir, "", "expected a Hugging Face checkpoint directory with config.json, got none");
  const nlohmann::json cfg_json = read_json_file(cfg_path);

  auto mf = std::make_unique<LoadedModelFile>();
  mf->config_ = hf_model_config(cfg_json, cfg_path);
  validate_config(mf->config_, cfg_path);
  const bool tied = mf->config_.tied_embeddings;

  const ShardPlan plan = plan_shards(dir);
  std::vector<ByteRange> hashed;
  std::set<std::string> seen;
  for (const auto& shard : plan.shards) {
    const std::string path = (fs::path(dir) / shard).string();
    if (!fs::exists(path))
      throw InputError(plan.index_path, "/weight_map", fmt::format("expected shard '{}' to exist, got none", shard));
    auto map = MappedFile::open(path);
    const SafetensorsFile sf = parse_safetensors(map->data(), map->size(), path);
    for (const auto& st : sf.tensors) {
      const std::string where = fmt::format("tensor '{}'", st.name);
      if (!plan.index_path.empty()) {
        auto it = plan.tensor_shard.find(st.name);
        if (it == plan.tensor_shard.end() || it->second != shard)
          throw InputError(path, where,
                           fmt::format("expected the index ({}) to list this tensor in '{}', got {}", plan.index_path,
                                       shard, it == plan.tensor_shard.end() ? "no entry" : "'" + it->second + "'"));
      }
      if (!seen.insert(st.name).second)
        throw InputError(path, where, "expected each tensor in one shard only, got a duplicate");
      if (hf_ignorable(st.name, tied)) continue;
      TensorRef t;
      t.name = hf_canonical_name(st.name);
      if (t.name.empty())
        throw InputError(path, where,
                         fmt::format("expected only tensors of a Llama-family ({}) model, got an unknown tensor",
                                     mf->config_.architecture));
      t.source_name = st.name;
      t.dtype = st.dtype;
      t.shape = st.shape;
      t.data = st.data;
      t.nbytes = static_cast<size_t>(st.end - st.begin);
      mf->info_.dtype_counts[dtype_name(t.dtype)] += 1;
      mf->add(std::move(t));
    }
    hashed.push_back({map->data(), map->size()});
    mf->owners_.push_back(std::move(map));
  }
  for (const auto& [name, shard] : plan.tensor_shard)
    if (!seen.count(name))
      throw InputError(plan.index_path, json_pointer_append("/weight_map", name),
                       fmt::format("expected this tensor in shard '{}', got none", shard));
  validate_layout(*mf, dir);

  mf->tokenizer_ = hf_tokenizer(dir, cfg_json, mf->config_.vocab_size);
  ModelFileInfo& info = mf->info_;
  info.path = dir;
  info.format = "safetensors";
  info.sha256 = sha256_hex(hashed);
  info.metadata = cfg_json;
  return mf;
}

}  // namespace bp::rt
