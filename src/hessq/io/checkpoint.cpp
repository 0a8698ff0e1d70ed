#include "hessq/io/checkpoint.hpp"

#include <cmath>
#include <filesystem>

#include "hessq/core/atomic_file.hpp"
#include "hessq/core/error.hpp"
#include "hessq/io/hessq_format.hpp"
#include "hessq/io/hf_config.hpp"
#include "hessq/io/llama2c.hpp"
#include "hessq/io/safetensors.hpp"
#include "hessq/io/tensor_store.hpp"
#include "hessq/model/rope_layout.hpp"

namespace fs = std::filesystem;

namespace hessq::io {


CheckpointKind checkpoint_kind(const std::string& path) {
  HESSQ_CHECK(fs::exists(path), "{}: no such file or directory", path);
  if (fs::is_directory(path)) {
    if (is_hessq_dir(path)) return CheckpointKind::Hessq;
    HESSQ_CHECK(fs::exists(fs::path(path) / "config.json"),
                "{}: a model directory needs a config.json (HuggingFace layout) or a hessq.json (.hessq)", path);
    return CheckpointKind::HfDirectory;
  }
  if (path.ends_with(".gguf")) return CheckpointKind::Gguf;
  HESSQ_CHECK(path.ends_with(".bin"),
              "{}: unrecognised checkpoint; expected a llama2.c .bin file, a .gguf file or a HuggingFace model directory",
              path);
  return CheckpointKind::Llama2c;
}

Checkpoint read_checkpoint(const std::string& path) {
  if (checkpoint_kind(path) == CheckpointKind::Hessq) return read_hessq_checkpoint(path);
  const TensorStore s = open_tensor_store(path);
  return Checkpoint{s.cfg, s.all_f32(), s.legacy_rope};
}

model::Model load_model(const std::string& path) {
  if (checkpoint_kind(path) == CheckpointKind::Hessq) return load_hessq_model(path);
  const TensorStore s = open_tensor_store(path);
  return model::build_model(s.cfg, s.all_f32(), path);
}

void write_hf_checkpoint(const std::string& dir, Checkpoint ck, DType dtype,
                         const std::map<std::string, std::string>& extra_files) {
  model::convert_rope_layout(ck.cfg, ck.tensors, model::RopeStyle::Half);
  model::build_model(ck.cfg, ck.tensors, dir);  // refuse to write an inconsistent checkpoint
  AtomicDir out(dir);
  write_file_atomic((fs::path(out.tmp_path()) / "config.json").string(), hf_config_json(ck.cfg));
  write_safetensors_f32((fs::path(out.tmp_path()) / "model.safetensors").string(), ck.tensors, dtype,
                        {{"format", "pt"}});
  if (ck.legacy_rope)
    write_safetensors_f32((fs::path(out.tmp_path()) / kLegacyRopeFile).string(), {{"freq_cis", *ck.legacy_rope}},
                          DType::F32);
  for (const auto& [name, contents] : extra_files)
    write_file_atomic((fs::path(out.tmp_path()) / name).string(), contents);
  out.commit();
}

void write_hf_checkpoint_streamed(const std::string& dir, const model::ModelConfig& cfg, DType dtype,
                                  const F32ChunkSource& fill,
                                  const std::map<std::string, std::string>& extra_files) {
  HESSQ_CHECK(cfg.rope_style == model::RopeStyle::Half,
              "{}: a streamed HF checkpoint needs its q/k rows in the HF (half) RoPE layout", dir);
  cfg.validate(dir);
  std::map<std::string, Shape> shapes;
  for (const auto& spec : model::checkpoint_layout(cfg)) shapes.emplace(spec.name, spec.shape);
  AtomicDir out(dir);
  write_file_atomic((fs::path(out.tmp_path()) / "config.json").string(), hf_config_json(cfg));
  auto checked = [&](const std::string& name, size_t begin, size_t end, float* values) {
    fill(name, begin, end, values);
    for (size_t i = 0; i < end - begin; ++i)
      HESSQ_CHECK(std::isfinite(values[i]), "{}: tensor '{}': element {} is {}", dir, name, begin + i, values[i]);
  };
  write_safetensors_f32_streamed((fs::path(out.tmp_path()) / "model.safetensors").string(), shapes, dtype, checked,
                                 {{"format", "pt"}});
  for (const auto& [name, contents] : extra_files)
    write_file_atomic((fs::path(out.tmp_path()) / name).string(), contents);
  out.commit();
}

void write_llama2c_checkpoint(const std::string& path, Checkpoint ck) {
  model::convert_rope_layout(ck.cfg, ck.tensors, model::RopeStyle::Interleaved);
  const Tensor* rope = ck.legacy_rope && ck.legacy_rope->shape == legacy_rope_shape(ck.cfg) ? &*ck.legacy_rope : nullptr;
  write_llama2c(path, ck.cfg, ck.tensors, rope);
}

std::string default_tokenizer_path(const std::string& model_path) {
  fs::path p(model_path);
  if (!fs::is_directory(p) && p.extension() == ".gguf") return model_path;
  const fs::path dir = fs::is_directory(p) ? p : p.parent_path();
  for (const char* name : {"tokenizer.json", "tokenizer.model", "tokenizer.bin", "tok512.bin"}) {
    if (fs::exists(dir / name)) return (dir / name).string();
  }
  // A .hessq made from a GGUF file: the vocabulary is in the source file's metadata.
  if (is_hessq_dir(model_path)) {
    const nlohmann::ordered_json manifest = read_hessq_manifest(model_path);
    const std::string source = manifest.contains("source") && manifest["source"].is_string() ? manifest["source"].get<std::string>() : "";
    if (fs::path(source).extension() == ".gguf" && fs::is_regular_file(source)) return source;
  }
  return {};
}

}  // namespace hessq::io
