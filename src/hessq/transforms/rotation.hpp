// QuaRot-style rotation of a float model (Ashkboos et al. 2024, "QuaRot: Outlier-Free 4-Bit Inference
// in Rotated LLMs", arXiv:2404.00456; METHODS.md "QuaRot-style rotation"). The float model's outputs
// are unchanged; its weights and activations lose their outlier channels, so a later rtn/gptq pass
// (and activation quantization) sees a flatter distribution.
//   1. Fold RMSNorm weights into the following linears (transforms/fold_norms.hpp), so that
//      RMSNorm(x Q) = RMSNorm(x) Q for any orthogonal Q.
//   2. Residual stream: a seeded random Hadamard rotation Q = H diag(s) [dim, dim], folded into the
//      weights: E <- E Q (embeddings); W <- W Q for every linear reading the stream (q, k, v, gate, up,
//      lm_head); W <- Q^T W (and bias b <- b Q) for every linear writing it (o_proj, down_proj), so
//      the stream carries x Q everywhere.
//   3. [choice] rotate_v_o (default on): a per-head Hadamard H_h [head_dim, head_dim] between v_proj
//      and o_proj, folded offline: rows of each v head W_v,h <- H_h^T W_v,h (bias b_h <- b_h H_h),
//      columns of each o_proj head W_o[:, h] <- W_o[:, h] H_h (attention mixes tokens, not channels).
//   4. [choice] online_down (default on): down_proj's input x [hidden_dim] is rotated at run time,
//      x -> x H_hid, and W_down <- W_down H_hid; down_proj becomes a model::HadamardLinear around the
//      DenseLinear (O(n (b + k)) per token: FWHT and the dense base block).
// Hadamard matrices exist for n = 2^k * b with known bases (transforms/hadamard.hpp). [choice]
// allow_random_fallback (default on): other sizes get a seeded random orthogonal rotation
// (transforms/orthogonal.hpp), reported as "random-orthogonal"; off, such a size is an error naming
// the dimension. Online (step 4) and per-head (step 3) rotations are plain Hadamard (no signs).
//
// Composing with quantization: rotate first (float), then calibrate and quantize the DenseLinears;
// for down_proj quantize HadamardLinear::inner() and calibrate it on rotated inputs (the hook sees x
// before the online rotation; see model/hadamard_linear.hpp).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hessq/model/model.hpp"
#include "hessq/transforms/orthogonal.hpp"

namespace hessq::transforms {

struct RotateOptions {
  uint64_t seed = 0;                   // residual signs (and any random-orthogonal fallback)
  bool online_down = true;             // step 4
  bool rotate_v_o = true;              // step 3
  bool allow_random_fallback = true;   // see above
};

struct RotateReport {
  // "hadamard" / "random-orthogonal"; "" when the step was off.
  std::string residual_kind, head_kind, down_kind;
  // e.g. "sylvester(2^6) diag(signs, seed 0)", "2^2 x random-orthogonal(43, seed 0)".
  std::string residual_construction, head_construction, down_construction;
  bool untied_head = false;  // the head shared the embedding before folding
  double seconds = 0;
};
nlohmann::ordered_json rotate_report_json(const RotateReport& r);

// Steps 1-4 on `m`, whose linears must all be model::DenseLinear (else throws, leaving `m` as it was;
// likewise for an unsupported size without fallback). Builds new tensors; never writes into the old
// ones (they may be views of a mapped file).
RotateReport rotate_model(model::Model& m, const RotateOptions& opt);

// The rotations of rotate_model, built once (make_model_rotation, which throws for an unsupported
// size without fallback) and applied block by block: the streaming pipeline rotates each block when
// it loads it, and the embedding and head once.
struct ModelRotation {
  Rotation Q;                   // residual stream [dim, dim], seeded signs
  std::optional<Rotation> Hh;   // per head v -> o [head_dim, head_dim] (rotate_v_o)
  // Per layer: a head rotation in place of Hh for that block (HeRo-Q / SpinQuant's learned ones);
  // nullopt or past the end: Hh.
  std::vector<std::optional<Rotation>> Hh_layer;
  std::optional<Rotation> Rd;   // online before down_proj [hidden_dim, hidden_dim] (online_down)
  RotateReport report;          // kinds and constructions (seconds left 0)
};
ModelRotation make_model_rotation(const model::ModelConfig& cfg, const RotateOptions& opt);
// Steps 1-4 on one block (index l, for messages) whose linears are all DenseLinear.
void rotate_layer(model::LayerWeights& L, int l, const ModelRotation& r);
// Every row of W [rows, n] right-multiplied by Q (the embedding E Q, a reader's W Q), in double.
Tensor rotate_rows(const Tensor& W, const Rotation& Q);

// The building blocks, for other transforms (HeRo-Q's learned rotation uses custom_rotation()):
// step 2 with any Q [dim, dim]; requires folded norms (all ones, else throws).
void rotate_residual(model::Model& m, const Rotation& Q);
void rotate_layer_residual(model::LayerWeights& L, int l, const Rotation& Q);
// Step 3 with H_h [head_dim, head_dim].
void rotate_heads_vo(model::Model& m, const Rotation& Hh);
void rotate_layer_heads_vo(model::LayerWeights& L, int l, const Rotation& Hh);
// Step 4 with R [hidden_dim, hidden_dim] (no signs): down_proj becomes HadamardLinear(W_down R).
void rotate_down_online(model::Model& m, const Rotation& R);
void rotate_layer_down_online(model::LayerWeights& L, int l, const Rotation& R);

}  // namespace hessq::transforms
