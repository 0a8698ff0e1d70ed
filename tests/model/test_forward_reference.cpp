// The forward pass against a naive double-precision reference written independently here (plain
// loops, full recomputation per position, no KV cache, no BLAS), on tiny seeded models of every
// architecture feature: GQA, q/k/v bias (Qwen2), q/k norm (Qwen3), Llama-3 RoPE scaling, both RoPE
// layouts, tied and untied heads.
#include <gtest/gtest.h>

#include <cmath>

#include "hessq/model/synth.hpp"
#include "hessq/model/transformer.hpp"

namespace hessq::model {

namespace {

using Vec = std::vector<double>;

Vec matvec(const Tensor& W, const Vec& x) {  // W [m, n] x [n]
  const int64_t m = W.shape[0], n = W.shape[1];
  Vec y(m, 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) y[i] += static_cast<double>(W.ptr()[i * n + j]) * x[j];
  return y;
}

Vec rmsnorm(const Vec& x, const float* w, double eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double s = 1.0 / std::sqrt(ss / x.size() + eps);
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * s * w[i];
  return y;
}

const Tensor& weight(const Linear& l) { return dynamic_cast<const DenseLinear&>(l).weight(); }

Vec linear(const Linear& l, const Vec& x) {
  Vec y = matvec(weight(l), x);
  if (auto& b = dynamic_cast<const DenseLinear&>(l).bias())
    for (size_t i = 0; i < y.size(); ++i) y[i] += b->ptr()[i];
  return y;
}

// Rotates one head in place: pairs (2i, 2i+1) or (i, i + d/2) by angle pos * inv_freq[i].
void rope(double* v, int d, int pos, const std::vector<double>& inv_freq, bool interleaved) {
  for (int i = 0; i < d / 2; ++i) {
    double& a = interleaved ? v[2 * i] : v[i];
    double& b = interleaved ? v[2 * i + 1] : v[i + d / 2];
    const double c = std::cos(pos * inv_freq[i]), s = std::sin(pos * inv_freq[i]);
    const double a0 = a, b0 = b;
    a = a0 * c - b0 * s;
    b = a0 * s + b0 * c;
  }
}

// Logits of the last token of `toks`.
Vec reference_logits(const Model& m, const std::vector<int>& toks) {
  const ModelConfig& c = m.cfg;
  const int T = static_cast<int>(toks.size()), hd = c.head_dim;
  const std::vector<double> inv = rope_inv_freq(c);  // the scaling formula is checked separately
  std::vector<Vec> x(T);
  for (int t = 0; t < T; ++t) x[t] = Vec(m.tok_emb.ptr() + toks[t] * c.dim, m.tok_emb.ptr() + (toks[t] + 1) * c.dim);
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& L = m.layers[l];
    std::vector<Vec> q(T), k(T), v(T);
    for (int t = 0; t < T; ++t) {
      Vec h = rmsnorm(x[t], L.attn_norm.ptr(), c.norm_eps);
      q[t] = linear(*L.q, h);
      k[t] = linear(*L.k, h);
      v[t] = linear(*L.v, h);
      for (int hh = 0; hh < c.n_heads; ++hh) {
        if (c.qk_norm) {
          Vec head(q[t].begin() + hh * hd, q[t].begin() + (hh + 1) * hd);
          head = rmsnorm(head, L.q_norm.ptr(), c.norm_eps);
          std::copy(head.begin(), head.end(), q[t].begin() + hh * hd);
        }
        rope(&q[t][hh * hd], hd, t, inv, c.rope_style == RopeStyle::Interleaved);
      }
      for (int g = 0; g < c.n_kv_heads; ++g) {
        if (c.qk_norm) {
          Vec head(k[t].begin() + g * hd, k[t].begin() + (g + 1) * hd);
          head = rmsnorm(head, L.k_norm.ptr(), c.norm_eps);
          std::copy(head.begin(), head.end(), k[t].begin() + g * hd);
        }
        rope(&k[t][g * hd], hd, t, inv, c.rope_style == RopeStyle::Interleaved);
      }
    }
    for (int t = 0; t < T; ++t) {
      Vec att(c.q_dim(), 0.0);
      for (int hh = 0; hh < c.n_heads; ++hh) {
        const int g = hh / (c.n_heads / c.n_kv_heads);
        Vec s(t + 1);
        double mx = -1e300, sum = 0;
        for (int j = 0; j <= t; ++j) {
          s[j] = 0;
          for (int d = 0; d < hd; ++d) s[j] += q[t][hh * hd + d] * k[j][g * hd + d];
          s[j] /= std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, s[j]);
        }
        for (double& e : s) sum += (e = std::exp(e - mx));
        for (int j = 0; j <= t; ++j)
          for (int d = 0; d < hd; ++d) att[hh * hd + d] += s[j] / sum * v[j][g * hd + d];
      }
      Vec o = linear(*L.o, att);
      for (int i = 0; i < c.dim; ++i) x[t][i] += o[i];
      Vec h = rmsnorm(x[t], L.ffn_norm.ptr(), c.norm_eps);
      Vec gate = linear(*L.gate, h), up = linear(*L.up, h);
      for (size_t i = 0; i < gate.size(); ++i) gate[i] = gate[i] / (1.0 + std::exp(-gate[i])) * up[i];
      Vec dn = linear(*L.down, gate);
      for (int i = 0; i < c.dim; ++i) x[t][i] += dn[i];
    }
  }
  return matvec(weight(*m.lm_head), rmsnorm(x[T - 1], m.final_norm.ptr(), c.norm_eps));
}

