// Shapes of a block's linears ([m, n] = [out, in], HF layout) and which calibration input each reads.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "hessq/calib/capture.hpp"
#include "hessq/model/config.hpp"
#include "hessq/model/linear.hpp"

namespace hessq::pipeline {

inline std::pair<int64_t, int64_t> proj_shape(const model::ModelConfig& c, model::Proj p) {
  switch (p) {
    case model::Proj::Q: return {c.q_dim(), c.dim};
    case model::Proj::K:
    case model::Proj::V: return {c.kv_dim(), c.dim};
    case model::Proj::O: return {c.dim, c.q_dim()};
    case model::Proj::Gate:
    case model::Proj::Up: return {c.hidden_dim, c.dim};
    case model::Proj::Down: return {c.dim, c.hidden_dim};
  }
  return {0, 0};
}

// The linears reading input `k`: q/k/v, o, gate/up, down.
inline std::vector<model::Proj> projs_reading(calib::InputKind k) {
  switch (k) {
    case calib::InputKind::Attn: return {model::Proj::Q, model::Proj::K, model::Proj::V};
    case calib::InputKind::AttnOut: return {model::Proj::O};
    case calib::InputKind::Mlp: return {model::Proj::Gate, model::Proj::Up};
    case calib::InputKind::MlpOut: return {model::Proj::Down};
  }
  return {};
}

}  // namespace hessq::pipeline
