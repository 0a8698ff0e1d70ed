// hessq quantize: weight-only PTQ of a model with a recipe (or one method from flags) into a .hessq
// directory. Validates everything it can before calibrating; writes atomically.
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "hessq/calib/windows.hpp"
#include "hessq/cli/common.hpp"
#include "hessq/core/error.hpp"
#include "hessq/eval/text.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/io/hessq_format.hpp"
#include "hessq/pipeline/driver.hpp"
#include "hessq/pipeline/dump.hpp"
#include "hessq/pipeline/recipe.hpp"
#include "hessq/pipeline/w4a4_driver.hpp"
#include "hessq/pipeline/w4a4_recipe.hpp"

namespace fs = std::filesystem;

namespace hessq::cli {

struct QuantizeArgs {
  std::string model, tokenizer, calib, recipe, method, out, dump;
  int64_t calib_tokens = 16384, heldout_tokens = 2048, calib_max_chars = 0;
  int calib_window = 0;  // 0: min(model context, 512)
  bool float_inputs = false, json = false;
  // --method flags; applied only when given
  int bits = 4, group = 0, grid = 20;
  bool sym = false, asym = false, act_order = false, no_pad = false, clip = false;
  double gamma = 1e-4, tau = 0.1, damp = 0.01, max_ratio = 0.01;
  // W4A4 (--format): weights and activations quantized, see docs/cli/quantize-w4a4.md
  std::string format, wformat, aformat, lowrank_dtype = "f16";
  int rank = 0;
  bool alloc = false, smooth = false, arhq_eps_abs = false, no_rotate_fallback = false;
  double arhq_h_mult = 16, arhq_eps = 1e-6;
  int64_t smooth_tokens = 1024;
  uint64_t rotate_seed = 0;
  CLI::Option *o_bits = nullptr, *o_group = nullptr, *o_gamma = nullptr, *o_tau = nullptr, *o_damp = nullptr,
              *o_grid = nullptr, *o_max_ratio = nullptr;
};

static void check_parent(const std::string& path, const char* flag) {
  fs::path p(path);
  while (p.has_filename() == false && p.has_parent_path() && p != p.parent_path()) p = p.parent_path();
  const fs::path parent = p.parent_path();
  HESSQ_CHECK(parent.empty() || fs::is_directory(parent), "{} {}: output directory {} does not exist", flag, path,
              parent.string());
}

// The recipe from --recipe, or from --method and its flags (set through the registry's checks).
static pipeline::Recipe build_recipe(const QuantizeArgs& a) {
  HESSQ_CHECK(a.recipe.empty() != a.method.empty(), "give exactly one of --recipe FILE or --method NAME");
  const bool method_flags = a.o_bits->count() || a.o_group->count() || a.sym || a.asym || a.act_order ||
                            a.o_gamma->count() || a.o_tau->count() || a.o_damp->count() || a.o_grid->count() ||
                            a.o_max_ratio->count() ||
                            a.no_pad || a.clip;
  if (!a.recipe.empty()) {
    HESSQ_CHECK(!method_flags, "--bits/--group/--sym/--asym/--act-order/... go with --method; with --recipe put "
                               "them in {}", a.recipe);
    return pipeline::load_recipe(a.recipe);
  }
  HESSQ_CHECK(a.o_bits->count() > 0, "--method {} needs --bits B", a.method);
  HESSQ_CHECK(!(a.sym && a.asym), "--sym and --asym exclude each other");
  pipeline::Recipe r = pipeline::recipe_for_method(a.method);
  for (pipeline::Pass& p : r.passes) {
    const bool solver = pipeline::find_pass(p.name)->kind == pipeline::PassKind::Solver;
    auto set = [&](const char* key, const pipeline::ParamValue& v, const char* flag) {
      pipeline::set_param(p, key, v, flag);
    };
    if (solver) {
      set("bits", int64_t{a.bits}, "--bits");
      set("group", int64_t{a.group}, "--group");
      set("sym", a.sym, "--sym");
      if (a.no_pad) set("pad", false, "--no-pad");
      if (a.clip && p.name == "rtn" && !r.find("awq")) set("clip_search", true, "--clip");
      if (p.name == "gptq") {
        set("act_order", a.act_order, "--act-order");
        if (a.o_damp->count()) set("damp", a.damp, "--damp");
      }
    }
    if (p.name == "osaq") {
      if (a.o_gamma->count()) set("gamma", a.gamma, "--gamma");
      if (a.o_tau->count()) set("tau", a.tau, "--tau");
      if (a.o_max_ratio->count()) set("max_ratio", a.max_ratio, "--max-ratio");
    }
    if (p.name == "awq") {
      if (a.o_grid->count()) set("grid", int64_t{a.grid}, "--grid");
      if (a.clip) set("clip_search", true, "--clip");
    }
    pipeline::finalize_pass(p, r.source);
  }
  HESSQ_CHECK(!a.act_order || r.solver().name == "gptq", "--act-order applies to gptq only (method {})", a.method);
  HESSQ_CHECK(!a.o_damp->count() || r.solver().name == "gptq", "--damp applies to gptq only (method {})", a.method);
  HESSQ_CHECK(!(a.o_gamma->count() || a.o_tau->count() || a.o_max_ratio->count()) || r.find("osaq"),
              "--gamma/--tau/--max-ratio apply to osaq methods only");
  HESSQ_CHECK(!a.o_grid->count() || r.find("awq"), "--grid applies to awq methods only");
  return r;
}

// The bytes of a file the command reads whole (a recipe, a tokenizer); `what` names it in errors.
static std::string read_whole_file(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  HESSQ_CHECK(f.good(), "{}: cannot open {}", path, what);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

// The tokenizer file(s) to copy into the .hessq, under the names default_tokenizer_path looks for.
static std::map<std::string, std::string> tokenizer_files(const std::string& path) {
  auto slurp = [](const fs::path& p) { return read_whole_file(p.string(), "tokenizer"); };
  fs::path p(path);
  if (fs::is_directory(p)) p /= "tokenizer.json";
  std::map<std::string, std::string> files;
  const std::string ext = p.extension().string();
  if (ext == ".json") {
    files["tokenizer.json"] = slurp(p);
    if (fs::exists(p.parent_path() / "tokenizer_config.json"))
      files["tokenizer_config.json"] = slurp(p.parent_path() / "tokenizer_config.json");
  } else if (ext == ".model" || ext == ".bin") {
    files["tokenizer" + ext] = slurp(p);
  } else {
    spdlog::warn("{}: not copied into the output (pass --tokenizer to eval/generate)", path);
  }
  return files;
}

static void check_paths(const QuantizeArgs& a) {
  check_parent(a.out, "--out");
  if (!a.dump.empty()) check_parent(a.dump, "--dump");
  HESSQ_CHECK(fs::weakly_canonical(a.out) != fs::weakly_canonical(a.model), "--out {} would overwrite the model",
              a.out);
  HESSQ_CHECK(io::checkpoint_kind(a.model) != io::CheckpointKind::Hessq, "{}: already quantized (.hessq)", a.model);
}

// Calibration windows from --calib (and the calibration record for hessq.json).
static calib::Windows calibration_windows(const QuantizeArgs& a, const model::Model& m, const std::string& tok_path,
                                          nlohmann::ordered_json& record) {
  auto tok = open_tokenizer(a.model, a.tokenizer);
  std::string text = eval::read_text(a.calib);
  if (a.calib_max_chars > 0 && static_cast<int64_t>(text.size()) > a.calib_max_chars) text.resize(a.calib_max_chars);
  calib::WindowOptions wo;
  wo.window = a.calib_window > 0 ? a.calib_window : std::min(m.cfg.max_seq_len, 512);
  HESSQ_CHECK(wo.window <= m.cfg.max_seq_len, "--calib-window {} is longer than the model's context of {} tokens",
              wo.window, m.cfg.max_seq_len);
  wo.tokens = a.calib_tokens;
  wo.heldout_tokens = a.heldout_tokens;
  const calib::Windows w = calib::make_windows(tok->encode(text, true), wo, a.calib);
  if (w.calib_tokens() < a.calib_tokens)
    spdlog::warn("{}: {} calibration tokens available in windows of {}, fewer than --calib-tokens {}", a.calib,
                 w.calib_tokens(), w.window, a.calib_tokens);
  if (w.heldout.empty() && a.heldout_tokens > 0)
    spdlog::warn("{}: no text left for held-out windows; held-out diagnostics use the calibration set", a.calib);
  spdlog::info("{}: calibrating on {} windows of {} tokens ({} tokens), {} held-out window(s), {}", a.calib,
               w.calib.size(), w.window, w.calib_tokens(), w.heldout.size(),
               a.float_inputs ? "float inputs" : "sequential");
  record = {{"file", a.calib},
            {"max_chars", a.calib_max_chars},
            {"stream_tokens", w.stream_tokens},
            {"window", w.window},
            {"windows", w.calib.size()},
            {"tokens", w.calib_tokens()},
            {"heldout_windows", w.heldout.size()},
            {"heldout_tokens", w.heldout_token_count()},
            {"sampling", "consecutive windows from the start of the text (BOS first); no seed"},
            {"sequential", !a.float_inputs},
            {"tokenizer", tok_path}};
  return w;
}

// Prints the totals of the written .hessq (and, with --json, `extra` beside them).
static void print_summary(const QuantizeArgs& a, const std::string& what, nlohmann::ordered_json extra) {
  const nlohmann::ordered_json manifest = io::read_hessq_manifest(a.out);
  const auto& t = manifest["totals"];
  if (a.json) {
    nlohmann::ordered_json j = {{"out", a.out}, {"totals", t}};
    for (auto& [k, v] : extra.items()) j[k] = std::move(v);
    fmt::print("{}\n", j.dump(2));
    return;
  }
  fmt::print("{}: {} quantized linears ({}), {:.4f} bits/weight over quantized linears, {:.4f} over all parameters{}\n",
             a.out, t["quantized_linears"].get<int>(), what, t["bits_per_weight_quantized"].get<double>(),
             t["bits_per_weight_all"].get<double>(),
             t.contains("extra_params_pct") ? fmt::format(", {:.2f}% extra parameters", t["extra_params_pct"].get<double>())
                                            : std::string());
}

// The W4A4 configuration from --method and --format with their flags.
static pipeline::W4a4Config w4a4_from_flags(const QuantizeArgs& a) {
  HESSQ_CHECK(a.recipe.empty(), "--format goes with --method; a W4A4 recipe names its format inside ('format: {}')",
              a.format);
  HESSQ_CHECK(!a.method.empty(), "--format {} needs --method (rtn, gptq, smoothquant, svdquant, arhq, arhq-h, "
                                 "quarot+rtn, quarot+gptq, arhq+gptq, ...)", a.format);
  HESSQ_CHECK(!a.o_bits->count() && !a.o_group->count() && !a.sym && !a.asym,
              "--bits/--group/--sym/--asym are weight-only flags; with --format {} the format sets the bits (use "
              "--wformat SPEC, e.g. int4-g128, to change the weight side)", a.format);
  HESSQ_CHECK(!a.o_gamma->count() && !a.o_tau->count() && !a.o_grid->count() && !a.clip && !a.o_max_ratio->count(),
              "--gamma/--tau/--grid/--clip apply to the weight-only methods (osaq, awq), not to --format {}", a.format);
  HESSQ_CHECK(a.lowrank_dtype == "f16" || a.lowrank_dtype == "f32", "--lowrank-dtype must be f16 or f32, got '{}'",
              a.lowrank_dtype);
  pipeline::W4a4Config c = pipeline::w4a4_config_for_method(a.method, a.format, a.rank, a.smooth);
  if (!a.wformat.empty() || !a.aformat.empty())
    c.format = methods::layer_format_from_specs(a.wformat.empty() ? c.format.w.name() : a.wformat,
                                                a.aformat.empty() ? c.format.x.name() : a.aformat);
  c.allocate = a.alloc;
  c.arhq_h_mult = a.arhq_h_mult;
  c.eps = a.arhq_eps;
  c.eps_relative = !a.arhq_eps_abs;
  c.lowrank_storage = a.lowrank_dtype == "f32" ? methods::LowRankStorage::F32 : methods::LowRankStorage::F16;
  c.smooth_tokens = a.smooth_tokens;
  c.rotate_opt.seed = a.rotate_seed;
  c.rotate_opt.allow_random_fallback = !a.no_rotate_fallback;
  c.gptq.act_order = a.act_order;
  if (a.o_damp->count()) c.gptq.damp = a.damp;
  c.pad = !a.no_pad;
  c.sequential = !a.float_inputs;
  HESSQ_CHECK(!a.act_order || c.solver == "gptq", "--act-order applies to gptq only (method {})", a.method);
  HESSQ_CHECK(!a.o_damp->count() || c.solver == "gptq", "--damp applies to gptq only (method {})", a.method);
  return c;
}

// W4A4: pipeline::quantize_model_w4a4.
static void run_w4a4(const QuantizeArgs& a, const pipeline::W4a4Config& c) {
  HESSQ_CHECK(a.dump.empty(), "--dump is available for weight-only methods; W4A4 runs write per-linear diagnostics "
                              "into hessq.json");
  check_paths(a);
  model::Model m = io::load_model(a.model);
  pipeline::check_w4a4_fits(c, m.cfg);
  const std::string tok_path = a.tokenizer.empty() ? io::default_tokenizer_path(a.model) : a.tokenizer;
  io::HessqMeta meta;
  const calib::Windows w = calibration_windows(a, m, tok_path, meta.calibration);
  pipeline::W4a4Result res = pipeline::quantize_model_w4a4(m, c, w);

  meta.recipe = c.to_json();
  meta.diagnostics = res.diagnostics;
  meta.summary = res.summary;
  meta.summary["rotation"] = res.rotation;
  meta.timing = res.timing;
  io::write_hessq(a.out, res.model, meta, tokenizer_files(tok_path));
  print_summary(a, c.method + " " + c.format.name + " (W " + c.format.w.name() + ", A " + c.format.x.name() + ")",
                {{"recipe", meta.recipe}, {"summary", meta.summary}, {"timing", meta.timing}});
}


static void run_quantize(const QuantizeArgs& a) {
  if (!a.format.empty()) return run_w4a4(a, w4a4_from_flags(a));
  if (!a.recipe.empty()) {
    const std::string text = read_whole_file(a.recipe, "recipe");
    if (pipeline::is_w4a4_recipe(text)) {
      HESSQ_CHECK(a.method.empty(), "give exactly one of --recipe FILE or --method NAME");
      HESSQ_CHECK(a.rank == 0 && !a.smooth && !a.alloc && a.wformat.empty() && a.aformat.empty(),
                  "--rank/--smooth/--alloc/--wformat/--aformat go with --format; with a recipe put them in {}",
                  a.recipe);
      pipeline::W4a4Config c = pipeline::parse_w4a4_recipe(text, a.recipe);
      if (a.float_inputs) c.sequential = false;
      return run_w4a4(a, c);
    }
  }
  // 1. Everything that can be checked before calibrating.
  pipeline::Recipe recipe = build_recipe(a);
  if (a.float_inputs) recipe.sequential = false;
  check_paths(a);
  model::Model m = io::load_model(a.model);
  pipeline::check_recipe_fits(recipe, m.cfg);
  const std::string tok_path = a.tokenizer.empty() ? io::default_tokenizer_path(a.model) : a.tokenizer;

  // 2. Calibration windows.
  io::HessqMeta meta;
  const calib::Windows w = calibration_windows(a, m, tok_path, meta.calibration);
  meta.calibration["sequential"] = recipe.sequential;
  spdlog::info("recipe {} ({})", recipe.source, recipe.sequential ? "sequential" : "float inputs");

  // 3. Quantize, block by block.
  std::unique_ptr<pipeline::Dumper> dumper;
  pipeline::DriverOptions opt;
  if (!a.dump.empty()) {
    dumper = std::make_unique<pipeline::Dumper>(a.dump);
    const formats::QuantSpec spec = recipe.solver().spec;
    opt.block.on_linear = [&dumper, spec](const pipeline::LinearDump& d) { dumper->add(d, spec); };
  }
  pipeline::QuantizeResult res = pipeline::quantize_model(m, recipe, w, opt);

  // 4. Write.
  meta.recipe = recipe.to_json();
  meta.diagnostics = res.diagnostics;
  meta.summary = res.summary;
  meta.timing = res.timing;
  io::write_hessq(a.out, res.model, meta, tokenizer_files(tok_path));
  if (dumper) dumper->commit();
  print_summary(a, recipe.solver().spec.name(), {{"recipe", meta.recipe}, {"summary", res.summary}, {"timing", res.timing}});
}

void add_quantize(CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  auto* sub = app.add_subcommand("quantize", "Quantize a model into a .hessq directory: weight-only (RTN, GPTQ, AWQ, OSAQ+...) or, with --format, W4A4 (SmoothQuant, QuaRot, SVDQuant, ARHQ)");
  sub->add_option("-m,--model", a->model, "llama2.c .bin or HuggingFace model directory")->required();
  sub->add_option("--tokenizer", a->tokenizer, "Tokenizer file (default: the one beside the model)");
  sub->add_option("--calib", a->calib, "Calibration text (.txt, or .jsonl with a \"text\" field)")->required();
  sub->add_option("--calib-tokens", a->calib_tokens, "Calibration tokens (whole windows, from the start of the text)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--calib-window", a->calib_window, "Tokens per calibration window (default: min(context, 512))")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--heldout-tokens", a->heldout_tokens,
                  "Held-out tokens right after the calibration ones, for diagnostics (0: none)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_option("--calib-max-chars", a->calib_max_chars,
                  "Use only the first N bytes of the calibration text (keeps it disjoint from an eval --skip-chars N)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--recipe", a->recipe, "YAML recipe: passes with parameters (see below; with a top-level 'format' "
                                         "key, a W4A4 recipe)");
  sub->add_option("--method", a->method, "One method instead of a recipe: rtn, gptq, awq, osaq+rtn, osaq+gptq, osaq+awq");
  a->o_bits = sub->add_option("--bits", a->bits, "--method: integer bits per weight (2..8)");
  a->o_group = sub->add_option("--group", a->group, "--method: inputs per scale group; 0 = per output channel");
  sub->add_flag("--sym", a->sym, "--method: symmetric INT (no zero point)");
  sub->add_flag("--asym", a->asym, "--method: asymmetric INT with zero points (the default)");
  sub->add_flag("--act-order", a->act_order, "--method gptq: columns in descending diag(H)");
  a->o_damp = sub->add_option("--damp", a->damp, "--method gptq: dampening, fraction of mean(diag H)");
  a->o_gamma = sub->add_option("--gamma", a->gamma, "--method osaq+*: null-space tail energy fraction");
  a->o_tau = sub->add_option("--tau", a->tau, "--method osaq+*: softmax temperature (relative to row max|w|)");
  a->o_max_ratio = sub->add_option("--max-ratio", a->max_ratio,
                                   "--method osaq+*: keep a linear's W when the change moves its calibration output by "
                                   "more than this fraction (default 0.01; 0: always apply)");
  a->o_grid = sub->add_option("--grid", a->grid, "--method *awq: alpha grid points");
  sub->add_flag("--clip", a->clip, "--method rtn/awq: clip-ratio search");
  sub->add_flag("--no-pad", a->no_pad, "--method: refuse layers whose input dim the group does not divide");
  sub->add_option("--format", a->format,
                  "W4A4: quantize weights and activations (nvfp4, mxfp4, int4, nvfp4-2d, nvfp4-ref, mxfp8, int8, w4a8); "
                  "--method then takes rtn, gptq, smoothquant, svdquant, arhq, arhq-h, quarot+rtn, quarot+gptq, "
                  "arhq+gptq, ... (stages joined by +)")
      ->group("W4A4 (--format)");
  sub->add_option("--wformat", a->wformat, "W4A4: weight quantizer spec replacing the format's (e.g. int4-g128)")
      ->group("W4A4 (--format)");
  sub->add_option("--aformat", a->aformat, "W4A4: activation quantizer spec replacing the format's (e.g. fp8-e4m3-tok)")
      ->group("W4A4 (--format)");
  sub->add_option("--rank", a->rank, "W4A4: rank of the low-rank branch of every linear (svdquant, arhq, arhq-h)")
      ->check(CLI::NonNegativeNumber)->group("W4A4 (--format)");
  sub->add_flag("--alloc", a->alloc, "W4A4: share the budget rank * sum(m + n) over all linears (ranks allocated)")
      ->group("W4A4 (--format)");
  sub->add_flag("--smooth", a->smooth, "W4A4: SmoothQuant per linear before the other stages (alpha searched)")
      ->group("W4A4 (--format)");
  sub->add_option("--smooth-tokens", a->smooth_tokens, "W4A4: calibration tokens for the smoothing alpha search")
      ->capture_default_str()->check(CLI::PositiveNumber)->group("W4A4 (--format)");
  sub->add_option("--arhq-h-mult", a->arhq_h_mult, "W4A4 arhq-h: m in H + m beta G")
      ->capture_default_str()->group("W4A4 (--format)");
  sub->add_option("--arhq-eps", a->arhq_eps, "W4A4 arhq: eigenvalue clamp of G, relative to its largest eigenvalue")
      ->capture_default_str()->group("W4A4 (--format)");
  sub->add_flag("--arhq-eps-abs", a->arhq_eps_abs, "W4A4 arhq: --arhq-eps is absolute (the reference code's rule)")
      ->group("W4A4 (--format)");
  sub->add_option("--lowrank-dtype", a->lowrank_dtype, "W4A4: storage of the branch factors, f16 or f32")
      ->capture_default_str()->group("W4A4 (--format)");
  sub->add_option("--rotate-seed", a->rotate_seed, "W4A4 quarot: seed of the Hadamard signs")
      ->capture_default_str()->group("W4A4 (--format)");
  sub->add_flag("--no-rotate-fallback", a->no_rotate_fallback,
                "W4A4 quarot: fail on a dimension without a known Hadamard construction instead of using a seeded "
                "random orthogonal block")
      ->group("W4A4 (--format)");
  sub->add_flag("--float-inputs", a->float_inputs,
                "Calibrate every block on the float model's activations instead of the quantized blocks' outputs");
  sub->add_option("-o,--out", a->out, "Output .hessq directory (its parent must exist)")->required();
  sub->add_option("--dump", a->dump, "Also write each linear's W, calibration X and W_q as .npy + manifest.json here");
  sub->add_flag("--json", a->json, "Print a JSON summary (totals, per-projection diagnostics, timing) on stdout");
  sub->footer("Recipe (YAML):\n  sequential: true\n  passes:\n    - osaq: {gamma: 1e-4}\n"
              "    - gptq: {bits: 3, group: 64, act_order: true}\n\nPasses (transforms first, one solver last):\n" +
              pipeline::recipe_help() +
              "\nW4A4 recipe (YAML):\n  format: nvfp4\n  passes:\n    - smoothquant\n    - arhq: {rank: 16}\n"
              "    - rtn\n" +
              "\nExample:\n  hessq quantize --model ../shared/models/stories260K/stories260K.bin --calib "
              "../shared/data/tinystories/tinystories_validation_head.txt --calib-max-chars 100000 --method gptq --bits 4 "
              "--group 32 --out /tmp/s260k-gptq-w4g32.hessq\n"
              "  hessq quantize --model ../shared/models/stories260K/stories260K.bin --calib "
              "../shared/data/tinystories/tinystories_validation_head.txt --calib-max-chars 100000 --method arhq --format "
              "nvfp4 --rank 8 --out /tmp/s260k-arhq8.hessq\nSee docs/cli/quantize.md and docs/cli/quantize-w4a4.md.");
  sub->callback([a] { run_quantize(*a); });
}

}  // namespace hessq::cli
