#include "hessq/export/hf_export.hpp"

#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>

#include "hessq/core/atomic_file.hpp"
#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "hessq/export/export_dir.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/io/hessq_linear.hpp"
#include "hessq/io/hf_config.hpp"
#include "hessq/io/safetensors.hpp"
#include "hessq/model/model.hpp"
#include "hessq/model/rope_layout.hpp"

namespace fs = std::filesystem;

namespace hessq::exporting {

using nlohmann::ordered_json;

io::DType hf_float_dtype(const std::string& type, const std::string& target) {
  if (type.empty() || type == "f16") return io::DType::F16;
  if (type == "bf16") return io::DType::BF16;
  if (type == "f32") return io::DType::F32;
  throw Error(fmt::format("--to {}: --type is the storage of the unquantized tensors: f16 (default), bf16 or f32, "
                          "got '{}'",
                          target, type));
}

namespace {

const char* torch_dtype_name(io::DType t) {
  return t == io::DType::F16 ? "float16" : t == io::DType::BF16 ? "bfloat16" : "float32";
}

// An fp32 tensor in the storage type; F16 overflow (|x| > 65504) is an error naming the tensor.
OwnedTensor float_tensor(const std::string& name, const Tensor& t, io::DType dtype) {
  const float* p = t.ptr();
  const size_t n = static_cast<size_t>(t.numel());
  if (dtype == io::DType::F32) return owned_tensor(name, dtype, t.shape, std::vector<float>(p, p + n));
  std::vector<uint16_t> h(n);
  for (size_t i = 0; i < n; ++i) {
    h[i] = dtype == io::DType::F16 ? f32_to_f16(p[i]) : f32_to_bf16(p[i]);
    HESSQ_CHECK(dtype != io::DType::F16 || std::isfinite(f16_to_f32(h[i])),
                "{}: element {} = {} overflows F16; export with --type bf16 or f32", name, i, p[i]);
  }
  return owned_tensor(name, dtype, t.shape, h);
}

// The weight of a block linear, if the weight-only HF formats can express the linear (see the header).
const model::QuantizedLinear& weight_only(const model::Linear& lin, const std::string& name, const HfQuantTarget& t) {
  const std::string& target = t.name;
  const io::StoredLinear s = io::split_stored_linear(lin, name);
  auto refuse = [&](const std::string& what) {
    throw Error(fmt::format("{}: {} has no slot in the {} format (weight-only quantized linears); nothing written",
                            name, what, target));
  };
  if (!s.residual) refuse("an unquantized (float) weight");
  if (s.hadamard) refuse("an online Hadamard rotation of the input (QuaRot)");
  if (s.act) {
    if (s.act->act_spec())
      refuse(fmt::format("an activation quantizer ({}, applied per token at run time{})", s.act->act_spec()->name(),
                         t.act_note.empty() ? "" : "; " + t.act_note));
    if (s.act->lowrank()) refuse(fmt::format("a low-rank branch (rank {})", s.act->rank()));
    if (s.act->smooth()) refuse("a smoothing vector (the input divided by s at run time)");
  }
  return *s.residual;
}

// The tokenizer files an HF loader reads, copied from beside the model (or opt.tokenizer).
void copy_tokenizer(const HfExportOptions& opt, const ExportDir& dir) {
  const std::string tok = opt.tokenizer.empty() ? io::default_tokenizer_path(opt.model) : opt.tokenizer;
  if (tok.empty()) {
    spdlog::warn("{}: no tokenizer beside the model; the export has none (pass --tokenizer)", opt.model);
    return;
  }
  fs::path p(tok);
  if (fs::is_directory(p)) p /= "tokenizer.json";
  const std::string ext = p.extension().string();
  if (ext != ".json" && ext != ".model") {
    spdlog::warn("{}: a llama2.c tokenizer has no HF form; the export has no tokenizer (transformers cannot load one "
                 "for it)",
                 tok);
    return;
  }
  HESSQ_CHECK(fs::is_regular_file(p), "{}: tokenizer not found", p.string());
  fs::copy_file(p, dir.file(ext == ".json" ? "tokenizer.json" : "tokenizer.model"));
  for (const char* side : {"tokenizer_config.json", "special_tokens_map.json", "generation_config.json"})
    if (fs::is_regular_file(p.parent_path() / side)) fs::copy_file(p.parent_path() / side, dir.file(side));
}

}  // namespace

void write_hf_quantized(const HfExportOptions& opt, const HfQuantTarget& target) {
  HESSQ_CHECK(io::checkpoint_kind(opt.model) == io::CheckpointKind::Hessq,
              "{}: --to {} exports a quantized .hessq model; this is a float checkpoint (quantize it first: hessq "
              "quantize --model {} ... --out M.hessq)",
              opt.model, target.name, opt.model);
  const model::Model m = io::load_model(opt.model);
  model::ModelConfig cfg = m.cfg;
  HESSQ_CHECK(!m.tok_emb_q,
              "{}: model.embed_tokens is quantized (quantize --head-format), which the {} format cannot express; "
              "quantize without --head-format to export",
              opt.model, target.name);
  const auto* head = dynamic_cast<const model::DenseLinear*>(m.lm_head.get());
  HESSQ_CHECK(cfg.tie_embeddings || head != nullptr,
              "{}: lm_head is quantized (quantize --head-format), which the {} format cannot express; quantize without "
              "--head-format to export",
              opt.model, target.name);

  // Every block linear checked before anything is written.
  const std::vector<int64_t> q_order =
      model::rope_row_order(cfg.n_heads, cfg.head_dim, cfg.rope_style, model::RopeStyle::Half);
  const std::vector<int64_t> k_order =
      model::rope_row_order(cfg.n_kv_heads, cfg.head_dim, cfg.rope_style, model::RopeStyle::Half);
  const bool permute = cfg.rope_style != model::RopeStyle::Half;
  std::vector<HfLinear> linears;
  TensorMap floats;  // every unquantized tensor, HF names, in the .hessq's RoPE layout
  for (int l = 0; l < cfg.n_layers; ++l) {
    const model::LayerWeights& L = m.layers[l];
    floats[model::layer_tensor_name(l, "input_layernorm.weight")] = L.attn_norm;
    floats[model::layer_tensor_name(l, "post_attention_layernorm.weight")] = L.ffn_norm;
    if (cfg.qk_norm) {
      floats[model::layer_tensor_name(l, "self_attn.q_norm.weight")] = L.q_norm;
      floats[model::layer_tensor_name(l, "self_attn.k_norm.weight")] = L.k_norm;
    }
    for (model::Proj p : model::kAllProjs) {
      const bool attn = p == model::Proj::Q || p == model::Proj::K || p == model::Proj::V || p == model::Proj::O;
      HfLinear h{l, p, model::layer_tensor_name(l, std::string(attn ? "self_attn." : "mlp.") + model::proj_name(p)),
                 nullptr, {}};
      h.weight = &weight_only(L.linear(p), h.name, target);
      target.check(*h.weight, h.name);
      if (permute && p == model::Proj::Q) h.row_order = q_order;
      if (permute && p == model::Proj::K) h.row_order = k_order;
      if (h.weight->bias()) floats[h.name + ".bias"] = *h.weight->bias();
      linears.push_back(std::move(h));
    }
  }
  floats["model.embed_tokens.weight"] = m.tok_emb;
  floats["model.norm.weight"] = m.final_norm;
  if (!cfg.tie_embeddings) floats["lm_head.weight"] = head->weight();
  model::convert_rope_layout(cfg, floats, model::RopeStyle::Half);  // biases and q/k norms; cfg becomes Half

  ordered_json config = ordered_json::parse(io::hf_config_json(cfg));
  config["torch_dtype"] = torch_dtype_name(opt.dtype);
  config["quantization_config"] = target.config(linears);

  ExportDir dir(opt.out, opt.force, {{"target", target.name}, {"source", opt.model}});
  const int n_shards = cfg.n_layers + 1;
  ordered_json weight_map = ordered_json::object();
  size_t total_size = 0;
  auto write_shard = [&](int index, std::vector<OwnedTensor> tensors) {
    const std::string shard = fmt::format("model-{:05d}-of-{:05d}.safetensors", index + 1, n_shards);
    std::vector<io::SafetensorsEntry> entries;
    for (const OwnedTensor& t : tensors) {
      entries.push_back({t.name, t.dtype, t.shape, t.bytes.data(), t.bytes.size()});
      total_size += t.bytes.size();
      weight_map[t.name] = shard;
    }
    io::write_safetensors(dir.file(shard), std::move(entries), {{"format", "pt"}});
  };
  auto take_floats = [&](const std::string& prefix, std::vector<OwnedTensor>& out) {
    for (auto it = floats.begin(); it != floats.end();) {
      if (it->first.starts_with(prefix)) {
        out.push_back(float_tensor(it->first, it->second, opt.dtype));
        it = floats.erase(it);
      } else {
        ++it;
      }
    }
  };
  for (int l = 0; l < cfg.n_layers; ++l) {
    std::vector<OwnedTensor> tensors;
    take_floats(model::layer_tensor_name(l, ""), tensors);
    for (const HfLinear& h : linears)
      if (h.layer == l)
        for (OwnedTensor& t : target.tensors(h)) tensors.push_back(std::move(t));
    write_shard(l, std::move(tensors));
  }
  std::vector<OwnedTensor> rest;
  take_floats("", rest);
  write_shard(cfg.n_layers, std::move(rest));

  // Sorted keys, as transformers' save_pretrained writes the index.
  nlohmann::json sorted_map = weight_map;
  const nlohmann::json index = {{"metadata", {{"total_size", total_size}}}, {"weight_map", sorted_map}};
  write_file_atomic(dir.file("model.safetensors.index.json"), index.dump(2) + "\n");
  write_file_atomic(dir.file("config.json"), config.dump(2) + "\n");
  copy_tokenizer(opt, dir);
  dir.commit();
}

}  // namespace hessq::exporting
