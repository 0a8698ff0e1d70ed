#include "hessq/io/checkpoint.hpp"

#include <filesystem>

#include "hessq/core/atomic_file.hpp"
#include "hessq/core/error.hpp"
#include "hessq/io/hessq_format.hpp"
#include "hessq/io/hf_config.hpp"
#include "hessq/io/llama2c.hpp"
#include "hessq/io/safetensors.hpp"
#include "hessq/model/rope_layout.hpp"

namespace fs = std::filesystem;

namespace hessq::io {

static constexpr const char* kLegacyRopeFile = "llama2c_rope.safetensors";

CheckpointKind checkpoint_kind(const std::string& path) {
  HESSQ_CHECK(fs::exists(path), "{}: no such file or directory", path);
  if (fs::is_directory(path)) {
    if (is_hessq_dir(path)) return CheckpointKind::Hessq;
    HESSQ_CHECK(fs::exists(fs::path(path) / "config.json"),
                "{}: a model directory needs a config.json (HuggingFace layout) or a hessq.json (.hessq)", path);
    return CheckpointKind::HfDirectory;
  }
  HESSQ_CHECK(path.ends_with(".bin"),
              "{}: unrecognised checkpoint; expected a llama2.c .bin file or a HuggingFace model directory", path);
  return CheckpointKind::Llama2c;
}

Checkpoint read_checkpoint(const std::string& path) {
  const CheckpointKind kind = checkpoint_kind(path);
  if (kind == CheckpointKind::Hessq) return read_hessq_checkpoint(path);
  if (kind == CheckpointKind::Llama2c) {
    Llama2cCheckpoint l2 = read_llama2c(path);
    return Checkpoint{l2.cfg, std::move(l2.tensors), l2.legacy_rope};
  }
  Checkpoint ck;
  ck.cfg = read_hf_config(path);
  ck.tensors = read_safetensors(path);
  const fs::path rope = fs::path(path) / kLegacyRopeFile;
  if (fs::exists(rope)) ck.legacy_rope = SafetensorsFile::open(rope.string())->to_f32("freq_cis");
  return ck;
}

model::Model load_model(const std::string& path) {
  if (checkpoint_kind(path) == CheckpointKind::Hessq) return load_hessq_model(path);
  Checkpoint ck = read_checkpoint(path);
  return model::build_model(ck.cfg, std::move(ck.tensors), path);
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

void write_llama2c_checkpoint(const std::string& path, Checkpoint ck) {
  model::convert_rope_layout(ck.cfg, ck.tensors, model::RopeStyle::Interleaved);
  const Tensor* rope = ck.legacy_rope && ck.legacy_rope->shape == legacy_rope_shape(ck.cfg) ? &*ck.legacy_rope : nullptr;
  write_llama2c(path, ck.cfg, ck.tensors, rope);
}

std::string default_tokenizer_path(const std::string& model_path) {
  fs::path p(model_path);
  const fs::path dir = fs::is_directory(p) ? p : p.parent_path();
  for (const char* name : {"tokenizer.json", "tokenizer.model", "tokenizer.bin", "tok512.bin"}) {
    if (fs::exists(dir / name)) return (dir / name).string();
  }
  return {};
}

}  // namespace hessq::io
