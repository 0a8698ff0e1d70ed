// The result of a recipe's model-scope pass, which the driver applies to every block as it loads it,
// to the embedding rows of the calibration windows and to the stored embedding, final norm and head:
//   rotate (QuaRot)          norms folded, the seeded Hadamard Q on the residual stream, QuaRot's
//                            per-head v -> o and online down_proj rotations (transforms/rotation.hpp);
//   hero, spinquant          the same with the learned R in place of Q, and for hero per-norm
//                            scalings d moved into the readers of the selected blocks' norms
//                            (transforms::scale_norm_readers), computed by pipeline/hero_pass.hpp.
// Float outputs are unchanged in every case; everything folds into stored tensors (weights, norm
// weights 1/d, embedding E R, head) except the online down_proj rotation, a model::HadamardLinear
// that .hessq stores as QuaRot's.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hessq/calib/windows.hpp"
#include "hessq/io/tensor_store.hpp"
#include "hessq/pipeline/recipe.hpp"
#include "hessq/transforms/rotation.hpp"

namespace hessq::pipeline {

struct ModelTransform {
  std::optional<transforms::ModelRotation> rot;  // none: the model is used as stored
  // Per layer: d of input_layernorm (q/k/v) and post_attention_layernorm (gate/up); nullopt: d = 1.
  std::vector<std::optional<Tensor>> d_attn, d_ffn;
  std::optional<Tensor> emb;                  // E Q, when rotating
  nlohmann::ordered_json rotation = nullptr;  // transforms::rotate_report_json, or null
  nlohmann::ordered_json hero = nullptr;      // the learned rotation's report (hero_pass.hpp), or null
  nlohmann::ordered_json hero_timing = nullptr;  // its seconds per stage (statistics, optimizer), or null

  bool active() const { return rot.has_value(); }
  // Block l as loaded from the store (all linears dense) -> transformed.
  void apply_layer(model::LayerWeights& L, int l) const;
  // x[t, :] = the (transformed) embedding row of tokens[t], t < n.
  void embed(const io::TensorStore& src, const int* tokens, int n, float* x) const;
  // The embedding, final norm and head to store, and the output config (a rotation unties the head).
  std::vector<io::StoredTensor> final_tensors(const io::TensorStore& src, model::ModelConfig& out_cfg) const;
};

struct ModelPassOptions {
  io::DType hidden_dtype = io::DType::F32;  // the statistics pre-pass's stored states (hero, spinquant)
  std::string spill_file;                   // non-empty: keep them in this file
  bool progress = true;
};

// The transform of r's model-scope pass (an inactive one when r has none). `forwards` counts the
// block forwards of a statistics pre-pass.
ModelTransform make_model_transform(const io::TensorStore& src, const Recipe& r, const calib::Windows& w,
                                    const ModelPassOptions& opt, int64_t& forwards);

}  // namespace hessq::pipeline
