// W4A4 quantization of a whole model (weights and activations in 4 bits): what to run, resolved from
// a method name (`--method arhq+gptq --format int4 --rank 16 --smooth`) or a recipe. Stages, in
// order (METHODS.md "Baselines", "ARHQ"):
//   rotate       QuaRot-style (Ashkboos et al. 2024, arXiv:2404.00456): fold RMSNorm into the linears,
//                seeded Hadamard rotation of the residual stream folded into the weights, per-head
//                rotation v -> o, online Hadamard before down_proj (transforms/rotation.hpp)
//   smoothquant  per-linear s = absmax^alpha / max|W|^(1-alpha), alpha searched per linear
//                (Xiao et al. 2022, arXiv:2211.10438); s is kept as the layer's input transform
//   svdquant / arhq / arhq-h   the rank-r branch L = B A^T (Li et al. 2024, arXiv:2411.05007; ARHQ),
//                rank fixed or allocated under a global budget (methods/rank_allocation.hpp)
//   rtn / gptq   the residual weight W - L quantized with Q_w (GPTQ: INT and MXFP4 weights,
//                methods/gptq.hpp and methods/gptq_mx.hpp; NVFP4 is refused)
// Every block linear then runs as runtime::ActQuantLinear: Q_x(x / s) Q_w(W_res)^T + (x / s A) B^T.
// Embeddings, norms, attention (incl. the KV cache) and lm_head stay in fp32.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hessq/methods/gptq.hpp"
#include "hessq/methods/layer_quant.hpp"
#include "hessq/methods/lowrank_storage.hpp"
#include "hessq/model/config.hpp"
#include "hessq/transforms/rotation.hpp"

namespace hessq::pipeline {

enum class LowRankMethod { None, Svdquant, Arhq, ArhqH };
const char* lowrank_method_name(LowRankMethod m);  // "", "svdquant", "arhq", "arhq-h"

struct W4a4Config {
  std::string method;             // what the user asked for, e.g. "quarot+gptq", for reports
  methods::LayerFormat format;    // Q_w and Q_x (methods::parse_layer_format: nvfp4, mxfp4, int4, ...)

  bool rotate = false;
  transforms::RotateOptions rotate_opt;  // seed, online_down, rotate_v_o, allow_random_fallback

  bool smooth = false;
  std::vector<double> alpha_grid = default_alpha_grid();  // searched per linear
  int64_t smooth_tokens = 1024;   // strided calibration tokens for the alpha search's output MSE
  double smooth_min = 1e-5;       // floor of absmax, max|W| and s (as methods::SmoothOptions)

  LowRankMethod lowrank = LowRankMethod::None;
  int rank = 0;                   // per linear; with `allocate`, the uniform rank whose budget is shared
  bool allocate = false;          // ranks per linear under the budget rank * sum(m + n) (all block linears)
  double arhq_h_mult = 16;        // arhq-h: H + mult * beta * G
  double eps = 1e-6;              // ARHQ eigenvalue clamp
  bool eps_relative = true;
  methods::LowRankStorage lowrank_storage = methods::LowRankStorage::F16;

  std::string solver = "rtn";     // "rtn" or "gptq", on the residual weight
  methods::GptqOptions gptq;
  bool pad = true;                // zero-pad inputs the weight group does not divide (else an error)

  bool sequential = true;         // block k calibrates on the outputs of the quantized blocks < k
  int64_t diag_tokens = 1024;     // strided calibration tokens for the per-linear SNR diagnostic
  uint64_t seed = 0;              // rotation signs / random fallback

  static std::vector<double> default_alpha_grid();  // 0, 0.05, ..., 1
  nlohmann::ordered_json to_json() const;
};

// A config from a method name: stages joined by '+', in any order, e.g. "rtn", "gptq", "smoothquant",
// "svdquant", "arhq", "arhq-h", "quarot+rtn", "quarot+gptq", "arhq+gptq", "smooth+arhq". Stages:
// quarot (alias rotate), smoothquant (alias smooth), svdquant | arhq | arhq-h, rtn | gptq (default
// rtn). `format`: a methods::layer_format_table() name. Throws naming the method on unknown or
// duplicated stages.
W4a4Config w4a4_config_for_method(const std::string& method, const std::string& format, int rank, bool smooth);

// Everything that can be checked before calibrating, for every block linear of `cfg`: the
// activation format and its pairing with the weight format (runtime::check_activation_spec), the
// weight group vs the input dim (padding), gptq on a non-INT format, the rank against min(m, n), the
// option ranges. Errors name the linear (e.g. "model.layers.*.self_attn.k_proj [32, 64]").
void check_w4a4_fits(const W4a4Config& c, const model::ModelConfig& cfg);

}  // namespace hessq::pipeline
