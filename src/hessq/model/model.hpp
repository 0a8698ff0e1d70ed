// Model: a Llama-family decoder's weights, organised by role, built from HuggingFace-named tensors.
// checkpoint_layout() is the one table mapping HF names to roles and shapes; build_model() checks a
// TensorMap against it (missing, extra, shape, non-finite) so every loader shares the same validation.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hessq/core/tensor.hpp"
#include "hessq/model/config.hpp"
#include "hessq/model/linear.hpp"

namespace hessq::model {

struct LayerWeights {
  Tensor attn_norm;  // [dim]
  Tensor ffn_norm;   // [dim]
  Tensor q_norm;     // [head_dim], Qwen3 only
  Tensor k_norm;     // [head_dim], Qwen3 only
  std::shared_ptr<Linear> q, k, v, o, gate, up, down;

  std::shared_ptr<Linear>& linear(Proj p);
  const Linear& linear(Proj p) const;
};

class QuantizedLinear;

struct Model {
  ModelConfig cfg;
  Tensor tok_emb;  // [vocab, dim]; empty when the embedding is stored quantized (tok_emb_q)
  std::shared_ptr<const QuantizedLinear> tok_emb_q;  // quantized embedding rows (quantize --head-format)
  std::vector<LayerWeights> layers;
  Tensor final_norm;                // [dim]
  std::shared_ptr<Linear> lm_head;  // [vocab, dim]; shares tok_emb (or tok_emb_q) when tied
  std::string source;               // where it was loaded from, for messages
};

struct TensorSpec {
  std::string name;
  Shape shape;
};

// Every tensor a checkpoint of this config must hold, HF names, in layer order.
std::vector<TensorSpec> checkpoint_layout(const ModelConfig& cfg);
std::string layer_tensor_name(int layer, const std::string& suffix);  // "model.layers.3." + suffix

// Checks tensor names and shapes against checkpoint_layout(cfg) without reading values: missing,
// unexpected (some exporters' extra tensors are ignored with a warning) and wrong-shaped tensors
// throw hessq::Error naming `source` and the tensor.
void check_layout(const ModelConfig& cfg, const std::map<std::string, Shape>& shapes, const std::string& source);
// Linears built elsewhere (a .hessq's quantized layers), by module name ("model.layers.0.self_attn.q_proj");
// "model.embed_tokens" (a QuantizedLinear, its rows looked up) and "lm_head" are accepted too.
using PrebuiltLinears = std::map<std::string, std::shared_ptr<Linear>>;

// Row `token` of the embedding (fp32, or decoded from tok_emb_q) into out [dim].
void embedding_row(const Model& m, int token, float* out);

// Block `l`'s norms and DenseLinears from `get(name)` (fp32 tensors under HF names), each checked for
// NaN/Inf; a linear found in `prebuilt` is taken from there instead (its tensors are not read).
LayerWeights build_layer(const ModelConfig& cfg, int l, const std::function<Tensor(const std::string&)>& get,
                         const PrebuiltLinears& prebuilt = {});

// Validates `tensors` (plus the prebuilt linears' [out, in] shapes) against checkpoint_layout(cfg) and
// builds the model. Throws hessq::Error naming `source` and the offending tensor: missing, unexpected,
// wrong shape, NaN/Inf.
Model build_model(const ModelConfig& cfg, TensorMap tensors, const std::string& source,
                  const PrebuiltLinears& prebuilt = {});

// The dense weights of `model` under their HF names (inverse of build_model). Throws if a linear is
// not dense.
TensorMap model_tensors(const Model& model);

}  // namespace hessq::model
