#include "hessq/transforms/rotation.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

#include <spdlog/spdlog.h>

#include "hessq/core/error.hpp"
#include "hessq/model/hadamard_linear.hpp"
#include "hessq/transforms/fold_norms.hpp"

namespace hessq::transforms {

namespace {

using model::DenseLinear;
using model::Proj;

constexpr int64_t kChunkValues = int64_t{1} << 22;  // doubles per working buffer (32 MiB)

// Every consecutive length-R.n segment of W's rows (or of a 1-D W) right-multiplied: seg <- seg Q.
Tensor right_rotate(const Tensor& W, const Rotation& R) {
  HESSQ_CHECK(W.cols() % R.n == 0, "cannot rotate a tensor of shape {} by a rotation of order {}", shape_str(W.shape),
              R.n);
  const int64_t segs = W.numel() / R.n, chunk = std::max<int64_t>(1, kChunkValues / R.n);
  Tensor out = Tensor::zeros(W.shape);
  std::vector<double> buf;
  for (int64_t s0 = 0; s0 < segs; s0 += chunk) {
    const int64_t sc = std::min(chunk, segs - s0);
    buf.assign(W.ptr() + s0 * R.n, W.ptr() + (s0 + sc) * R.n);
    R.apply_rows(buf.data(), sc);
    std::transform(buf.begin(), buf.end(), out.ptr() + s0 * R.n, [](double v) { return static_cast<float>(v); });
  }
  return out;
}

// Every group of R.n consecutive rows of W [m, c] left-multiplied by Q^T: blk <- Q^T blk, computed as
// (blk^T Q)^T on column chunks.
Tensor left_rotate_t(const Tensor& W, const Rotation& R) {
  HESSQ_CHECK(W.shape.size() == 2 && W.shape[0] % R.n == 0,
              "cannot rotate the rows of a tensor of shape {} by a rotation of order {}", shape_str(W.shape), R.n);
  const int64_t m = W.shape[0], c = W.shape[1], n = R.n, chunk = std::max<int64_t>(1, kChunkValues / n);
  Tensor out = Tensor::zeros(W.shape);
  std::vector<double> buf;
  for (int64_t g = 0; g < m; g += n)
    for (int64_t c0 = 0; c0 < c; c0 += chunk) {
      const int64_t cc = std::min(chunk, c - c0);
      buf.resize(static_cast<size_t>(cc * n));
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < cc; ++j) buf[j * n + i] = W.ptr()[(g + i) * c + c0 + j];
      R.apply_rows(buf.data(), cc);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < cc; ++j) out.ptr()[(g + i) * c + c0 + j] = static_cast<float>(buf[j * n + i]);
    }
  return out;
}

std::optional<Tensor> rotate_bias(const std::optional<Tensor>& b, const Rotation& R) {
  if (!b) return std::nullopt;
  return right_rotate(*b, R);
}

void check_all_dense(const model::Model& m) {
  for (int l = 0; l < m.cfg.n_layers; ++l)
    for (Proj p : model::kAllProjs) dense_linear(m.layers[l].linear(p), linear_name(l, p));
  dense_linear(*m.lm_head, "lm_head");
}

void check_ones(const Tensor& w, const std::string& name) {
  const float* p = w.ptr();
  HESSQ_CHECK(std::all_of(p, p + w.numel(), [](float v) { return v == 1.0f; }),
              "rotate_residual: {} is not all ones; fold the norms first (fold_norms)", name);
}

Tensor to_tensor(const Mat& B) {
  Tensor t = Tensor::zeros({B.rows(), B.cols()});
  for (Eigen::Index i = 0; i < B.rows(); ++i)
    for (Eigen::Index j = 0; j < B.cols(); ++j) t.ptr()[i * B.cols() + j] = static_cast<float>(B(i, j));
  return t;
}

}  // namespace

void rotate_layer_residual(model::LayerWeights& L, int l, const Rotation& Q) {
  check_ones(L.attn_norm, model::layer_tensor_name(l, "input_layernorm.weight"));
  check_ones(L.ffn_norm, model::layer_tensor_name(l, "post_attention_layernorm.weight"));
  for (Proj p : model::kAllProjs) dense_linear(*L.linear(p), linear_name(l, p));
  for (Proj p : {Proj::Q, Proj::K, Proj::V, Proj::Gate, Proj::Up}) {  // readers: W <- W Q
    const DenseLinear& d = dense_linear(*L.linear(p), linear_name(l, p));
    L.linear(p) = std::make_shared<DenseLinear>(right_rotate(d.weight(), Q), d.bias());
  }
  for (Proj p : {Proj::O, Proj::Down}) {  // writers: W <- Q^T W, b <- b Q
    const DenseLinear& d = dense_linear(*L.linear(p), linear_name(l, p));
    L.linear(p) = std::make_shared<DenseLinear>(left_rotate_t(d.weight(), Q), rotate_bias(d.bias(), Q));
  }
}

Tensor rotate_rows(const Tensor& W, const Rotation& Q) { return right_rotate(W, Q); }

void rotate_residual(model::Model& m, const Rotation& Q) {
  HESSQ_CHECK(Q.n == m.cfg.dim, "rotate_residual: rotation of order {}, but the model's dim is {}", Q.n, m.cfg.dim);
  check_all_dense(m);
  for (int l = 0; l < m.cfg.n_layers; ++l) {
    check_ones(m.layers[l].attn_norm, model::layer_tensor_name(l, "input_layernorm.weight"));
    check_ones(m.layers[l].ffn_norm, model::layer_tensor_name(l, "post_attention_layernorm.weight"));
  }
  check_ones(m.final_norm, "model.norm.weight");

  m.tok_emb = right_rotate(m.tok_emb, Q);  // E <- E Q
  for (int l = 0; l < m.cfg.n_layers; ++l) rotate_layer_residual(m.layers[l], l, Q);
  if (m.cfg.tie_embeddings) {
    m.lm_head = std::make_shared<DenseLinear>(m.tok_emb);  // still shared: E Q serves both
  } else {
    const DenseLinear& head = dense_linear(*m.lm_head, "lm_head");
    m.lm_head = std::make_shared<DenseLinear>(right_rotate(head.weight(), Q), head.bias());
  }
}

