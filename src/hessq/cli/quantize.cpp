// hessq quantize: PTQ of a model with a recipe (or one method from flags) into a .hessq directory,
// block by block (pipeline/driver.hpp). Validates everything it can before calibrating; streams the
// output into "<out>.partial" and renames it into place when complete; --resume continues a killed run.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "hessq/calib/windows.hpp"
#include "hessq/cli/common.hpp"
#include "hessq/commit.hpp"
#include "hessq/core/error.hpp"
#include "hessq/core/memory.hpp"
#include "hessq/core/random.hpp"
#include "hessq/eval/text.hpp"
#include "hessq/export/gguf_export.hpp"
#include "hessq/formats/ggml_presets.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/io/hessq_format.hpp"
#include "hessq/io/tensor_store.hpp"
#include "hessq/methods/layer_quant.hpp"
#include "hessq/pipeline/driver.hpp"
#include "hessq/pipeline/dump.hpp"
#include "hessq/pipeline/ggml_plan.hpp"
#include "hessq/pipeline/recipe.hpp"
#include "hessq/pipeline/summary.hpp"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace hessq::cli {

struct QuantizeArgs {
  std::string model, tokenizer, calib, recipe, method, out, dump;
  int64_t calib_tokens = 16384, heldout_tokens = 2048, calib_max_chars = 0;
  int calib_window = 0;  // 0: min(model context, 512)
  bool float_inputs = false, json = false, resume = false, force = false;
  std::string hidden_dtype = "f32", spill, head_format, ggml_type;
  std::vector<std::string> sets;  // --set PASS.KEY=VALUE
  // --method flags; applied only when given
  int bits = 4, group = 0, grid = 20;
  bool sym = false, asym = false, act_order = false, no_pad = false, clip = false;
  double gamma = 1e-4, tau = 0.1, damp = 0.01, max_ratio = 0.01;
  // Activation formats (--format) and the W4A4 stages' flags, see docs/cli/quantize-w4a4.md
  std::string format, wformat, aformat, lowrank_dtype = "f16";
  int rank = 0;
  bool alloc = false, smooth = false, arhq_eps_abs = false, no_rotate_fallback = false;
  double arhq_h_mult = 16, arhq_eps = 1e-6;
  int64_t smooth_tokens = 1024;
  uint64_t rotate_seed = 0;
  CLI::Option *o_bits = nullptr, *o_group = nullptr, *o_gamma = nullptr, *o_tau = nullptr, *o_damp = nullptr,
              *o_grid = nullptr, *o_max_ratio = nullptr, *o_rank = nullptr, *o_smooth_tokens = nullptr,
              *o_arhq_h_mult = nullptr, *o_arhq_eps = nullptr, *o_lowrank_dtype = nullptr, *o_rotate_seed = nullptr;
};

