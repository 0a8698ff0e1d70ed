// hessq inspect: print a checkpoint's config and tensors (model files, safetensors, GGUF).
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "hessq/cli/common.hpp"
#include "hessq/core/atomic_file.hpp"
#include "hessq/core/error.hpp"
#include "hessq/eval/rotation_curve.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/io/gguf.hpp"
#include "hessq/io/hessq_format.hpp"
#include "hessq/io/safetensors.hpp"
#include "hessq/io/tensor_store.hpp"

namespace hessq::cli {

struct InspectArgs {
  std::string path;
  bool tensors = false;
  std::string curve_svg;
};

// A .hessq directory: its recipe, formats and bits per weight (from hessq.json).
static void print_hessq(const std::string& path, bool list_linears) {
  const nlohmann::ordered_json j = io::read_hessq_manifest(path);
  std::map<std::string, int> formats;
  for (const auto& l : j["linears"]) ++formats[l["format"].get<std::string>()];
  std::string fs;
  for (const auto& [f, n] : formats) fs += fmt::format("{}{} x{}", fs.empty() ? "" : ", ", f, n);
  const auto& t = j["totals"];
  std::string recipe = "?";
  if (j.contains("recipe") && j["recipe"].contains("source")) recipe = j["recipe"]["source"];
  if (j.contains("recipe") && j["recipe"].contains("method") && j["recipe"].contains("format")) {
    const auto& f = j["recipe"]["format"];
    const bool act = f.contains("activations") && !f["activations"].is_null();
    recipe = fmt::format("{} ({}){}", j["recipe"]["method"].get<std::string>(),
                         act ? fmt::format("W {}, A {}", f.value("weights", "?"), f["activations"].get<std::string>())
                             : fmt::format("W {}", f.value("weights", "?")),
                         j["recipe"].contains("source") ? ", " + j["recipe"]["source"].get<std::string>() : "");
  }
  fmt::print("quantized     {} linears ({}), format version {}, recipe {}\n", j["linears"].size(), fs,
             j["format_version"].get<int>(), recipe);
  if (t.contains("extra_params"))
    fmt::print("extra params  {} ({:.2f}% of the quantized linears: low-rank branches, smoothing vectors)\n",
               t["extra_params"].get<int64_t>(), t["extra_params_pct"].get<double>());
  fmt::print("bits/weight   {:.4f} over quantized linears ({} weights), {:.4f} over all {} parameters\n",
             t["bits_per_weight_quantized"].get<double>(), t["quantized_params"].get<int64_t>(),
             t["bits_per_weight_all"].get<double>(), t["total_params"].get<int64_t>());
  if (!list_linears) return;
  for (const auto& l : j["linears"])
    fmt::print("  {:<48} {:<16} {:.4f} bits/weight\n", l["name"].get<std::string>(), l["format"].get<std::string>(),
               l["bits_per_weight"].get<double>());
}

static void print_config(const std::string& path, const model::ModelConfig& c) {
  fmt::print("model         {}\n", path);
  fmt::print("architecture  {} ({})\n", model::arch_name(c.arch), model::hf_architecture(c.arch));
  fmt::print("dim {}  hidden {}  layers {}  heads {}  kv_heads {}  head_dim {}\n", c.dim, c.hidden_dim, c.n_layers,
             c.n_heads, c.n_kv_heads, c.head_dim);
  fmt::print("vocab {}  context {}  rope_theta {}{}  rope {}  norm_eps {}\n", c.vocab_size, c.max_seq_len,
             c.rope_theta, c.rope_scaling ? " (llama3 scaling)" : "",
             c.rope_style == model::RopeStyle::Half ? "halves (HF)" : "interleaved (llama2.c)", c.norm_eps);
  fmt::print("tied embeddings {}  qkv bias {}  qk norm {}\n", c.tie_embeddings, c.qkv_bias, c.qk_norm);
}

static void print_model(const std::string& path, bool list_tensors) {
  if (io::is_hessq_dir(path)) {
    io::Checkpoint ck = io::read_checkpoint(path);
    model::build_model(ck.cfg, ck.tensors, path);
    print_config(path, ck.cfg);
    int64_t params = 0;
    for (const auto& [name, t] : ck.tensors) params += t.numel();
    fmt::print("parameters    {} ({:.2f} M), {} tensors\n", params, params / 1e6, ck.tensors.size());
    print_hessq(path, list_tensors);
    if (!list_tensors) return;
    for (const auto& [name, t] : ck.tensors) fmt::print("  {:<56} {}\n", name, shape_str(t.shape));
    return;
  }
  // A float checkpoint: names, shapes and dtypes are validated and shown without reading the values,
  // so a model larger than memory inspects in milliseconds.
  const io::TensorStore s = io::open_tensor_store(path);
  print_config(path, s.cfg);
  int64_t params = 0;
  std::map<std::string, int64_t> by_dtype;
  for (const auto& [name, t] : s.tensors) params += t.numel(), by_dtype[t.type_name()] += t.numel();
  std::string dtypes;
  for (const auto& [d, n] : by_dtype) dtypes += fmt::format("{}{} {}", dtypes.empty() ? "" : ", ", d, n);
  fmt::print("parameters    {} ({:.2f} M), {} tensors ({}), {:.2f} GB stored\n", params, params / 1e6,
             s.tensors.size(), dtypes, static_cast<double>(s.stored_bytes()) / 1e9);
  if (!list_tensors) return;
  for (const auto& [name, t] : s.tensors)
    fmt::print("  {:<56} {:<5} {}\n", name, t.type_name(), shape_str(t.shape));
}

static void print_safetensors(const std::string& path) {
  auto f = io::SafetensorsFile::open(path);
  for (const auto& [k, v] : f->metadata()) fmt::print("metadata {} = {}\n", k, v);
  for (const auto& t : f->tensors())
    fmt::print("  {:<56} {:<5} {}\n", t.name, io::dtype_name(t.dtype), shape_str(t.shape));
}

// A .gguf: the model it holds (when hessq can load it; names, shapes and config as for any float
// checkpoint, under HF names) and the file's metadata. A file that is not a model hessq loads (a
// vocabulary-only GGUF, another architecture) still shows its metadata.
static void print_gguf(const std::string& path, bool list_tensors) {
  io::GgufFile f = io::GgufFile::open(path);
  try {
    print_model(path, list_tensors);
    fmt::print("gguf metadata (version {}):\n", f.version());
  } catch (const Error& e) {
    fmt::print("not a model hessq loads: {}\n", e.what());
  }
  for (const std::string& key : f.keys()) fmt::print("  {:<48} {}\n", key, f.value_str(key));
  fmt::print("tensors: {}\n", f.tensors().size());
  if (!list_tensors) return;
  for (const auto& t : f.tensors())
    fmt::print("  {:<56} {:<6} {}\n", t.name, io::ggml_type_name(t.type), shape_str(t.shape));
}

void add_inspect(CLI::App& app) {
  auto a = std::make_shared<InspectArgs>();
  auto* sub = app.add_subcommand("inspect", "Print a checkpoint's config and tensors (.bin, HF dir, .safetensors, .gguf)");
  sub->add_option("path", a->path, "Model file or directory")->required();
  sub->add_flag("-t,--tensors", a->tensors, "List every tensor with its shape");
  sub->add_option("--curve-svg", a->curve_svg,
                  "A .hessq quantized with hero or spinquant: write the optimizer's objective per step as an SVG chart");
  sub->callback([a] {
    if (!a->curve_svg.empty()) {
      HESSQ_CHECK(io::is_hessq_dir(a->path), "--curve-svg: {} is not a .hessq directory", a->path);
      const nlohmann::ordered_json j = io::read_hessq_manifest(a->path);
      const nlohmann::ordered_json none;
      const auto& hero = j.contains("summary") && j["summary"].contains("hero") ? j["summary"]["hero"] : none;
      write_file_atomic(a->curve_svg, eval::rotation_curve_svg(hero, a->path + "/hessq.json"));
      fmt::print("wrote {}\n", a->curve_svg);
    }
    if (a->path.ends_with(".gguf")) return print_gguf(a->path, a->tensors);
    if (a->path.ends_with(".safetensors")) return print_safetensors(a->path);
    print_model(a->path, a->tensors);
  });
}

}  // namespace hessq::cli
