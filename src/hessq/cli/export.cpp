// hessq export: a model (float checkpoint or .hessq) in a format other engines load. One table of
// targets below; each target's writer lives in src/hessq/export/ and documents its layout.
#include <spdlog/spdlog.h>

#include <functional>
#include <vector>

#include "hessq/cli/common.hpp"
#include "hessq/core/error.hpp"
#include "hessq/export/arhq_artifact.hpp"
#include "hessq/export/compressed_tensors.hpp"
#include "hessq/export/gguf_export.hpp"
#include "hessq/export/gptq.hpp"

namespace hessq::cli {

struct ExportArgs {
  std::string model, out, to, tokenizer;
  std::string type;  // a target-specific storage choice (each target's help line says which)
  bool force = false;
};

struct ExportTarget {
  const char* name;
  const char* help;  // one line for --help: what is written and what can be exported
  std::function<void(const ExportArgs&)> run;
};

// Options of the HuggingFace-directory targets (gptq, compressed-tensors).
static exporting::HfExportOptions hf_options(const ExportArgs& a) {
  return {a.model, a.out, a.tokenizer, exporting::hf_float_dtype(a.type, a.to), a.force};
}

// The export targets, in --help order.
static const std::vector<ExportTarget>& export_targets() {
  static const std::vector<ExportTarget> targets = {
      {"gguf", "GGUF v3 for llama.cpp: a float checkpoint, or a .hessq quantized to ggml types (--wformat q4_k, ...); "
               "--type f32 (default), f16 or bf16 for the float matrices",
       [](const ExportArgs& a) {
         exporting::export_gguf(a.model, a.out, {a.type.empty() ? "f32" : a.type, a.tokenizer, a.force, std::nullopt});
       }},
      {"gptq", "HF directory, GPTQ format (transformers, GPTQModel, vLLM) of an INT2/3/4/8 .hessq; --type f16|bf16|f32 "
               "for the unquantized tensors",
       [](const ExportArgs& a) { exporting::write_gptq(hf_options(a)); }},
      {"compressed-tensors", "HF directory, compressed-tensors nvfp4-pack-quantized (vLLM) of a weight-only NVFP4 "
                             ".hessq; --type as for gptq",
       [](const ExportArgs& a) { exporting::write_compressed_tensors(hf_options(a)); }},
      {"arhq-artifact", "the ARHQ reference code's NVFP4 + low-rank artifact (manifest.json, layers/*.safetensors) of a "
                        "W4A4 NVFP4 ARHQ/SVDQuant .hessq; --type fp16 (default), packed4bit or both",
       [](const ExportArgs& a) { exporting::write_arhq_artifact({a.model, a.out, a.type, a.force}); }},
  };
  return targets;
}

static void run_export(const ExportArgs& a) {
  std::string names;
  for (const ExportTarget& t : export_targets()) {
    if (t.name == a.to) {
      t.run(a);
      spdlog::info("wrote {} ({})", a.out, a.to);
      return;
    }
    names += (names.empty() ? "" : ", ") + std::string(t.name);
  }
  throw Error(fmt::format("--to must be one of {}, got '{}'", names, a.to));
}

void add_export(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  auto* sub = app.add_subcommand("export", "Write a model in a format other engines load (llama.cpp, transformers, vLLM)");
  sub->add_option("-m,--model", a->model, "Input: a .hessq directory, an HF directory, a llama2.c .bin or a .gguf")->required();
  sub->add_option("-o,--out", a->out, "Output file or directory (written under this name only when complete)")->required();
  sub->add_option("--to", a->to, "Target format (see below)")->required();
  sub->add_option("--type", a->type, "Target storage type where the target has a choice (see below)");
  sub->add_option("--tokenizer", a->tokenizer, "Tokenizer to embed or copy (default: the one beside the model)");
  sub->add_flag("--force", a->force, "Replace an existing output that hessq wrote");
  std::string footer = "Targets:\n";
  for (const ExportTarget& t : export_targets()) footer += fmt::format("  {:<22}{}\n", t.name, t.help);
  sub->footer(footer);
  sub->callback([a] { run_export(*a); });
}

}  // namespace hessq::cli