// The bytes of a file the command reads whole (a recipe, a tokenizer); `what` names it in errors.
static std::string read_whole_file(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  HESSQ_CHECK(f.good(), "{}: cannot open {}", path, what);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

// The stage-specific flags (W4A4 stages, --rank, ...), which go with --method.
static bool stage_flags_given(const QuantizeArgs& a) {
  return a.o_rank->count() || a.smooth || a.alloc || a.o_smooth_tokens->count() || a.o_arhq_h_mult->count() ||
         a.o_arhq_eps->count() || a.arhq_eps_abs || a.o_lowrank_dtype->count() || a.o_rotate_seed->count() ||
         a.no_rotate_fallback;
}

static bool method_flags_given(const QuantizeArgs& a) {
  return !a.sets.empty() || a.o_bits->count() || a.o_group->count() || a.sym || a.asym || a.act_order || a.o_gamma->count() ||
         a.o_tau->count() || a.o_damp->count() || a.o_grid->count() || a.o_max_ratio->count() || a.no_pad || a.clip;
}

// --set PASS.KEY=VALUE: the pass (name or alias), the key and the value parsed as the registry's type.
struct SetFlag {
  std::string pass, key, where;
  pipeline::ParamValue value;
};

static SetFlag parse_set_flag(const std::string& s) {
  const std::string where = "--set " + s;
  const size_t dot = s.find('.'), eq = s.find('=');
  HESSQ_CHECK(dot != std::string::npos && eq != std::string::npos && dot > 0 && eq > dot + 1,
              "{}: expected PASS.KEY=VALUE, e.g. hero.steps=50", where);
  SetFlag f;
  f.where = where;
  const pipeline::PassInfo* info = pipeline::find_pass(s.substr(0, dot));
  HESSQ_CHECK(info != nullptr, "{}: unknown pass '{}' (known: {})", where, s.substr(0, dot), pipeline::pass_names());
  f.pass = info->name;
  f.key = s.substr(dot + 1, eq - dot - 1);
  const pipeline::ParamInfo* pi = info->find(f.key);
  HESSQ_CHECK(pi != nullptr, "{}: {}: unknown parameter '{}' (accepted: {})", where, f.pass, f.key,
              pipeline::param_names(*info));
  const std::string v = s.substr(eq + 1);
  try {
    size_t used = 0;
    switch (pi->type) {
      case pipeline::ParamType::Int: f.value = static_cast<int64_t>(std::stoll(v, &used)); break;
      case pipeline::ParamType::Float: f.value = std::stod(v, &used); break;
      case pipeline::ParamType::Bool:
        HESSQ_CHECK(v == "true" || v == "false", "{}: {}: '{}' must be true or false, got '{}'", where, f.pass, f.key, v);
        f.value = v == "true";
        used = v.size();
        break;
      case pipeline::ParamType::String: f.value = v; used = v.size(); break;
    }
    HESSQ_CHECK(used == v.size(), "{}: {}: '{}' must be {}, got '{}'", where, f.pass, f.key, pipeline::expected_str(*pi), v);
  } catch (const std::logic_error&) {
    HESSQ_FAIL("{}: {}: '{}' must be {}, got '{}'", where, f.pass, f.key, pipeline::expected_str(*pi), v);
  }
  return f;
}

// The recipe from --method and its flags, each set through the registry's checks.
static pipeline::Recipe recipe_from_flags(const QuantizeArgs& a) {
  std::string method = a.method;
  if (a.smooth && method.find("smooth") == std::string::npos) {
    // --smooth: SmoothQuant before the branch and the solver (after a model-scope pass: a rotation).
    const pipeline::PassInfo* first = pipeline::find_pass(method.substr(0, method.find('+')));
    const bool rotate = first && first->scope == pipeline::PassScope::Model && method.find('+') != std::string::npos;
    const size_t at = rotate ? method.find('+') + 1 : 0;
    method.insert(at, "smoothquant+");
  }
  pipeline::Recipe r = pipeline::recipe_for_method(method);
  r.source = "--method " + a.method;
  const bool weight_flags = a.o_bits->count() || a.o_group->count() || a.sym || a.asym;
  HESSQ_CHECK(!(a.sym && a.asym), "--sym and --asym exclude each other");
  HESSQ_CHECK(a.format.empty() || !weight_flags,
              "--bits/--group/--sym/--asym set the weight format, which --format {} also sets (use --wformat SPEC, "
              "e.g. int4-g128, to change the weight side)",
              a.format);
  HESSQ_CHECK(a.wformat.empty() || !weight_flags, "--wformat and --bits/--group/--sym/--asym both set the weight format");
  HESSQ_CHECK(a.ggml_type.empty() || (a.format.empty() && a.wformat.empty() && a.aformat.empty() && !weight_flags),
              "--ggml-type {} sets every tensor's format; drop --format/--wformat/--aformat/--bits/--group", a.ggml_type);
  // --ggml-type: the weight formats follow the model (pipeline::apply_ggml_plan, once it is open).
  HESSQ_CHECK(!a.format.empty() || !a.wformat.empty() || a.o_bits->count() > 0 || !a.ggml_type.empty(),
              "--method {} needs the weight format: --bits B (weight-only INT), or --format F (weights and "
              "activations), or --wformat SPEC, or --ggml-type PRESET",
              a.method);
  std::vector<SetFlag> sets;
  for (const std::string& s : a.sets) {
    sets.push_back(parse_set_flag(s));
    HESSQ_CHECK(r.find(sets.back().pass) != nullptr, "{}: --method {} has no pass '{}'", sets.back().where, a.method,
                sets.back().pass);
  }
  for (pipeline::Pass& p : r.passes) {
    auto set = [&](const char* key, const pipeline::ParamValue& v, const char* flag) {
      pipeline::set_param(p, key, v, flag);
    };
    const pipeline::PassScope scope = pipeline::find_pass(p.name)->scope;
    if (scope == pipeline::PassScope::Solver) {
      if (weight_flags) {
        set("bits", int64_t{a.bits}, "--bits");
        set("group", int64_t{a.group}, "--group");
        set("sym", a.sym, "--sym");
      }
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
    if (p.name == "rotate") {
      set("seed", static_cast<int64_t>(a.rotate_seed), "--rotate-seed");
      set("fallback", !a.no_rotate_fallback, "--no-rotate-fallback");
    }
    if (p.name == "smoothquant") set("tokens", a.smooth_tokens, "--smooth-tokens");
    for (const SetFlag& f : sets)
      if (f.pass == p.name) pipeline::set_param(p, f.key, f.value, f.where);
    if (scope == pipeline::PassScope::Branch) {
      set("rank", int64_t{a.rank}, "--rank");
      set("alloc", a.alloc, "--alloc");
      set("dtype", a.lowrank_dtype, "--lowrank-dtype");
      if (p.name != "svdquant") {
        set("eps", a.arhq_eps, "--arhq-eps");
        set("eps_abs", a.arhq_eps_abs, "--arhq-eps-abs");
      }
      if (p.name == "arhq-h") set("mult", a.arhq_h_mult, "--arhq-h-mult");
    }
    pipeline::finalize_pass(p, r.source);
  }
  pipeline::set_formats(r, a.format, a.wformat, a.aformat, r.source);
  HESSQ_CHECK(!a.act_order || r.solver().name == "gptq", "--act-order applies to gptq only (method {})", a.method);
  HESSQ_CHECK(!a.o_damp->count() || r.solver().name == "gptq", "--damp applies to gptq only (method {})", a.method);
  HESSQ_CHECK(!(a.o_gamma->count() || a.o_tau->count() || a.o_max_ratio->count()) || r.find("osaq"),
              "--gamma/--tau/--max-ratio apply to osaq methods only");
  HESSQ_CHECK(!a.o_grid->count() || r.find("awq"), "--grid applies to awq methods only");
  HESSQ_CHECK(!a.clip || r.find("awq") || r.solver().name == "rtn", "--clip applies to rtn and awq");
  HESSQ_CHECK(!(a.o_rank->count() || a.alloc || a.o_lowrank_dtype->count()) || r.branch(),
              "--rank/--alloc/--lowrank-dtype need a low-rank stage (svdquant, arhq or arhq-h) in --method {}",
              a.method);
  HESSQ_CHECK(!(a.o_arhq_eps->count() || a.arhq_eps_abs) || (r.branch() && r.branch()->name != "svdquant"),
              "--arhq-eps/--arhq-eps-abs apply to arhq and arhq-h");
  HESSQ_CHECK(!a.o_arhq_h_mult->count() || r.find("arhq-h"), "--arhq-h-mult applies to arhq-h");
  HESSQ_CHECK(!(a.o_rotate_seed->count() || a.no_rotate_fallback) || r.find("rotate"),
              "--rotate-seed/--no-rotate-fallback apply to quarot methods");
  pipeline::validate_recipe(r);
  return r;
}

// The recipe from --recipe, or from --method and its flags.
static pipeline::Recipe build_recipe(const QuantizeArgs& a) {
  HESSQ_CHECK(a.recipe.empty() != a.method.empty(), "give exactly one of --recipe FILE or --method NAME");
  pipeline::Recipe r;
  if (!a.recipe.empty()) {
    HESSQ_CHECK(!method_flags_given(a), "--bits/--group/--sym/--asym/--act-order/... go with --method; with --recipe "
                                        "put them in {}",
                a.recipe);
    HESSQ_CHECK(!stage_flags_given(a) && a.format.empty() && a.wformat.empty() && a.aformat.empty(),
                "--format/--wformat/--aformat/--rank/--smooth/--alloc/... go with --method; with a recipe put them "
                "in {}",
                a.recipe);
    r = pipeline::parse_recipe(read_whole_file(a.recipe, "recipe"), a.recipe);
  } else {
    r = recipe_from_flags(a);
  }
  if (a.float_inputs) r.sequential = false;
  return r;
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
  HESSQ_CHECK(fs::weakly_canonical(a.out) != fs::weakly_canonical(a.model), "--out {} would overwrite the model",
              a.out);
  HESSQ_CHECK(io::checkpoint_kind(a.model) != io::CheckpointKind::Hessq, "{}: already quantized (.hessq)", a.model);
  if (!a.dump.empty()) {
    const fs::path parent = fs::path(a.dump).parent_path();
    HESSQ_CHECK(parent.empty() || fs::is_directory(parent), "--dump {}: output directory {} does not exist", a.dump,
                parent.string());
  }
  HESSQ_CHECK(a.dump.empty() || !a.resume, "--dump and --resume do not combine (a dump is written in one run)");
}

// Calibration windows from --calib (and the calibration record for hessq.json).
static calib::Windows calibration_windows(const QuantizeArgs& a, const model::ModelConfig& cfg,
                                          const std::string& tok_path, json& record) {
  auto tok = open_tokenizer(a.model, a.tokenizer);
  std::string text = eval::read_text(a.calib);
  if (a.calib_max_chars > 0 && static_cast<int64_t>(text.size()) > a.calib_max_chars) text.resize(a.calib_max_chars);
  calib::WindowOptions wo;
  wo.window = a.calib_window > 0 ? a.calib_window : std::min(cfg.max_seq_len, 512);
  HESSQ_CHECK(wo.window <= cfg.max_seq_len, "--calib-window {} is longer than the model's context of {} tokens",
              wo.window, cfg.max_seq_len);
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

// What identifies a run for --resume: everything that changes the output bytes.
static json run_fingerprint(const QuantizeArgs& a, const pipeline::Recipe& r, const calib::Windows& w,
                            const io::TensorStore& src) {
  uint64_t h = fnv1a(nullptr, 0);
  for (const auto* set : {&w.calib, &w.heldout})
    for (const auto& win : *set) h = fnv1a(win.data(), win.size() * sizeof(int), h);
  json files = json::array();
  std::set<std::string> seen;
  for (const auto& [name, t] : src.tensors) {
    if (!seen.insert(t.file).second) continue;
    struct stat st {};
    ::stat(t.file.c_str(), &st);
    files.push_back({{"file", t.file}, {"bytes", static_cast<int64_t>(st.st_size)},
                     {"mtime_ns", static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec}});
  }
  json recipe = r.to_json();
  recipe.erase("source");
  return {{"hessq_commit", HESSQ_COMMIT},
          {"model", a.model},
          {"model_files", files},
          {"recipe", recipe},
          {"calibration_tokens_fnv1a", fmt::format("{:016x}", h)},
          {"calibration_windows", {w.calib.size(), w.heldout.size(), w.window}},
          {"hidden_dtype", a.hidden_dtype},
          {"head_format", a.head_format}};
}

static io::DType parse_hidden_dtype(const std::string& s) {
  if (s == "f32") return io::DType::F32;
  if (s == "f16") return io::DType::F16;
  if (s == "bf16") return io::DType::BF16;
  HESSQ_FAIL("--hidden-dtype must be f32, f16 or bf16, got '{}'", s);
}

static void run_quantize(const QuantizeArgs& a) {
  // 1. Everything that can be checked before calibrating.
  pipeline::Recipe recipe = build_recipe(a);
  check_paths(a);
  // --out F.gguf: the model is built as F.gguf.hessq (resumable like any .hessq), exported, then removed.
  const bool to_gguf = fs::path(a.out).extension() == ".gguf";
  const std::string model_out = to_gguf ? a.out + ".hessq" : a.out;
  if (to_gguf) exporting::check_gguf_output(a.out, a.force);
  const io::TensorStore src = io::open_tensor_store(a.model);
  pipeline::QuantizeOptions opt;
  if (!a.head_format.empty()) {
    HESSQ_CHECK(a.ggml_type.empty(), "--ggml-type {} sets the embedding's and head's types; drop --head-format",
                a.ggml_type);
    opt.embed_spec = opt.head_spec = with_context("--head-format", [&] { return formats::parse_spec(a.head_format); });
  }
  if (!a.ggml_type.empty()) {
    const pipeline::GgmlPlan plan = pipeline::ggml_plan(a.ggml_type, src.cfg);
    pipeline::apply_ggml_plan(recipe, plan);
    opt.embed_spec = plan.embedding;
    opt.head_spec = plan.head;
  }
  if (to_gguf) {
    pipeline::check_gguf_storable(recipe, "--out " + a.out);
    HESSQ_CHECK(!opt.embed_spec || opt.embed_spec->format == formats::Format::Ggml,
                "--out {}: --head-format {} is not a ggml type (use q8_0, q6_k, ...)", a.out, a.head_format);
  }
  pipeline::check_recipe_fits(recipe, src.cfg);
  const io::DType hidden_dtype = parse_hidden_dtype(a.hidden_dtype);
  const std::string tok_path = a.tokenizer.empty() ? io::default_tokenizer_path(a.model) : a.tokenizer;

  // 2. Calibration windows, the output directory (resume state) and the memory this will take.
  io::HessqMeta meta;
  const calib::Windows w = calibration_windows(a, src.cfg, tok_path, meta.calibration);
  meta.calibration["sequential"] = recipe.sequential;
  meta.source = a.model;
  const std::string partial = io::hessq_partial_dir(model_out);
  std::string spill = a.spill == "auto" ? (fs::path(partial) / "hidden.bin").string() : a.spill;
  pipeline::MemoryEstimate est = pipeline::estimate_memory(src.cfg, recipe, w, hidden_dtype, !spill.empty(), !a.dump.empty());
  const int64_t avail = available_memory_bytes();
  if (avail > 0 && est.total() > avail && spill.empty() && est.total() - est.hidden <= avail) {
    spill = (fs::path(partial) / "hidden.bin").string();
    spdlog::info("the hidden states ({}) go to {}: the run needs ~{} and {} is available", gib_str(est.hidden), spill,
                 gib_str(est.total()), gib_str(avail));
    est.hidden = 0;
  }
  HESSQ_CHECK(avail == 0 || est.total() <= avail,
              "this run needs about {}, but only {} of memory is available; reduce --calib-tokens / --heldout-tokens, "
              "use --hidden-dtype bf16 or --spill-hidden auto",
              est.describe(), gib_str(avail));
  spdlog::info("recipe {}: {} ({}); memory estimate {}", recipe.source, recipe.describe(),
               recipe.sequential ? "sequential" : "float inputs", est.describe());
  io::HessqWriter writer(model_out, src.cfg.n_layers, run_fingerprint(a, recipe, w, src), a.resume, a.force);

  // 3. Quantize, block by block, straight into the output.
  std::unique_ptr<pipeline::Dumper> dumper;
  if (!a.dump.empty()) dumper = std::make_unique<pipeline::Dumper>(a.dump);
  opt.hidden_dtype = hidden_dtype;
  opt.spill_file = spill;
  opt.dumper = dumper.get();
  pipeline::HessqSink sink(writer, src.cfg);
  const pipeline::QuantizeReport rep = pipeline::quantize(src, recipe, w, sink, opt);

  // 4. The manifest; the output takes its name.
  meta.recipe = recipe.to_json();
  meta.summary = pipeline::summarize_diagnostics(writer.diagnostics());
  meta.summary["rotation"] = rep.rotation;
  if (!rep.hero.is_null()) meta.summary["hero"] = rep.hero;
  if (!rep.allocation.is_null()) meta.summary["allocation"] = rep.allocation;
  meta.timing = rep.timing;
  meta.timing["block_forwards"] = rep.block_forwards;
  meta.timing["resumed_from_block"] = rep.resumed_from;
  meta.timing["peak_rss_bytes"] = rep.peak_rss_bytes;
  meta.timing["hidden_states"] = {{"bytes", rep.hidden_bytes}, {"dtype", a.hidden_dtype}, {"spilled", rep.hidden_spilled}};
  const auto t0 = std::chrono::steady_clock::now();
  writer.commit(meta, tokenizer_files(tok_path));
  if (dumper) dumper->commit();

  const json manifest = io::read_hessq_manifest(model_out);
  if (to_gguf) {
    exporting::GgufExportOptions eo;
    eo.float_type = "f16";  // linears a preset keeps float, as llama-quantize stores them
    eo.tokenizer = tok_path;
    eo.force = a.force;
    if (!recipe.ggml_preset.empty()) eo.file_type = formats::ggml_preset_ftype(recipe.ggml_preset);
    exporting::export_gguf(model_out, a.out, eo);
    fs::remove_all(model_out);  // hessq wrote it above
  }
  const json& t = manifest["totals"];
  if (a.json) {
    json j = {{"out", a.out},
              {"totals", t},
              {"block_forwards", rep.block_forwards},
              {"block_forwards_expected",
               pipeline::expected_block_forwards(recipe, src.cfg.n_layers, static_cast<int64_t>(w.calib.size()),
                                                 static_cast<int64_t>(w.heldout.size()), rep.resumed_from)},
              {"resumed_from_block", rep.resumed_from},
              {"peak_rss_bytes", rep.peak_rss_bytes},
              {"recipe", meta.recipe},
              {"summary", meta.summary},
              {"timing", meta.timing}};
    j["timing"]["commit_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (to_gguf) j["gguf_bytes"] = static_cast<int64_t>(fs::file_size(a.out));
    fmt::print("{}\n", j.dump(2));
    return;
  }
  if (to_gguf) fmt::print("{}: GGUF for llama.cpp, {} bytes\n", a.out, fs::file_size(a.out));
  fmt::print("{}: {} quantized linears ({}), {:.4f} bits/weight over quantized linears, {:.4f} over all parameters{}\n",
             a.out, t["quantized_linears"].get<int>(), recipe.describe(), t["bits_per_weight_quantized"].get<double>(),
             t["bits_per_weight_all"].get<double>(),
             t.contains("extra_params_pct") ? fmt::format(", {:.2f}% extra parameters", t["extra_params_pct"].get<double>())
                                            : std::string());
}

void add_quantize(CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  auto* sub = app.add_subcommand(
      "quantize",
      "Quantize a model into a .hessq directory, block by block: weight-only (RTN, GPTQ, AWQ, OSAQ, QuaRot, "
      "SVDQuant+...) or, with an activation format, W4A4 / W4A8 (SmoothQuant, QuaRot, SVDQuant, ARHQ)");
  sub->add_option("-m,--model", a->model, "llama2.c .bin, HuggingFace model directory (safetensors F32/F16/BF16, "
                                          "single or sharded) or .gguf (F32/F16/BF16/Q4_1/Q8_0, dequantized); read "
                                          "lazily, one block at a time")
      ->required();
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
  sub->add_option("--recipe", a->recipe, "YAML recipe: formats and passes with parameters (see below)");
  sub->add_option("--method", a->method,
                  "Passes joined by '+' instead of a recipe, e.g. rtn, gptq, awq, osaq+gptq, quarot+gptq, "
                  "smoothquant, svdquant, arhq, arhq+gptq, quarot+arhq+gptq, hero+gptq, spinquant+gptq (rtn when no "
                  "solver is named)");
  a->o_bits = sub->add_option("--bits", a->bits, "Weight-only INT bits per weight (2..8)")->group("Weight format");
  a->o_group = sub->add_option("--group", a->group, "Inputs per scale group; 0 = per output channel")
                   ->group("Weight format");
  sub->add_flag("--sym", a->sym, "Symmetric INT (no zero point)")->group("Weight format");
  sub->add_flag("--asym", a->asym, "Asymmetric INT with zero points (the default)")->group("Weight format");
  sub->add_flag("--no-pad", a->no_pad, "Refuse layers whose input dim the group does not divide")->group("Weight format");
  sub->add_option("--format", a->format,
                  "Weights and activations: nvfp4, mxfp4, int4, nvfp4-2d, nvfp4-ref, mxfp8, int8, w4a8 (activations "
                  "quantized per token at run time)")
      ->group("Weight format");
  sub->add_option("--wformat", a->wformat, "Weight quantizer spec (e.g. int4-g128, nvfp4, mxfp4): replaces the "
                                           "format's weight side, or alone sets a weight-only format")
      ->group("Weight format");
  sub->add_option("--aformat", a->aformat, "Activation quantizer spec (e.g. int8-tok, fp8-e4m3-tok): replaces the "
                                           "format's activation side, or adds one to a weight-only format")
      ->group("Weight format");
  sub->add_flag("--act-order", a->act_order, "gptq: columns in descending diag(H)")->group("Passes");
  a->o_damp = sub->add_option("--damp", a->damp, "gptq: dampening, fraction of mean(diag H)")->group("Passes");
  a->o_gamma = sub->add_option("--gamma", a->gamma, "osaq: null-space tail energy fraction")->group("Passes");
  a->o_tau = sub->add_option("--tau", a->tau, "osaq: softmax temperature (relative to row max|w|)")->group("Passes");
  a->o_max_ratio = sub->add_option("--max-ratio", a->max_ratio,
                                   "osaq: keep a linear's W when the change moves its calibration output by more than "
                                   "this fraction (default 0.01; 0: always apply)")
                       ->group("Passes");
  a->o_grid = sub->add_option("--grid", a->grid, "awq: alpha grid points")->group("Passes");
  sub->add_flag("--clip", a->clip, "rtn/awq: clip-ratio search")->group("Passes");
  a->o_rank = sub->add_option("--rank", a->rank, "svdquant/arhq/arhq-h: rank of every linear's low-rank branch")
                  ->check(CLI::NonNegativeNumber)->group("Passes");
  sub->add_flag("--alloc", a->alloc, "svdquant/arhq: share the budget rank * sum(m + n) over all linears")
      ->group("Passes");
  sub->add_flag("--smooth", a->smooth, "Add SmoothQuant (per linear, alpha searched) before the branch and solver")
      ->group("Passes");
  a->o_smooth_tokens = sub->add_option("--smooth-tokens", a->smooth_tokens, "smoothquant: tokens for the alpha search")
                           ->capture_default_str()->check(CLI::PositiveNumber)->group("Passes");
  a->o_arhq_h_mult = sub->add_option("--arhq-h-mult", a->arhq_h_mult, "arhq-h: m in H + m beta G")
                         ->capture_default_str()->group("Passes");
  a->o_arhq_eps = sub->add_option("--arhq-eps", a->arhq_eps, "arhq: eigenvalue clamp of G, relative to its largest")
                      ->capture_default_str()->group("Passes");
  sub->add_flag("--arhq-eps-abs", a->arhq_eps_abs, "arhq: --arhq-eps is absolute (the reference code's rule)")
      ->group("Passes");
  a->o_lowrank_dtype = sub->add_option("--lowrank-dtype", a->lowrank_dtype, "Branch factor storage, f16 or f32")
                           ->capture_default_str()->group("Passes");
  a->o_rotate_seed = sub->add_option("--rotate-seed", a->rotate_seed, "quarot: seed of the Hadamard signs")
                         ->capture_default_str()->group("Passes");
  sub->add_flag("--no-rotate-fallback", a->no_rotate_fallback,
                "quarot: fail on a dimension without a known Hadamard construction instead of using a seeded random "
                "orthogonal block")
      ->group("Passes");
  sub->add_option("--set", a->sets,
                  "A pass parameter for --method, PASS.KEY=VALUE (repeatable; the registry's names, types and ranges, "
                  "listed below), e.g. --set hero.steps=50 --set hero.every=2")
      ->group("Passes");
  sub->add_flag("--float-inputs", a->float_inputs,
                "Calibrate every block on the float model's activations instead of the quantized blocks' outputs");
  sub->add_option("-o,--out", a->out,
                  "Output .hessq directory (its parent must exist; built in OUT.partial), or a .gguf file for llama.cpp "
                  "(weights in ggml types: --ggml-type or --wformat q4_0 ...; built as OUT.hessq, then exported)")
      ->required();
  sub->add_flag("--resume", a->resume,
                "Continue an interrupted run of the same command from OUT.partial (same output bytes as an "
                "uninterrupted run; a changed command or input is refused)");
  sub->add_flag("--force", a->force, "Replace OUT when it already holds a .hessq model");
  sub->add_option("--hidden-dtype", a->hidden_dtype,
                  "Storage of the hidden states between blocks: f32 (exact), f16 or bf16 (half the memory)")
      ->capture_default_str()->group("Memory");
  sub->add_option("--spill-hidden", a->spill,
                  "Keep the hidden states in this file (memory-mapped) instead of memory; 'auto': in OUT.partial "
                  "(chosen automatically when they would not fit)")
      ->group("Memory");
  sub->add_option("--head-format", a->head_format,
                  "Also quantize the token embedding and the output head (RTN) to this weight format, e.g. int8-g32, "
                  "int6-g32 or int4-g32 (default: kept as the source stores them). INT formats in groups of 32k "
                  "values run packed: the embedding is read row by row, the head by the packed decode kernel");
  sub->add_option("--ggml-type", a->ggml_type,
                  "llama-quantize's type mix, e.g. Q4_K_M, Q4_K_S, Q3_K_M, Q5_K_M, Q6_K, Q8_0, Q4_0 (any case): each "
                  "tensor gets the ggml type llama-quantize would give it (more bits for attn_v/ffn_down in some "
                  "layers, Q6_K/Q8_0 output, its fallbacks for rows that do not fill a block) and the solver quantizes "
                  "onto that exact grid; the embedding and head by RTN. Weight-only methods: rtn, gptq, awq, osaq+gptq")
      ->group("Weight format");
  sub->add_option("--dump", a->dump, "Also write each linear's W, calibration X and W_q as .npy + manifest.json here");
  sub->add_flag("--json", a->json,
                "Print a JSON summary (totals, block_forwards, peak RSS, per-projection diagnostics, timing) on "
                "stdout");
  sub->footer("Recipe (YAML; quantize reads weight-only and W4A4 recipes alike):\n"
              "  format: nvfp4            # optional: weights + activations; or wformat / aformat\n"
              "  sequential: true\n  passes:\n    - rotate: {seed: 0}\n    - osaq: {gamma: 1e-4}\n"
              "    - arhq: {rank: 16}\n    - gptq: {act_order: false}   # bits/group/sym/format: weight-only format\n\n"
              "Passes run in scope order (model, block, branch, solver):\n" +
              pipeline::recipe_help() +
              "\nExamples:\n  hessq quantize --model ../shared/models/stories260K/stories260K.bin --calib "
              "../shared/data/tinystories/tinystories_validation_head.txt --calib-max-chars 100000 --method gptq --bits 4 "
              "--group 32 --out /tmp/s260k-gptq-w4g32.hessq\n"
              "  hessq quantize --model ../shared/models/stories260K/stories260K.bin --calib "
              "../shared/data/tinystories/tinystories_validation_head.txt --calib-max-chars 100000 --method arhq --format "
              "nvfp4 --rank 8 --out /tmp/s260k-arhq8.hessq\n"
              "  hessq quantize --model SmolLM2-135M-Instruct.Q4_1.gguf --calib ../shared/data/c4/c4_en_train_first1000.jsonl "
              "--method gptq --ggml-type Q4_K_M --out smollm2-q4_k_m.gguf   # for llama.cpp\n"
              "  (killed?) rerun the same command with --resume\nSee docs/cli/quantize.md and docs/cli/quantize-w4a4.md.");
  sub->callback([a] { run_quantize(*a); });
}

}  // namespace hessq::cli
