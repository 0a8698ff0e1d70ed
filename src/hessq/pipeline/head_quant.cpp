#include "hessq/pipeline/head_quant.hpp"

#include <algorithm>

#include "hessq/core/error.hpp"

namespace hessq::pipeline {

namespace {

std::shared_ptr<const model::QuantizedLinear> rtn(const formats::QuantSpec& spec, const io::StoredTensor& t,
                                                  const std::string& name) {
  const Tensor W = t.to_f32();
  const int64_t m = W.rows(), n = W.cols();
  // Per group, the input dim is zero-padded to a multiple of the group (as for block linears).
  const int64_t g = spec.granularity == formats::Granularity::PerGroup ? spec.group : 0;
  const int64_t ns = g > 0 ? (n + g - 1) / g * g : n;
  std::vector<float> W_in(static_cast<size_t>(m * ns), 0.0f), W_q(W_in.size());
  for (int64_t r = 0; r < m; ++r) std::copy(W.ptr() + r * n, W.ptr() + (r + 1) * n, W_in.data() + r * ns);
  formats::fake_quant(spec, W_in.data(), m, ns, W_q.data());
  return model::make_quantized_linear(spec, W_in.data(), W_q.data(), {}, m, ns, n, std::nullopt, name);
}

}  // namespace

io::QuantizedTensors quantize_embeddings(const std::optional<formats::QuantSpec>& embed,
                                         const std::optional<formats::QuantSpec>& head, const model::ModelConfig& cfg,
                                         std::vector<io::StoredTensor>& tensors) {
  io::QuantizedTensors out;
  std::vector<io::StoredTensor> rest;
  bool found = false;
  for (const io::StoredTensor& t : tensors) {
    if (t.name == "model.embed_tokens.weight") {
      found = true;
      if (embed) out.emplace_back("model.embed_tokens", rtn(*embed, t, "model.embed_tokens"));
      else rest.push_back(t);
    } else if (t.name == "lm_head.weight" && !cfg.tie_embeddings && head) {
      out.emplace_back("lm_head", rtn(*head, t, "lm_head"));
    } else {
      rest.push_back(t);
    }
  }
  HESSQ_CHECK(found, "quantizing the embedding: no model.embed_tokens.weight among the model's final tensors");
  tensors = std::move(rest);
  return out;
}

}  // namespace hessq::pipeline
