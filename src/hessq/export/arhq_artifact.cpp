#include "hessq/export/arhq_artifact.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <list>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "hessq/core/atomic_file.hpp"
#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "hessq/export/arhq_docs.hpp"
#include "hessq/export/arhq_residual.hpp"
#include "hessq/export/export_dir.hpp"
#include "hessq/io/hessq_format.hpp"
#include "hessq/io/hessq_linear.hpp"
#include "hessq/io/safetensors.hpp"
#include "hessq/model/layout.hpp"
#include "hessq/model/rope_layout.hpp"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace hessq::exporting {

namespace {

constexpr const char* kFormat = "arhq_nvfp4_lora";
constexpr int kFormatVersion = 1;
// The passes whose result the artifact carries: it replaces its base model's projections and nothing
// else, so a pass that changes the embedding, the norms or the head (or rotates online) cannot go.
const std::set<std::string> kCarriedPasses = {"smoothquant", "osaq", "svdquant", "arhq", "arhq-h", "rtn", "gptq"};
// What the reference copies from its base model directory when present (export_model.py).
const char* const kMetadataFiles[] = {"config.json",  "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                                      "vocab.json",   "merges.txt",             "LICENSE"};

// One exported projection, checked.
struct Projection {
  int layer = 0;
  model::Proj proj = model::Proj::Q;
  std::string name;  // "model.layers.3.self_attn.q_proj"
  const model::ActQuantLinear* act = nullptr;
  const model::QuantizedLinear* residual = nullptr;
  std::vector<int64_t> row_order;  // empty: rows as stored
};

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  HESSQ_CHECK(f.good(), "{}: cannot read", path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// "arhq" or "svdquant" from the recipe in hessq.json, after checking every pass is one the artifact
// can carry and nothing outside the block linears was quantized.
std::string artifact_method(const nlohmann::json& hj, const std::string& dir) {
  const auto recipe = hj.find("recipe");
  HESSQ_CHECK(recipe != hj.end() && recipe->is_object() && recipe->contains("passes"),
              "{}: hessq.json records no recipe, so ARHQ cannot be told from SVDQuant; the arhq-artifact target "
              "exports models written by `hessq quantize`",
              dir);
  std::string method;
  for (const auto& pass : recipe->at("passes")) {
    for (const auto& [name, params] : pass.items()) {
      (void)params;
      HESSQ_CHECK(kCarriedPasses.count(name),
                  "{}: the recipe's pass '{}' changes more than the block projections (embedding, norms or head, or an "
                  "online rotation), and the ARHQ artifact carries only the projections of an unchanged base model; "
                  "quantize without it to export",
                  dir, name);
      if (name == "arhq" || name == "arhq-h") method = "arhq";
      if (name == "svdquant") method = "svdquant";
    }
  }
  HESSQ_CHECK(!method.empty(),
              "{}: recipe '{}' has no low-rank branch; the ARHQ artifact holds ARHQ or SVDQuant models (quantize "
              "--method arhq|arhq-h|svdquant with an NVFP4 --format)",
              dir, recipe->value("method", std::string("?")));
  const auto emb = hj.find("embeddings");
  HESSQ_CHECK(emb == hj.end() || emb->empty(),
              "{}: the embedding or head is stored quantized ({}), which the ARHQ artifact cannot carry (its base model "
              "keeps them); quantize without --head-format to export",
              dir, emb->dump());
  return method;
}

// Checks one stored linear for what the artifact can express; returns false for a float linear
// (left to the base model).
bool check_linear(const model::Linear& lin, const std::string& name, Projection& p) {
  const io::StoredLinear s = io::split_stored_linear(lin, name);
  if (!s.residual) return false;
  HESSQ_CHECK(!s.hadamard,
              "{}: rotated online (a Hadamard before the linear), which the ARHQ artifact's runtime does not apply", name);
  HESSQ_CHECK(s.act && s.act->act_spec(),
              "{}: weight-only quantized ({}); the ARHQ artifact holds W4A4 NVFP4 models whose runtime quantizes the "
              "activations (quantize with --format nvfp4-ref or nvfp4)",
              name, s.residual->spec().name());
  const formats::QuantSpec& w = s.residual->spec();
  const formats::QuantSpec& x = *s.act->act_spec();
  HESSQ_CHECK(w.format == formats::Format::NvFp4,
              "{}: weight format {} is not NVFP4; the ARHQ artifact is NVFP4 only (quantize with --format nvfp4-ref, "
              "nvfp4-2d or nvfp4)",
              name, w.name());
  HESSQ_CHECK(x.format == formats::Format::NvFp4 && x.granularity != formats::Granularity::Tile2D,
              "{}: activation format {} is not NVFP4 in 1x16 blocks, the ARHQ artifact's activation quantizer", name,
              x.name());
  HESSQ_CHECK(!s.residual->bias(), "{}: has a bias, for which the ARHQ artifact has no tensor", name);
  if (const auto& L = s.act->lowrank())
    HESSQ_CHECK(L->dtype == "F16",
                "{}: the low-rank branch is stored {}; the ARHQ artifact stores it in F16 and hessq does not round a "
                "branch it did not solve with (quantize with --lowrank-dtype f16)",
                name, L->dtype);
  p.act = s.act;
  p.residual = s.residual;
  return true;
}

const char* module_set_name(const std::set<model::Proj>& s) {
  using model::Proj;
  const std::set<Proj> attn = {Proj::Q, Proj::K, Proj::V, Proj::O}, ffn = {Proj::Gate, Proj::Up, Proj::Down};
  std::set<Proj> all = attn;
  all.insert(ffn.begin(), ffn.end());
  if (s == attn) return "attn";
  if (s == ffn) return "ffn";
  if (s == all) return "all";
  return nullptr;
}

std::string proj_list(const std::set<model::Proj>& s) {
  std::string out;
  for (model::Proj p : s) out += (out.empty() ? "" : ", ") + std::string(model::proj_name(p));
  return out;
}

// The .hessq shard holding `name`'s tensors, from its index (version 1: model.safetensors).
std::map<std::string, std::string> shard_map(const std::string& dir) {
  std::map<std::string, std::string> out;
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  if (!fs::exists(index)) return out;
  const nlohmann::json j = nlohmann::json::parse(read_text(index.string()));
  for (const auto& [tensor, shard] : j.at("weight_map").items()) out[tensor] = shard.get<std::string>();
  return out;
}

std::string abs_path(const std::string& p) { return p.empty() ? p : fs::absolute(p).lexically_normal().string(); }

// Tensors of one shard, with the buffers they point into.
class ShardBuilder {
 public:
  void add(const std::string& name, io::DType dtype, Shape shape, std::vector<uint8_t> bytes) {
    buffers_.push_back(std::move(bytes));
    const auto& b = buffers_.back();
    entries_.push_back({name, dtype, std::move(shape), b.data(), b.size()});
  }
  void add_f16(const std::string& name, Shape shape, const std::vector<uint16_t>& v) {
    std::vector<uint8_t> b(v.size() * 2);
    std::memcpy(b.data(), v.data(), b.size());
    add(name, io::DType::F16, std::move(shape), std::move(b));
  }
  void add_i32_pair(const std::string& name, const int32_t (&v)[2]) {
    std::vector<uint8_t> b(8);
    std::memcpy(b.data(), v, 8);
    add(name, io::DType::I32, {2}, std::move(b));
  }
  std::vector<io::SafetensorsEntry> entries() const { return entries_; }

 private:
  std::list<std::vector<uint8_t>> buffers_;
  std::vector<io::SafetensorsEntry> entries_;
};

// Rounds fp32 values to f16 bits; throws naming `what` on overflow. `changed` counts rounded values.
std::vector<uint16_t> to_f16(const float* v, int64_t n, const std::string& what, int64_t& changed) {
  std::vector<uint16_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    out[static_cast<size_t>(i)] = f32_to_f16(v[i]);
    const float back = f16_to_f32(out[static_cast<size_t>(i)]);
    HESSQ_CHECK(std::isfinite(back), "{}: entry {} = {} is beyond the f16 range of the artifact", what, i, v[i]);
    changed += back != v[i];
  }
  return out;
}

// A [rows, r] factor as [rows, R] f16 (zero columns after r), rows in `order` (empty: as stored).
std::vector<uint16_t> factor_f16(const Tensor* F, int64_t rows, int R, const std::vector<int64_t>& order,
                                 const std::string& what) {
  std::vector<uint16_t> out(static_cast<size_t>(rows * R), f32_to_f16(0.0f));
  if (!F) return out;
  const int64_t r = F->shape[1];
  int64_t changed = 0;
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t src = order.empty() ? i : order[static_cast<size_t>(i)];
    const std::vector<uint16_t> row = to_f16(F->ptr() + src * r, r, what, changed);
    std::copy(row.begin(), row.end(), out.begin() + i * R);
  }
  HESSQ_CHECK(changed == 0, "{}: {} entries are not f16 values although the branch is stored F16", what, changed);
  return out;
}

Shape shape2(int64_t a, int64_t b) { return {a, b}; }

}  // namespace

