#include "hessq/io/tensor_store.hpp"

#include <filesystem>

#include "hessq/core/error.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/io/gguf_checkpoint.hpp"
#include "hessq/io/hf_config.hpp"
#include "hessq/io/llama2c.hpp"
#include "hessq/io/safetensors.hpp"
#include "hessq/model/layout.hpp"

namespace fs = std::filesystem;

namespace hessq::io {

const StoredTensor* TensorStore::find(const std::string& name) const {
  auto it = tensors.find(name);
  return it == tensors.end() ? nullptr : &it->second;
}

const StoredTensor& TensorStore::at(const std::string& name) const {
  const StoredTensor* t = find(name);
  HESSQ_CHECK(t != nullptr, "{}: missing tensor {}", source, name);
  return *t;
}

model::LayerWeights TensorStore::layer(int l) const {
  HESSQ_CHECK(l >= 0 && l < cfg.n_layers, "{}: block {} out of range [0, {})", source, l, cfg.n_layers);
  return model::build_layer(cfg, l, [&](const std::string& name) { return at(name).to_f32(); });
}

void TensorStore::release_layer(int l) const {
  const std::string prefix = model::layer_tensor_name(l, "");
  for (auto it = tensors.lower_bound(prefix); it != tensors.end() && it->first.starts_with(prefix); ++it)
    it->second.release();
}

void TensorStore::embed(const int* tokens, int n, float* x) const {
  const StoredTensor& E = at("model.embed_tokens.weight");
  for (int t = 0; t < n; ++t) {
    HESSQ_CHECK(tokens[t] >= 0 && tokens[t] < cfg.vocab_size, "token id {} out of range [0, {})", tokens[t],
                cfg.vocab_size);
    E.rows_f32(tokens[t], 1, x + static_cast<size_t>(t) * cfg.dim);
  }
}

TensorMap TensorStore::all_f32() const {
  TensorMap out;
  for (const auto& [name, t] : tensors) out.emplace(name, t.to_f32(false));
  return out;
}

int64_t TensorStore::stored_bytes() const {
  int64_t b = 0;
  for (const auto& kv : tensors) b += static_cast<int64_t>(kv.second.nbytes);
  return b;
}

TensorStore open_tensor_store(const std::string& path) {
  const CheckpointKind kind = checkpoint_kind(path);
  HESSQ_CHECK(kind != CheckpointKind::Hessq, "{}: a quantized .hessq model, not a float checkpoint", path);
  TensorStore s;
  s.source = path;
  if (kind == CheckpointKind::Llama2c) {
    Llama2cCheckpoint l2 = read_llama2c(path);
    s.cfg = l2.cfg;
    s.legacy_rope = l2.legacy_rope;
    for (const auto& [name, t] : l2.tensors) {
      s.tensors.emplace(name, stored_view(name, t, path));
    }
  } else if (kind == CheckpointKind::Gguf) {
    const GgufFile g = GgufFile::open(path);
    s.cfg = gguf_model_config(g);
    s.tensors = gguf_stored_tensors(g);
  } else {
    s.cfg = read_hf_config(path);
    for (const auto& file : open_safetensors(path))
      for (const SafetensorsTensorInfo& info : file->tensors()) {
        HESSQ_CHECK(!s.tensors.count(info.name), "{}: tensor {} is stored twice", path, info.name);
        s.tensors.emplace(info.name, file->stored(info.name));
      }
    const fs::path rope = fs::path(path) / kLegacyRopeFile;
    if (fs::exists(rope)) s.legacy_rope = SafetensorsFile::open(rope.string())->to_f32("freq_cis").clone();
  }
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : s.tensors) shapes.emplace(name, t.shape);
  model::check_layout(s.cfg, shapes, path);
  return s;
}

TensorStore tensor_store_of(const model::Model& m) {
  TensorStore s;
  s.cfg = m.cfg;
  s.source = m.source.empty() ? "in-memory model" : m.source;
  for (const auto& [name, t] : model::model_tensors(m)) s.tensors.emplace(name, stored_f32(name, t, s.source));
  return s;
}

}  // namespace hessq::io
