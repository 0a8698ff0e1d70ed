#include "hessq/pipeline/model_transform.hpp"

#include <cstring>

#include <spdlog/spdlog.h>

#include "hessq/core/error.hpp"
#include "hessq/core/timer.hpp"
#include "hessq/pipeline/hero_pass.hpp"
#include "hessq/transforms/fold_norms.hpp"

namespace hessq::pipeline {

void ModelTransform::apply_layer(model::LayerWeights& L, int l) const {
  if (!rot) return;
  transforms::rotate_layer(L, l, *rot);
  const size_t i = static_cast<size_t>(l);
  if (i < d_attn.size() && d_attn[i]) transforms::scale_norm_readers(L, l, model::InputKind::Attn, *d_attn[i]);
  if (i < d_ffn.size() && d_ffn[i]) transforms::scale_norm_readers(L, l, model::InputKind::Mlp, *d_ffn[i]);
}

void ModelTransform::embed(const io::TensorStore& src, const int* tokens, int n, float* x) const {
  if (!emb) {
    src.embed(tokens, n, x);
    return;
  }
  const int64_t dim = emb->cols(), vocab = emb->rows();
  for (int t = 0; t < n; ++t) {
    HESSQ_CHECK(tokens[t] >= 0 && tokens[t] < vocab, "token id {} out of range [0, {})", tokens[t], vocab);
    std::memcpy(x + static_cast<size_t>(t) * dim, emb->ptr() + static_cast<size_t>(tokens[t]) * dim, sizeof(float) * dim);
  }
}

std::vector<io::StoredTensor> ModelTransform::final_tensors(const io::TensorStore& src, model::ModelConfig& out_cfg) const {
  std::vector<io::StoredTensor> out;
  const model::ModelConfig& cfg = src.cfg;
  out_cfg = cfg;
  if (!rot) {
    out.push_back(src.at("model.embed_tokens.weight"));
    out.push_back(src.at("model.norm.weight"));
    if (!cfg.tie_embeddings) out.push_back(src.at("lm_head.weight"));
    return out;
  }
  // Rotated: E Q, a norm of ones, and the folded, rotated head (its own tensor: no longer tied).
  const Tensor norm = src.at("model.norm.weight").to_f32();
  const Tensor head = src.at(cfg.tie_embeddings ? "model.embed_tokens.weight" : "lm_head.weight").to_f32();
  out_cfg.tie_embeddings = false;
  out.push_back(io::stored_f32("model.embed_tokens.weight", *emb, src.source));
  out.push_back(io::stored_f32("model.norm.weight", transforms::ones_like_norm(norm), src.source));
  out.push_back(io::stored_f32("lm_head.weight", transforms::rotate_rows(transforms::fold_head_norm(head, norm), rot->Q),
                               src.source));
  return out;
}

ModelTransform make_model_transform(const io::TensorStore& src, const Recipe& r, const calib::Windows& w,
                                    const ModelPassOptions& opt, int64_t& forwards) {
  const Pass* mp = r.of_scope(PassScope::Model);
  ModelTransform t;
  if (!mp) return t;
  const auto t0 = Clock::now();
  if (mp->name == "rotate") {
    t.rot = transforms::make_model_rotation(src.cfg, mp->rotate);
  } else if (mp->name == "hero" || mp->name == "spinquant") {
    t = run_hero_pass(src, *mp, r.solver(), w, opt, forwards);
  } else {
    HESSQ_FAIL("{}: model-scope pass '{}' has no transform", r.source, mp->name);
  }
  t.emb = transforms::rotate_rows(src.at("model.embed_tokens.weight").to_f32(), t.rot->Q);
  transforms::RotateReport rr = t.rot->report;
  rr.seconds = seconds_since(t0);
  t.rotation = transforms::rotate_report_json(rr);
  spdlog::info("{}: residual {} [{}], heads {} [{}], down {} [{}], {:.2f} s", mp->name, rr.residual_kind,
               rr.residual_construction, t.rot->Hh ? rr.head_kind : "off", rr.head_construction,
               t.rot->Rd ? rr.down_kind : "off", rr.down_construction, rr.seconds);
  return t;
}

}  // namespace hessq::pipeline
