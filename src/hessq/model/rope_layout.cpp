#include "hessq/model/rope_layout.hpp"

#include <algorithm>

#include "hessq/model/model.hpp"

namespace hessq::model {

std::vector<int64_t> rope_row_order(int heads, int d, RopeStyle from, RopeStyle to) {
  std::vector<int64_t> order(static_cast<size_t>(heads) * d);
  for (size_t r = 0; r < order.size(); ++r) order[r] = static_cast<int64_t>(r);
  if (from == to) return order;
  const int half = d / 2;
  for (int h = 0; h < heads; ++h)
    for (int i = 0; i < half; ++i)
      for (int p = 0; p < 2; ++p) {  // (p, i): interleaved row 2i + p <-> half row p * d/2 + i
        const int64_t interleaved = static_cast<int64_t>(h) * d + 2 * i + p;
        const int64_t halves = static_cast<int64_t>(h) * d + p * half + i;
        if (to == RopeStyle::Half) order[halves] = interleaved;
        else order[interleaved] = halves;
      }
  return order;
}

// Rows per head of `t` ([heads * d, ...] or [heads * d]) reordered from `from` to `to`.
static Tensor permute_heads(const Tensor& t, int heads, int d, RopeStyle from, RopeStyle to) {
  Tensor out = Tensor::zeros(t.shape);
  const int64_t row = t.numel() / t.shape[0];
  const std::vector<int64_t> order = rope_row_order(heads, d, from, to);
  for (size_t dst = 0; dst < order.size(); ++dst)
    std::copy_n(t.ptr() + order[dst] * row, row, out.ptr() + static_cast<int64_t>(dst) * row);
  return out;
}

void convert_rope_layout(ModelConfig& cfg, TensorMap& tensors, RopeStyle to) {
  if (cfg.rope_style == to) return;
  auto permute = [&](const std::string& name, int heads) {
    auto it = tensors.find(name);
    if (it != tensors.end()) it->second = permute_heads(it->second, heads, cfg.head_dim, cfg.rope_style, to);
  };
  for (int l = 0; l < cfg.n_layers; ++l) {
    for (const char* suffix : {".weight", ".bias"}) {
      permute(layer_tensor_name(l, std::string("self_attn.q_proj") + suffix), cfg.n_heads);
      permute(layer_tensor_name(l, std::string("self_attn.k_proj") + suffix), cfg.n_kv_heads);
    }
    permute(layer_tensor_name(l, "self_attn.q_norm.weight"), 1);  // per-dimension within a head
    permute(layer_tensor_name(l, "self_attn.k_norm.weight"), 1);
  }
  cfg.rope_style = to;
}

}  // namespace hessq::model
