// The block layout table: for each of a Llama block's seven linears, its HF name, its shape [m, n] =
// [out, in] under a config, whether it carries a bias, and which of the block's four distinct inputs
// it reads. Every part of hessq that walks a block's linears (loading, calibration, quantization,
// storage, transforms) asks this table instead of spelling the facts out again.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "hessq/model/config.hpp"
#include "hessq/model/linear.hpp"

namespace hessq::model {

// The four distinct linear inputs of a decoder block; linears that read the same input (q/k/v,
// gate/up) share its calibration statistics.
enum class InputKind {
  Attn,     // q_proj, k_proj, v_proj: the normed residual stream  [dim]
  AttnOut,  // o_proj: the attention output                         [q_dim]
  Mlp,      // gate_proj, up_proj: the normed residual stream       [dim]
  MlpOut,   // down_proj: silu(gate) * up                           [hidden_dim]
};
inline constexpr InputKind kAllInputs[] = {InputKind::Attn, InputKind::AttnOut, InputKind::Mlp, InputKind::MlpOut};
inline int input_index(InputKind k) { return static_cast<int>(k); }
inline int proj_index(Proj p) { return static_cast<int>(p); }

const char* input_name(InputKind k);                       // "attn_in", "o_in", "mlp_in", "down_in"
InputKind input_of(Proj p);                                // q/k/v -> Attn, o -> AttnOut, ...
int input_features(const ModelConfig& cfg, InputKind k);   // dim, q_dim, dim, hidden_dim
const std::vector<Proj>& projs_reading(InputKind k);       // q/k/v; o; gate/up; down
// The one linear whose input stands for its group (q, o, gate, down): hooks record a shared input once.
bool is_input_representative(Proj p);

std::pair<int64_t, int64_t> proj_shape(const ModelConfig& cfg, Proj p);  // [m, n]
bool proj_has_bias(const ModelConfig& cfg, Proj p);                       // Qwen2 q/k/v
std::string proj_module(Proj p);                                          // "self_attn.q_proj", "mlp.up_proj"
// "model.layers.3.self_attn.q_proj": a block linear's HF name without ".weight"/".bias".
std::string linear_name(int layer, Proj p);

}  // namespace hessq::model
