#include "hessq/model/layout.hpp"

#include "hessq/core/error.hpp"
#include "hessq/model/model.hpp"

namespace hessq::model {

const char* input_name(InputKind k) {
  switch (k) {
    case InputKind::Attn: return "attn_in";
    case InputKind::AttnOut: return "o_in";
    case InputKind::Mlp: return "mlp_in";
    case InputKind::MlpOut: return "down_in";
  }
  return "?";
}

InputKind input_of(Proj p) {
  switch (p) {
    case Proj::Q:
    case Proj::K:
    case Proj::V: return InputKind::Attn;
    case Proj::O: return InputKind::AttnOut;
    case Proj::Gate:
    case Proj::Up: return InputKind::Mlp;
    case Proj::Down: return InputKind::MlpOut;
  }
  HESSQ_FAIL("unknown projection");
}

int input_features(const ModelConfig& cfg, InputKind k) {
  switch (k) {
    case InputKind::Attn:
    case InputKind::Mlp: return cfg.dim;
    case InputKind::AttnOut: return cfg.q_dim();
    case InputKind::MlpOut: return cfg.hidden_dim;
  }
  return 0;
}

const std::vector<Proj>& projs_reading(InputKind k) {
  static const std::vector<Proj> attn = {Proj::Q, Proj::K, Proj::V}, o = {Proj::O}, mlp = {Proj::Gate, Proj::Up},
                                 down = {Proj::Down};
  switch (k) {
    case InputKind::Attn: return attn;
    case InputKind::AttnOut: return o;
    case InputKind::Mlp: return mlp;
    case InputKind::MlpOut: return down;
  }
  HESSQ_FAIL("unknown input kind");
}

bool is_input_representative(Proj p) { return p == Proj::Q || p == Proj::O || p == Proj::Gate || p == Proj::Down; }

std::pair<int64_t, int64_t> proj_shape(const ModelConfig& c, Proj p) {
  const int64_t n = input_features(c, input_of(p));
  switch (p) {
    case Proj::Q: return {c.q_dim(), n};
    case Proj::K:
    case Proj::V: return {c.kv_dim(), n};
    case Proj::O:
    case Proj::Down: return {c.dim, n};
    case Proj::Gate:
    case Proj::Up: return {c.hidden_dim, n};
  }
  return {0, 0};
}

bool proj_has_bias(const ModelConfig& c, Proj p) { return c.qkv_bias && (p == Proj::Q || p == Proj::K || p == Proj::V); }

std::string proj_module(Proj p) {
  const bool attn = p == Proj::Q || p == Proj::K || p == Proj::V || p == Proj::O;
  return std::string(attn ? "self_attn." : "mlp.") + proj_name(p);
}

std::string linear_name(int layer, Proj p) { return layer_tensor_name(layer, proj_module(p)); }

}  // namespace hessq::model