void write_arhq_artifact(const ArhqArtifactOptions& o) {
  const std::string dir = o.model;
  HESSQ_CHECK(io::is_hessq_dir(dir),
              "{}: the arhq-artifact target exports a W4A4 ARHQ or SVDQuant .hessq directory (hessq quantize --method "
              "arhq|svdquant --format nvfp4-ref ...), and this is not one",
              dir);
  const std::string precision = o.precision.empty() ? "fp16" : o.precision;
  HESSQ_CHECK(precision == "fp16" || precision == "packed4bit" || precision == "both",
              "--type for arhq-artifact must be fp16, packed4bit or both (the artifact_precision), got '{}'", precision);
  const bool store_fp16 = precision != "packed4bit", store_packed = precision != "fp16";

  // ---- every check first: a refused model writes nothing ----
  const nlohmann::json hj = io::read_hessq_manifest(dir);
  const std::string method = artifact_method(hj, dir);
  const model::Model m = io::load_hessq_model(dir);
  const model::ModelConfig& cfg = m.cfg;

  std::vector<Projection> projs;
  std::set<model::Proj> module_set;
  std::vector<int> layers;
  std::string first_layer_set;
  for (int l = 0; l < cfg.n_layers; ++l) {
    std::set<model::Proj> here;
    for (model::Proj p : model::kAllProjs) {
      Projection pr;
      pr.layer = l;
      pr.proj = p;
      pr.name = model::linear_name(l, p);
      if (!check_linear(m.layers[static_cast<size_t>(l)].linear(p), pr.name, pr)) continue;
      if (cfg.rope_style == model::RopeStyle::Interleaved && (p == model::Proj::Q || p == model::Proj::K))
        pr.row_order = model::rope_row_order(p == model::Proj::Q ? cfg.n_heads : cfg.n_kv_heads, cfg.head_dim,
                                             cfg.rope_style, model::RopeStyle::Half);
      here.insert(p);
      projs.push_back(std::move(pr));
    }
    if (here.empty()) continue;
    HESSQ_CHECK(module_set_name(here),
                "{}: layer {} quantizes {} (the others stay float); the ARHQ artifact's module sets are the attention "
                "projections, the MLP projections, or all seven",
                dir, l, proj_list(here));
    HESSQ_CHECK(layers.empty() || here == module_set,
                "{}: layer {} quantizes {} but layer {} quantizes {}; the ARHQ artifact has one module set", dir, l,
                proj_list(here), layers.front(), proj_list(module_set));
    module_set = here;
    layers.push_back(l);
  }
  HESSQ_CHECK(!projs.empty(), "{}: no W4A4 projection to export (every block linear is float)", dir);

  int rank = 1;  // the artifact's one rank: the largest branch (a model without any has a zero branch of rank 1)
  bool smoothing = false;
  for (const Projection& p : projs) {
    rank = std::max(rank, p.act->rank());
    smoothing = smoothing || p.act->smooth().has_value();
  }
  if (store_packed)
    for (const Projection& p : projs) {
      const std::string why = arhq_packed_unsupported(*p.residual, !p.row_order.empty());
      HESSQ_CHECK(why.empty(), "{}: no packed4bit form: {}; export with --type fp16", p.name, why);
    }
  const formats::QuantSpec wspec = projs.front().residual->spec(), xspec = *projs.front().act->act_spec();
  for (const Projection& p : projs)
    HESSQ_CHECK(p.residual->spec() == wspec && *p.act->act_spec() == xspec,
                "{}: formats W {} / A {} differ from {}'s W {} / A {}; the artifact's manifest has one of each", p.name,
                p.residual->spec().name(), p.act->act_spec()->name(), projs.front().name, wspec.name(), xspec.name());
  const bool ref_activations = xspec.nvfp4_ref;
  if (!ref_activations)
    spdlog::warn("{}: activations were quantized with {} (per-token FP32 global scale); the artifact's runtime applies "
                 "the reference's NVFP4 (nvfp4-ref-1d, no global scale), so its outputs differ from hessq's by that "
                 "quantizer's difference (quantize with --format nvfp4-ref for an exact match)",
                 dir, xspec.name());

  // ---- writing, in the side directory ----
  const std::string setting = smoothing ? "smoothing" : "raw";
  const std::map<std::string, std::string> shards = shard_map(dir);
  const std::string out_abs = abs_path(o.out);
  ExportDir out(o.out, o.force, json{{"target", "arhq-artifact"}, {"source", abs_path(dir)}});
  fs::create_directory(out.file("layers"));

  json entries = json::array();
  int64_t residual_rounded = 0, scale_rounded = 0, padded_branches = 0;
  for (int l : layers) {
    ShardBuilder sb;
    json layer_entries = json::array();
    for (const Projection& p : projs) {
      if (p.layer != l) continue;
      const std::string pn = model::proj_name(p.proj);
      const int64_t mo = p.residual->out_features(), ni = p.residual->in_features();
      json tensors = json::object(), shapes = json::object();
      auto record = [&](const char* field, const Shape& shape, bool with_shape = true) {
        tensors[field] = pn + "." + field;
        if (with_shape) shapes[field] = shape;
      };
      if (store_fp16) {
        int64_t inexact = 0;
        sb.add_f16(pn + ".W_res_q", shape2(mo, ni), arhq_residual_f16(*p.residual, p.row_order, p.name, &inexact));
        residual_rounded += inexact;
        record("W_res_q", shape2(mo, ni));
      }
      if (store_packed) {
        const ArhqPackedResidual pk = arhq_pack_residual(*p.residual, p.name);
        const int64_t sh = pk.padded_shape[0] / 16, sw = pk.padded_shape[1] / 16;
        sb.add(pn + ".W_res_packed", io::DType::U8, {static_cast<int64_t>(pk.packed.size())}, pk.packed);
        sb.add_f16(pn + ".W_res_scale", shape2(sh, sw), pk.scale);
        sb.add_i32_pair(pn + ".W_res_orig_shape", pk.orig_shape);
        sb.add_i32_pair(pn + ".W_res_padded_shape", pk.padded_shape);
        sb.add_i32_pair(pn + ".W_res_block_shape", pk.block_shape);
        record("W_res_packed", {static_cast<int64_t>(pk.packed.size())});
        record("W_res_scale", shape2(sh, sw));
        record("W_res_orig_shape", {}, false);
        record("W_res_padded_shape", {}, false);
        record("W_res_block_shape", {}, false);
      }
      const auto& L = p.act->lowrank();
      padded_branches += p.act->rank() < rank;
      sb.add_f16(pn + ".B_r", shape2(mo, rank), factor_f16(L ? &L->B : nullptr, mo, rank, p.row_order, p.name + ".B_r"));
      sb.add_f16(pn + ".A_fac", shape2(ni, rank), factor_f16(L ? &L->A : nullptr, ni, rank, {}, p.name + ".A_fac"));
      record("B_r", shape2(mo, rank));
      record("A_fac", shape2(ni, rank));
      if (smoothing) {
        std::vector<float> ones;
        const float* s = p.act->smooth() ? p.act->smooth()->ptr() : (ones.assign(static_cast<size_t>(ni), 1.0f), ones.data());
        sb.add_f16(pn + ".scale", {ni}, to_f16(s, ni, p.name + ".scale", scale_rounded));
        record("scale", {ni});
      }
      const auto sh = shards.find(p.name + ".qweight");
      const fs::path src = sh != shards.end() ? fs::path(dir) / sh->second : fs::path(dir);
      const std::string shard = fmt::format("layers/layer_{}.safetensors", l);
      json e;
      e["projection"] = pn;
      e["stored_method"] = method;
      e["source_file"] = fs::path(abs_path(src.string())).lexically_relative(out_abs).string();
      e["tensors"] = std::move(tensors);
      e["shapes"] = std::move(shapes);
      e["shard"] = shard;
      e["layer"] = l;
      e["hessq_rank"] = p.act->rank();
      entries.push_back(std::move(e));
    }
    io::write_safetensors(out.file(fmt::format("layers/layer_{}.safetensors", l)), sb.entries(),
                          {{"format", kFormat},
                           {"layer", std::to_string(l)},
                           {"method", method},
                           {"setting", setting},
                           {"rank", std::to_string(rank)},
                           {"artifact_precision", precision}});
  }

  // The base model's metadata files, as the reference copies them, when the source is a directory.
  const std::string source = hj.value("source", std::string());
  json copied = json::array();
  if (!source.empty() && fs::is_directory(source))
    for (const char* f : kMetadataFiles)
      if (fs::is_regular_file(fs::path(source) / f)) {
        write_file_atomic(out.file(f), read_text((fs::path(source) / f).string()));
        copied.push_back(f);
      }

  const bool tiles = wspec.granularity == formats::Granularity::Tile2D;
  json manifest;
  manifest["format"] = kFormat;
  manifest["format_version"] = kFormatVersion;
  manifest["base_model_path"] = abs_path(source);
  manifest["method"] = method;
  manifest["setting"] = setting;
  manifest["artifact_precision"] = precision;
  manifest["rank"] = rank;
  manifest["module_set"] = module_set_name(module_set);
  manifest["layers"] = layers;
  manifest["num_layers"] = layers.size();
  manifest["num_projections"] = entries.size();
  manifest["quantization"] = {
      {"activation", {{"name", "nvfp4_e2m1_simulated"}, {"block_shape", {16}}}},
      {"weight",
       {{"name", "nvfp4_e2m1_simulated_dequantized"},
        {"packed_name", "nvfp4_e2m1_simulated_packed_uint8_codes"},
        {"block_shape", tiles ? json{16, 16} : json{1, 16}},
        {"scale_dtype", wspec.nvfp4_ref ? "fp8_e4m3_simulated" : "fp8_e4m3_times_fp32_global_scale"},
        {"stored_scale_dtype", "float16"},
        {"packed_codes_per_byte", 2}}}};
  manifest["runtime_formula"] = "Y = Qx(X_or_X_scaled) @ W_res_q.T + (X_or_X_scaled @ A_fac) @ B_r.T";
  manifest["metadata_files_copied"] = copied;
  manifest["stored_method_counts"] = {{method, entries.size()}};
  manifest["entries"] = std::move(entries);
  manifest["exported_by"] = {{"name", "hessq"}, {"version", HESSQ_VERSION}, {"target", "arhq-artifact"}};
  manifest["hessq"] = {
      {"source_hessq", abs_path(dir)},
      {"recipe_method", hj.at("recipe").value("method", std::string())},
      {"weight_format", wspec.name()},
      {"activation_format", xspec.name()},
      {"activation_quantizer_is_reference", ref_activations},
      {"qk_rows", cfg.rope_style == model::RopeStyle::Interleaved ? "permuted from interleaved RoPE rows to HF's half layout"
                                                                   : "as stored (HF half layout)"},
      {"branches_zero_padded_to_rank", padded_branches},
      {"residual_values_rounded_to_f16", residual_rounded},
      {"smoothing_scales_rounded_to_f16", scale_rounded}};
  write_file_atomic(out.file("manifest.json"), manifest.dump(2) + "\n");
  write_file_atomic(out.file("README.md"), arhq_readme(manifest));
  write_file_atomic(out.file("FORMAT.md"), arhq_format_doc(manifest));
  out.commit();
  if (residual_rounded || scale_rounded)
    spdlog::info("{}: f16 rounding changed {} residual values and {} smoothing scales", o.out, residual_rounded,
                 scale_rounded);
}

}  // namespace hessq::exporting
