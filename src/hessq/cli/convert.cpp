// hessq convert: llama2.c .bin <-> HuggingFace directory (and a GGUF file, dequantized, to either),
// converting the q/k RoPE row layout.
#include <spdlog/spdlog.h>

#include "hessq/cli/common.hpp"
#include "hessq/core/error.hpp"
#include "hessq/io/checkpoint.hpp"

namespace hessq::cli {

struct ConvertArgs {
  std::string model, out, to, dtype = "f32";
};

static void run_convert(const ConvertArgs& a) {
  const io::CheckpointKind from = io::checkpoint_kind(a.model);
  std::string to = a.to.empty() ? (from == io::CheckpointKind::HfDirectory ? "llama2c" : "hf") : a.to;
  HESSQ_CHECK(to == "hf" || to == "llama2c", "--to must be hf or llama2c, got '{}'", to);
  io::Checkpoint ck = io::read_checkpoint(a.model);
  model::build_model(ck.cfg, ck.tensors, a.model);  // validate before writing anything
  if (to == "hf") {
    auto dtype = io::parse_dtype(a.dtype == "f32" ? "F32" : a.dtype == "f16" ? "F16" : a.dtype == "bf16" ? "BF16" : "");
    HESSQ_CHECK(dtype.has_value(), "--dtype must be f32, f16 or bf16, got '{}'", a.dtype);
    io::write_hf_checkpoint(a.out, std::move(ck), *dtype);
  } else {
    io::write_llama2c_checkpoint(a.out, std::move(ck));
  }
  spdlog::info("wrote {} ({})", a.out, to);
}

void add_convert(CLI::App& app) {
  auto a = std::make_shared<ConvertArgs>();
  auto* sub = app.add_subcommand("convert", "Convert between llama2.c .bin and HuggingFace safetensors directories");
  sub->add_option("-m,--model", a->model, "Input: llama2.c .bin, HF model directory or .gguf (dequantized)")->required();
  sub->add_option("-o,--out", a->out, "Output: a directory (hf) or a .bin file (llama2c)")->required();
  sub->add_option("--to", a->to, "hf or llama2c (default: llama2c from an HF directory, else hf)");
  sub->add_option("--dtype", a->dtype, "HF storage dtype: f32, f16 or bf16")->capture_default_str();
  sub->footer("llama2.c rotates interleaved pairs of each head, HF rotates halves: q/k rows are permuted so\n"
              "both files give the same logits. llama2.c -> hf -> llama2c reproduces the original bytes.");
  sub->callback([a] { run_convert(*a); });
}

}  // namespace hessq::cli