ModelConfig tiny(Arch arch, RopeStyle style, bool tie, bool scaled) {
  ModelConfig c = synth_config(arch == Arch::Qwen3 ? "qwen3-4b" : arch == Arch::Qwen2 ? "qwen2.5-0.5b" : "llama-3-8b", 2);
  c.dim = 48;
  c.hidden_dim = 80;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = arch == Arch::Qwen3 ? 16 : 12;  // Qwen3: head_dim * heads != dim
  c.vocab_size = 97;
  c.max_seq_len = 64;
  c.rope_style = style;
  c.tie_embeddings = tie;
  if (scaled) c.rope_scaling = RopeScaling{8.0, 1.0, 4.0, 16};  // small original context: all three bands used
  return c;
}

}  // namespace

// fp32 forward vs double reference on logits of order 1 over 2 layers: ~1e-6 relative rounding;
// 1e-4 absolute catches any wrong formula (those give O(0.1) differences).
constexpr double kTol = 1e-4;

TEST(ForwardReference, EveryArchitectureFeature) {
  struct Case {
    Arch arch;
    RopeStyle style;
    bool tie, scaled;
  };
  const Case cases[] = {{Arch::Llama, RopeStyle::Interleaved, true, false}, {Arch::Llama, RopeStyle::Half, false, true},
                        {Arch::Qwen2, RopeStyle::Half, true, false},        {Arch::Qwen3, RopeStyle::Half, false, false},
                        {Arch::Mistral, RopeStyle::Half, false, false}};
  const std::vector<int> toks = {1, 5, 17, 42, 3, 88, 60, 2, 9};
  for (const Case& k : cases) {
    ModelConfig c = tiny(k.arch, k.style, k.tie, k.scaled);
    if (k.arch == Arch::Mistral) c.arch = Arch::Mistral;
    TensorMap t = synth_tensors(c, 11);
    for (auto& [name, tensor] : t)  // non-trivial norms and embeddings of order 1
      if (tensor.shape.size() == 1 && name.find("norm") != std::string::npos)
        for (int64_t i = 0; i < tensor.numel(); ++i) tensor.ptr()[i] = 0.5f + 0.01f * static_cast<float>(i % 13);
    for (int64_t i = 0; i < t["model.embed_tokens.weight"].numel(); ++i) t["model.embed_tokens.weight"].ptr()[i] *= 50.0f;
    Model m = build_model(c, t, "tiny");
    Transformer tr(m), dec(m);
    const float* got = tr.forward(toks.data(), static_cast<int>(toks.size()), false);
    Vec ref = reference_logits(m, toks);
    for (int i = 0; i < c.vocab_size; ++i)
      ASSERT_NEAR(got[i], ref[i], kTol) << arch_name(k.arch) << " logit " << i;
    // Decode, one token per call: the GEMV path (q/k/v and gate/up in one parallel product) and the
    // single-query attention.
    const float* one = nullptr;
    for (int t : toks) one = dec.forward(&t, 1, false);
    for (int i = 0; i < c.vocab_size; ++i)
      ASSERT_NEAR(one[i], ref[i], kTol) << arch_name(k.arch) << " decode logit " << i;
  }
}

// Llama-3 RoPE scaling against hand-computed bands (original context 8192, factor 8, low 1, high 4).
TEST(ForwardReference, Llama3RopeScalingBands) {
  ModelConfig c = synth_config("llama-3.1-8b", 1);
  std::vector<double> scaled = rope_inv_freq(c);
  c.rope_scaling.reset();
  std::vector<double> plain = rope_inv_freq(c);
  for (size_t i = 0; i < plain.size(); ++i) {
    const double wavelen = 2 * M_PI / plain[i];
    if (wavelen < 8192.0 / 4) EXPECT_DOUBLE_EQ(scaled[i], plain[i]) << i;         // high frequency: kept
    else if (wavelen > 8192.0 / 1) EXPECT_DOUBLE_EQ(scaled[i], plain[i] / 8) << i;  // low frequency: / factor
    else {
      const double smooth = (8192.0 / wavelen - 1) / (4 - 1);
      EXPECT_NEAR(scaled[i], (1 - smooth) * plain[i] / 8 + smooth * plain[i], 1e-15) << i;
    }
  }
}

}  // namespace hessq::model
