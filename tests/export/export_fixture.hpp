// Small quantized models for the export tests: tests/transforms' tiny seeded model with every block
// linear replaced by a QuantizedLinear of a given spec (W_q = fake_quant(W), stored by
// model::make_quantized_linear in the layout a .hessq uses), written as a .hessq directory.
#pragma once
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "hessq/formats/quant_spec.hpp"
#include "hessq/io/hessq_format.hpp"
#include "hessq/model/quantized_linear.hpp"
#include "transforms/tiny_model.hpp"

namespace hessq::test {

// A linear's quantized replacement (spec applied to its float weight; the bias kept).
inline std::shared_ptr<model::QuantizedLinear> quantize_dense(const model::Linear& lin, const formats::QuantSpec& spec,
                                                              const std::string& name) {
  const auto& d = dynamic_cast<const model::DenseLinear&>(lin);
  const int64_t m = d.out_features(), n = d.in_features();
  std::vector<float> W_q(static_cast<size_t>(m * n));
  formats::fake_quant(spec, d.weight().ptr(), m, n, W_q.data());
  return model::make_quantized_linear(spec, d.weight().ptr(), W_q.data(), {}, m, n, n, d.bias(), name);
}

// `edit` may replace any linear afterwards (e.g. wrap one in an ActQuantLinear).
using LinearEdit = std::function<void(model::Model&)>;

inline model::Model quantized_tiny(const model::ModelConfig& cfg, const std::string& spec_name, uint64_t seed = 7,
                                   const LinearEdit& edit = {}) {
  model::Model m = tiny_model(cfg, seed);
  const formats::QuantSpec spec = formats::parse_spec(spec_name);
  for (int l = 0; l < cfg.n_layers; ++l)
    for (model::Proj p : model::kAllProjs) {
      auto& lin = m.layers[l].linear(p);
      lin = quantize_dense(*lin, spec, model::layer_tensor_name(l, model::proj_name(p)));
    }
  if (edit) edit(m);
  return m;
}

// The model written as a .hessq at `dir` (with a tokenizer.json + tokenizer_config.json when asked).
inline std::string write_tiny_hessq(const std::filesystem::path& dir, const model::Model& m, bool tokenizer = false) {
  std::map<std::string, std::string> files;
  if (tokenizer) files = {{"tokenizer.json", "{\"model\": {}}\n"}, {"tokenizer_config.json", "{}\n"}};
  io::write_hessq(dir.string(), m, io::HessqMeta{}, {}, files);
  return dir.string();
}

// dim 64, hidden 128, 4 heads of 16 (2 kv heads): every size a multiple of 32.
inline model::ModelConfig export_config(model::Arch arch = model::Arch::Llama,
                                        model::RopeStyle rope = model::RopeStyle::Half) {
  model::ModelConfig c = tiny_config(64, 128, 4, 2, 16, arch);
  c.rope_style = rope;
  return c;
}

}  // namespace hessq::test
