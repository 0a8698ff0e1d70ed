// hessq snr: the layer-wise SNR study (eval/layer_snr.hpp): baseline, SmoothQuant, SVDQuant, ARHQ and
// ARHQ-H on captured (or synthetic) activations, per format x rank x setting, with the extras against
// plain ARHQ, written as Markdown / CSV / JSON / SVG, and an optional .npy dump of every linear.
#include <filesystem>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "hessq/calib/capture.hpp"
#include "hessq/cli/common.hpp"
#include "hessq/commit.hpp"
#include "hessq/core/atomic_file.hpp"
#include "hessq/core/error.hpp"
#include "hessq/core/progress.hpp"
#include "hessq/eval/layer_snr.hpp"
#include "hessq/eval/snr_report.hpp"
#include "hessq/eval/text.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/io/npy.hpp"

namespace hessq::cli {

namespace fs = std::filesystem;

struct SnrArgs {
  std::string model, tokenizer, calib, json, dump, out_dir;
  std::vector<std::string> formats, methods = eval::snr_method_names(), settings = eval::snr_setting_names(),
                                    extras = eval::snr_extra_names(), projs, alloc_objectives = {"nsr"};
  std::string wformat, aformat;
  std::vector<int> ranks = {4, 8, 16}, layers;
  int64_t calib_tokens = 2048, eval_tokens = 1024, max_chars = 0;
  int window = 512;
  double eps_abs = 0, eps_rel = 1e-6, h_mult = 16;
  int refine_iters = 3, rsvd_oversample = 10, rsvd_power_iters = 2;
  int64_t search_tokens = 1024;
  bool skip_large_ranks = false, synthetic = false;
  int outlier_channels = 8;
  double outlier_scale = 20;
  uint64_t seed = 0;
  std::string command;  // the command line, for the reports
};

static std::vector<model::Proj> chosen_projs(const std::vector<std::string>& names) {
  std::vector<model::Proj> out;
  for (model::Proj p : model::kAllProjs)
    if (names.empty() || std::find(names.begin(), names.end(), model::proj_name(p)) != names.end()) out.push_back(p);
  for (const std::string& n : names) {
    bool ok = false;
    for (model::Proj p : model::kAllProjs) ok = ok || n == model::proj_name(p);
    HESSQ_CHECK(ok, "unknown projection '{}' in --projs; accepted: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, "
                    "down_proj", n);
  }
  return out;
}

static eval::SnrStudyOptions study_options(const SnrArgs& a) {
  eval::SnrStudyOptions o;
  for (const std::string& f : a.formats) o.formats.push_back(methods::parse_layer_format(f));
  HESSQ_CHECK(a.wformat.empty() == a.aformat.empty(), "--wformat and --aformat go together (got only one)");
  if (!a.wformat.empty()) o.formats.push_back(methods::layer_format_from_specs(a.wformat, a.aformat));
  if (o.formats.empty()) o.formats.push_back(methods::parse_layer_format("nvfp4"));
  o.ranks = a.ranks;
  o.methods = a.methods;
  o.settings = a.settings;
  o.extras = a.extras;
  if (o.extras.size() == 1 && o.extras[0] == "none") o.extras.clear();
  o.alloc_objectives = a.alloc_objectives;
  o.arhq_h_mult = a.h_mult;
  o.eps = a.eps_abs > 0 ? a.eps_abs : a.eps_rel;
  o.eps_relative = !(a.eps_abs > 0);
  o.refine_iters = a.refine_iters;
  o.rsvd_oversample = a.rsvd_oversample;
  o.rsvd_power_iters = a.rsvd_power_iters;
  o.search_tokens = a.search_tokens;
  o.smooth.max_search_tokens = a.search_tokens;
  o.skip_large_ranks = a.skip_large_ranks;
  o.seed = a.seed;
  eval::validate(o);
  return o;
}

// DIR/manifest.json + one .npy per weight and per distinct input (shared inputs stored once).
static void write_dump(const std::string& dir, const calib::Capture& cap, const std::vector<eval::LinearCase>& cases,
                       const nlohmann::ordered_json& meta) {
  if (fs::exists(dir))
    HESSQ_CHECK(fs::is_directory(dir) && (fs::is_empty(dir) || fs::exists(fs::path(dir) / "manifest.json")),
                "--dump {}: exists and is not an earlier dump (no manifest.json); refusing to replace it", dir);
  AtomicDir out(dir);
  nlohmann::ordered_json man = meta;
  man["linears"] = nlohmann::ordered_json::array();
  man["inputs"] = nlohmann::ordered_json::array();
  for (const calib::CapturedInput& c : cap.inputs) {
    const std::string base = fmt::format("layer{}.{}", c.layer, calib::input_name(c.kind));
    io::write_npy(out.tmp_path() + "/" + base + ".x_calib.npy", c.X_calib.data(), {c.X_calib.rows(), c.X_calib.cols()});
    io::write_npy(out.tmp_path() + "/" + base + ".x_eval.npy", c.X_eval.data(), {c.X_eval.rows(), c.X_eval.cols()});
    man["inputs"].push_back({{"layer", c.layer}, {"input", calib::input_name(c.kind)},
                             {"x_calib", base + ".x_calib.npy"}, {"x_eval", base + ".x_eval.npy"}});
  }
  for (const eval::LinearCase& c : cases) {
    const std::string w = fmt::format("layer{}.{}.w.npy", c.layer, c.proj);
    io::write_npy(out.tmp_path() + "/" + w, c.W->data(), {c.W->rows(), c.W->cols()});
    model::Proj p = model::Proj::Q;
    for (model::Proj q : model::kAllProjs)
      if (c.proj == model::proj_name(q)) p = q;
    const std::string x = fmt::format("layer{}.{}", c.layer, calib::input_name(calib::input_of(p)));
    man["linears"].push_back({{"layer", c.layer}, {"proj", c.proj}, {"w", w}, {"x_calib", x + ".x_calib.npy"},
                              {"x_eval", x + ".x_eval.npy"}, {"m", c.W->rows()}, {"n", c.W->cols()}});
  }
  write_file_atomic(out.tmp_path() + "/manifest.json", man.dump(1) + "\n");
  out.commit();
  spdlog::info("wrote {} ({} linears, {} inputs)", dir, cases.size(), cap.inputs.size());
}

// One line per linear: the first format, the largest rank.
static std::string linear_line(const eval::LinearStudy& st) {
  int rank = -1;
  for (const eval::SnrRecord& r : st.records) rank = std::max(rank, r.rank);
  std::string s;
  std::string fmt0 = st.records.empty() ? "" : st.records.front().format;
  for (const eval::SnrRecord& r : st.records) {
    if (r.format != fmt0) continue;
    if (r.method == "baseline") s += fmt::format(" base {:.2f} dB", r.snr_db);
    if (r.method == "smoothquant") s += fmt::format(", sq {:+.2f}", r.gain_db);
    if ((r.method == "svdquant" || r.method == "arhq") && r.setting == "raw" && r.rank == rank)
      s += fmt::format(", {} r{} {:+.2f}", r.method, r.rank, r.gain_db);
  }
  return fmt0 + ":" + s;
}

static void run_snr(const SnrArgs& a) {
  const eval::SnrStudyOptions opt = study_options(a);  // names first: fail before any heavy work
  const std::vector<model::Proj> projs = chosen_projs(a.projs);
  HESSQ_CHECK(a.synthetic || !a.calib.empty(), "--calib FILE is required (or --synthetic-activations)");
  const auto t_start = std::chrono::steady_clock::now();
  model::Model m = io::load_model(a.model);
  calib::Capture cap;
  if (a.synthetic) {
    calib::SyntheticOptions so;
    so.calib_tokens = a.calib_tokens;
    so.eval_tokens = a.eval_tokens;
    so.outlier_channels = a.outlier_channels;
    so.outlier_scale = a.outlier_scale;
    so.seed = a.seed;
    so.layers = a.layers;
    cap = calib::synthetic_inputs(m.cfg, so);
    spdlog::info("synthetic activations: N(0, 1) tokens, {} outlier channel(s) x {} per input (seed {})",
                 a.outlier_channels, a.outlier_scale, a.seed);
  } else {
    auto tok = open_tokenizer(a.model, a.tokenizer);
    std::string text = eval::read_text(a.calib);
    if (a.max_chars > 0 && static_cast<int64_t>(text.size()) > a.max_chars) text.resize(a.max_chars);
    const std::vector<int> stream = tok->encode(text, true);
    calib::CaptureOptions co;
    co.window = a.window;
    co.calib_tokens = a.calib_tokens;
    co.eval_tokens = a.eval_tokens;
    co.layers = a.layers;
    cap = with_context(a.calib, [&] { return calib::capture_inputs(m, stream, co); });
  }

  std::vector<methods::MatF> weights;  // owned copies, [m, n]
  std::vector<std::pair<const calib::CapturedInput*, model::Proj>> which;
  for (const calib::CapturedInput& c : cap.inputs)
    for (model::Proj p : projs)
      if (calib::input_of(p) == c.kind) which.push_back({&c, p});
  std::sort(which.begin(), which.end(), [](const auto& x, const auto& y) {
    return x.first->layer != y.first->layer ? x.first->layer < y.first->layer : x.second < y.second;
  });
  weights.reserve(which.size());
  std::vector<eval::LinearCase> cases;
  for (const auto& [c, p] : which) {
    auto* d = dynamic_cast<const model::DenseLinear*>(m.layers[c->layer].linear(p).get());
    HESSQ_CHECK(d, "{}: layer {} {} is not a dense float linear", a.model, c->layer, model::proj_name(p));
    const Tensor& W = d->weight();
    weights.push_back(Eigen::Map<const methods::MatF>(W.ptr(), W.shape[0], W.shape[1]));
    cases.push_back({c->layer, model::proj_name(p), &weights.back(), &c->X_calib, &c->X_eval});
  }
  eval::check_ranks(cases, opt);

  nlohmann::ordered_json meta = {{"tool", "hessq snr"}, {"version", HESSQ_VERSION}, {"commit", HESSQ_COMMIT},
                                 {"command", a.command}, {"model", a.model},
                                 {"activations", a.synthetic ? "synthetic" : "captured"},
                                 {"calib", a.synthetic ? "" : a.calib}, {"calib_tokens", cap.calib_tokens},
                                 {"eval_tokens", cap.eval_tokens}, {"window", cap.window}, {"seed", a.seed}};
  if (a.synthetic) meta["synthetic"] = {{"outlier_channels", a.outlier_channels}, {"outlier_scale", a.outlier_scale}};
  if (!a.dump.empty()) write_dump(a.dump, cap, cases, meta);

  std::vector<eval::LinearStudy> studies;
  std::vector<eval::SnrRecord> records;
  Progress bar("snr study", static_cast<int64_t>(cases.size()));
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    eval::LinearStudy st = eval::study_linear(cases[i], opt);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (const std::string& s : st.skipped) spdlog::warn("layer {} {}: {} skipped (the branch would hold the whole weight)", st.layer, st.proj, s);
    spdlog::info("[{}/{}] layer {} {:9} [{}, {}] {}  {:.2f} s", i + 1, cases.size(), st.layer, st.proj, st.m, st.n,
                 linear_line(st), secs);
    records.insert(records.end(), st.records.begin(), st.records.end());
    studies.push_back(std::move(st));
    bar.advance();
  }
  bar.finish();
  const std::vector<eval::SnrRecord> alloc = eval::allocation_records(studies, opt);
  records.insert(records.end(), alloc.begin(), alloc.end());
  meta["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  meta["linears"] = cases.size();

  if (!a.json.empty()) write_file_atomic(a.json, eval::snr_records_json(records));
  if (!a.out_dir.empty()) {
    if (!fs::exists(a.out_dir)) {
      std::error_code ec;
      fs::create_directory(a.out_dir, ec);
      HESSQ_CHECK(!ec, "--out-dir {}: cannot create it: {}", a.out_dir, ec.message());
    }
    const std::string d = a.out_dir + "/";
    write_file_atomic(d + "snr.md", eval::snr_markdown(records, "hessq layer-wise SNR study", a.command));
    write_file_atomic(d + "snr.csv", eval::snr_csv(records));
    write_file_atomic(d + "snr.json", eval::snr_report_json(records, meta));
    for (const std::string& f : eval::snr_formats(records)) {
      std::string safe = f;
      for (char& ch : safe)
        if (ch == ':' || ch == ',' || ch == '/') ch = '_';
      write_file_atomic(d + "snr_vs_rank_" + safe + ".svg", eval::snr_chart_svg(records, f));
    }
    spdlog::info("wrote {}snr.md, snr.csv, snr.json and the SVG chart(s)", d);
  }
  fmt::print("{}", eval::snr_summary_markdown(records));
  spdlog::info("{} linears, {} records in {:.1f} s", cases.size(), records.size(), meta["seconds"].get<double>());
}

void add_snr(CLI::App& app) {
  auto a = std::make_shared<SnrArgs>();
  auto* sub = app.add_subcommand("snr", "Layer-wise SNR study: baseline, SmoothQuant, SVDQuant, ARHQ, ARHQ-H per "
                                        "linear, format and rank, on held-out activations");
  sub->add_option("-m,--model", a->model, "llama2.c .bin, HuggingFace model directory or .gguf (dequantized)")->required();
  sub->add_option("--tokenizer", a->tokenizer, "Tokenizer file (default: the one beside the model)");
  sub->add_option("--calib", a->calib, "Calibration text (.txt, or .jsonl with a \"text\" field)");
  sub->add_option("--calib-tokens", a->calib_tokens, "Calibration tokens: the first N of the stream")
      ->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--eval-tokens", a->eval_tokens, "Held-out tokens: the N after the calibration ones")
      ->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--window", a->window, "Tokens per forward window (capped at the model's context)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--max-chars", a->max_chars, "Encode only the first N bytes of the calibration text")
      ->check(CLI::NonNegativeNumber);
  std::string fmt_help = "Formats, comma-separated (default nvfp4):";
  for (const auto& r : methods::layer_format_table()) fmt_help += fmt::format("\n  {}: W {} / A {}", r.name, r.w, r.x);
  sub->add_option("--format", a->formats, fmt_help)->delimiter(',');
  sub->add_option("--wformat", a->wformat, "Explicit weight quantizer spec (with --aformat), e.g. int4-g128");
  sub->add_option("--aformat", a->aformat, "Explicit activation quantizer spec (with --wformat), e.g. int8-tok");
  sub->add_option("--ranks", a->ranks, "Branch ranks, comma-separated")->delimiter(',')->capture_default_str();
  sub->add_option("--methods", a->methods, "baseline,smoothquant,svdquant,arhq,arhq-h (default: all)")->delimiter(',');
  sub->add_option("--settings", a->settings, "raw,smooth (default: both): low-rank methods on W or on the smoothed W")
      ->delimiter(',');
  sub->add_option("--extras", a->extras, "Beyond the paper, vs plain ARHQ: refine,rsvd,alloc (default: all) or none")
      ->delimiter(',');
  sub->add_option("--alloc-objective", a->alloc_objectives,
                  "alloc extra: nsr (sum of relative output noise, default), db (mean SNR in dB), or nsr,db")
      ->delimiter(',');
  sub->add_option("--layers", a->layers, "Layers to study, comma-separated (default: all)")->delimiter(',');
  sub->add_option("--projs", a->projs, "Projections to study, e.g. q_proj,down_proj (default: all)")->delimiter(',');
  sub->add_option("--arhq-eps-abs", a->eps_abs, "ARHQ eigenvalue clamp, absolute (reference code: 1e-6); default relative");
  sub->add_option("--arhq-eps-rel", a->eps_rel, "ARHQ eigenvalue clamp relative to max eigenvalue")->capture_default_str();
  sub->add_option("--arhq-h-mult", a->h_mult, "arhq-h multiplier m in H + m beta G")->capture_default_str();
  sub->add_option("--refine-iters", a->refine_iters, "Fixed-point iterations of the refine extra")->capture_default_str();
  sub->add_option("--rsvd-oversample", a->rsvd_oversample, "Randomized SVD oversampling")->capture_default_str();
  sub->add_option("--rsvd-power-iters", a->rsvd_power_iters, "Randomized SVD power iterations")->capture_default_str();
  sub->add_option("--search-tokens", a->search_tokens,
                  "Calibration tokens for the SmoothQuant alpha search and the allocation curves (0: all)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_flag("--skip-large-ranks", a->skip_large_ranks, "Skip linears a rank does not fit instead of failing");
  sub->add_flag("--synthetic-activations", a->synthetic,
                "Draw activations (N(0,1) with outlier channels) instead of running the model on --calib");
  sub->add_option("--outlier-channels", a->outlier_channels, "Synthetic: outlier channels per input")->capture_default_str();
  sub->add_option("--outlier-scale", a->outlier_scale, "Synthetic: outlier channel scale")->capture_default_str();
  sub->add_option("--seed", a->seed, "Seed (synthetic activations, randomized SVD)")->capture_default_str();
  sub->add_option("--json", a->json, "Write the records as a JSON list to FILE");
  sub->add_option("--dump", a->dump, "Write every linear's W and activations as .npy + manifest.json to DIR");
  sub->add_option("--out-dir", a->out_dir, "Write snr.md, snr.csv, snr.json and snr_vs_rank_<format>.svg to DIR");
  sub->footer("Example:\n  hessq snr --model ../shared/models/stories260K/stories260K.bin "
              "--calib ../shared/data/tinystories/tinystories_validation_head.txt --format nvfp4 --ranks 4,8,16,32 "
              "--out-dir out/snr\nSee docs/cli/snr.md.");
  sub->callback([a, sub] {
    std::ostringstream cmd;  // the options as given, for the reports
    cmd << "hessq snr";
    for (const CLI::Option* o : sub->get_options()) {
      if (o->count() == 0 || o->get_lnames().empty()) continue;
      cmd << " --" << o->get_lnames().front();
      if (o->get_expected_max() == 0) continue;  // a flag
      std::string v;
      for (const std::string& r : o->results()) v += (v.empty() ? "" : ",") + r;
      cmd << " " << v;
    }
    a->command = cmd.str();
    run_snr(*a);
  });
}

}  // namespace hessq::cli