void rotate_layer_heads_vo(model::LayerWeights& L, int l, const Rotation& Hh) {
  const DenseLinear& v = dense_linear(*L.v, linear_name(l, Proj::V));
  const DenseLinear& o = dense_linear(*L.o, linear_name(l, Proj::O));
  auto v_new = std::make_shared<DenseLinear>(left_rotate_t(v.weight(), Hh), rotate_bias(v.bias(), Hh));
  auto o_new = std::make_shared<DenseLinear>(right_rotate(o.weight(), Hh), o.bias());
  L.v = std::move(v_new);
  L.o = std::move(o_new);
}

void rotate_heads_vo(model::Model& m, const Rotation& Hh) {
  HESSQ_CHECK(Hh.n == m.cfg.head_dim, "rotate_heads_vo: rotation of order {}, but head_dim is {}", Hh.n,
              m.cfg.head_dim);
  for (int l = 0; l < m.cfg.n_layers; ++l) rotate_layer_heads_vo(m.layers[l], l, Hh);
}

void rotate_layer_down_online(model::LayerWeights& L, int l, const Rotation& R) {
  HESSQ_CHECK(R.s.empty(), "rotate_down_online: the online rotation cannot carry random signs");
  const DenseLinear& d = dense_linear(*L.down, linear_name(l, Proj::Down));
  auto inner = std::make_shared<DenseLinear>(right_rotate(d.weight(), R), d.bias());  // W <- W M
  L.down = std::make_shared<model::HadamardLinear>(std::move(inner), R.k, to_tensor(R.B));
}

void rotate_down_online(model::Model& m, const Rotation& R) {
  HESSQ_CHECK(R.n == m.cfg.hidden_dim, "rotate_down_online: rotation of order {}, but hidden_dim is {}", R.n,
              m.cfg.hidden_dim);
  for (int l = 0; l < m.cfg.n_layers; ++l) rotate_layer_down_online(m.layers[l], l, R);
}

ModelRotation make_model_rotation(const model::ModelConfig& c, const RotateOptions& opt) {
  ModelRotation r;
  r.Q = make_rotation(c.dim, {true, opt.seed, opt.allow_random_fallback}, "dim (residual stream)");
  if (opt.rotate_v_o)
    r.Hh = make_rotation(c.head_dim, {false, opt.seed, opt.allow_random_fallback}, "head_dim (v_proj -> o_proj)");
  if (opt.online_down)
    r.Rd = make_rotation(c.hidden_dim, {false, opt.seed, opt.allow_random_fallback}, "hidden_dim (down_proj input)");
  r.report.untied_head = c.tie_embeddings;
  r.report.residual_kind = rotation_kind_name(r.Q.kind);
  r.report.residual_construction = r.Q.construction;
  if (r.Hh) {
    r.report.head_kind = rotation_kind_name(r.Hh->kind);
    r.report.head_construction = r.Hh->construction;
  }
  if (r.Rd) {
    r.report.down_kind = rotation_kind_name(r.Rd->kind);
    r.report.down_construction = r.Rd->construction;
  }
  return r;
}

void rotate_layer(model::LayerWeights& L, int l, const ModelRotation& r) {
  fold_layer_norms(L, l);             // step 1
  rotate_layer_residual(L, l, r.Q);   // step 2
  const size_t li = static_cast<size_t>(l);
  if (li < r.Hh_layer.size() && r.Hh_layer[li])
    rotate_layer_heads_vo(L, l, *r.Hh_layer[li]);  // step 3, the block's own rotation
  else if (r.Hh)
    rotate_layer_heads_vo(L, l, *r.Hh);  // step 3
  if (r.Rd) rotate_layer_down_online(L, l, *r.Rd);  // step 4
}

RotateReport rotate_model(model::Model& m, const RotateOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  // Everything that can fail is checked before the model changes.
  check_all_dense(m);
  const ModelRotation r = make_model_rotation(m.cfg, opt);
  fold_norms(m);          // step 1
  rotate_residual(m, r.Q);  // step 2
  if (r.Hh) rotate_heads_vo(m, *r.Hh);    // step 3
  if (r.Rd) rotate_down_online(m, *r.Rd);  // step 4
  RotateReport rep = r.report;
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("rotate: residual {} [{}], heads {} [{}], down {} [{}], {:.2f} s", rep.residual_kind,
               rep.residual_construction, r.Hh ? rep.head_kind : "off", rep.head_construction,
               r.Rd ? rep.down_kind : "off", rep.down_construction, rep.seconds);
  return rep;
}

nlohmann::ordered_json rotate_report_json(const RotateReport& r) {
  nlohmann::ordered_json j;
  j["residual"] = {{"kind", r.residual_kind}, {"construction", r.residual_construction}};
  j["heads_vo"] = {{"kind", r.head_kind}, {"construction", r.head_construction}};
  j["down_online"] = {{"kind", r.down_kind}, {"construction", r.down_construction}};
  j["untied_head"] = r.untied_head;
  j["seconds"] = r.seconds;
  return j;
}

}  // namespace hessq::transforms
