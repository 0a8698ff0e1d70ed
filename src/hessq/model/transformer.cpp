#include "hessq/model/transformer.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "hessq/core/error.hpp"

namespace hessq::model {

std::vector<double> rope_inv_freq(const ModelConfig& c) {
  const int half = c.head_dim / 2;
  std::vector<double> inv(half);
  for (int i = 0; i < half; ++i) inv[i] = std::pow(c.rope_theta, -2.0 * i / c.head_dim);
  if (c.rope_scaling) {  // Llama 3: keep high frequencies, divide low ones by `factor`, blend between
    const RopeScaling& s = *c.rope_scaling;
    const double low_wavelen = s.original_max_position / s.low_freq_factor;
    const double high_wavelen = s.original_max_position / s.high_freq_factor;
    for (double& f : inv) {
      const double wavelen = 2.0 * M_PI / f;
      if (wavelen > low_wavelen) {
        f /= s.factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth =
            (s.original_max_position / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        f = (1.0 - smooth) * f / s.factor + smooth * f;
      }
    }
  }
  return inv;
}

Transformer::Transformer(const Model& model, int max_ctx)
    : m_(model), max_ctx_(max_ctx > 0 ? max_ctx : model.cfg.max_seq_len) {
  const ModelConfig& c = m_.cfg;
  const int half = c.head_dim / 2;
  std::vector<double> inv = rope_inv_freq(c);
  rope_cos_.resize(static_cast<size_t>(max_ctx_) * half);
  rope_sin_.resize(rope_cos_.size());
  for (int p = 0; p < max_ctx_; ++p)
    for (int i = 0; i < half; ++i) {
      rope_cos_[static_cast<size_t>(p) * half + i] = static_cast<float>(std::cos(p * inv[i]));
      rope_sin_[static_cast<size_t>(p) * half + i] = static_cast<float>(std::sin(p * inv[i]));
    }
  const size_t cache = static_cast<size_t>(c.n_layers) * max_ctx_ * c.kv_dim();
  k_cache_.assign(cache, 0.0f);
  v_cache_.assign(cache, 0.0f);
}

// out = x / rms(x) * w over rows of length d.
static void rms_norm(float* out, const float* x, const float* w, int rows, int d, double eps) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + static_cast<size_t>(r) * d;
    float* o = out + static_cast<size_t>(r) * d;
    double ss = 0;
    for (int i = 0; i < d; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const float scale = static_cast<float>(1.0 / std::sqrt(ss / d + eps));
    for (int i = 0; i < d; ++i) o[i] = xr[i] * scale * w[i];
  }
}

void Transformer::run_linear(int layer, Proj p, const float* x, int n, float* y) {
  if (hook_) hook_(LinearId{layer, p}, x, n);
  m_.layers[layer].linear(p).forward(x, n, y);
}

// Rotates each head of x ([n, n_heads_in_x * head_dim], token t at position pos_ + t).
void Transformer::apply_rope(float* x, int n_heads_in_x, int n) {
  const int hd = m_.cfg.head_dim, half = hd / 2;
  const bool interleaved = m_.cfg.rope_style == RopeStyle::Interleaved;
  for (int t = 0; t < n; ++t) {
    const float* cs = &rope_cos_[static_cast<size_t>(pos_ + t) * half];
    const float* sn = &rope_sin_[static_cast<size_t>(pos_ + t) * half];
    for (int h = 0; h < n_heads_in_x; ++h) {
      float* v = x + (static_cast<size_t>(t) * n_heads_in_x + h) * hd;
      for (int i = 0; i < half; ++i) {
        float& a = interleaved ? v[2 * i] : v[i];
        float& b = interleaved ? v[2 * i + 1] : v[i + half];
        const float a0 = a, b0 = b;
        a = a0 * cs[i] - b0 * sn[i];
        b = a0 * sn[i] + b0 * cs[i];
      }
    }
  }
}

// Causal attention of the n new queries in q_ over cache positions [0, pos_ + t]; result in att_.
void Transformer::attention(int layer, int n) {
  const ModelConfig& c = m_.cfg;
  const int hd = c.head_dim, kv_dim = c.kv_dim(), q_dim = c.q_dim();
  const int total = pos_ + n, group = c.n_heads / c.n_kv_heads;
  const float* K = &k_cache_[static_cast<size_t>(layer) * max_ctx_ * kv_dim];
  const float* V = &v_cache_[static_cast<size_t>(layer) * max_ctx_ * kv_dim];
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  scores_.resize(static_cast<size_t>(n) * total);
  for (int h = 0; h < c.n_heads; ++h) {
    const int g = h / group;
    // S = Q_h K_g^T * scale: [n, total]
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, total, hd, scale, &q_[h * hd], q_dim, K + g * hd,
                kv_dim, 0.0f, scores_.data(), total);
    for (int t = 0; t < n; ++t) {  // mask the future, softmax over the visible prefix
      float* s = &scores_[static_cast<size_t>(t) * total];
      const int visible = pos_ + t + 1;
      const float mx = *std::max_element(s, s + visible);
      double sum = 0;
      for (int j = 0; j < visible; ++j) sum += (s[j] = std::exp(s[j] - mx));
      const float inv = static_cast<float>(1.0 / sum);
      for (int j = 0; j < visible; ++j) s[j] *= inv;
      std::fill(s + visible, s + total, 0.0f);
    }
    // O_h = P V_g: [n, hd]
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, total, 1.0f, scores_.data(), total, V + g * hd,
                kv_dim, 0.0f, &att_[h * hd], q_dim);
  }
}

const float* Transformer::forward(const int* tokens, int n, bool all_logits) {
  const ModelConfig& c = m_.cfg;
  HESSQ_CHECK(n > 0, "forward: no tokens");
  HESSQ_CHECK(pos_ + n <= max_ctx_, "forward: {} tokens at position {} exceed the context of {} tokens", n, pos_,
              max_ctx_);
  const int d = c.dim, q_dim = c.q_dim(), kv_dim = c.kv_dim(), hid = c.hidden_dim;
  const size_t N = static_cast<size_t>(n);
  x_.resize(N * d);
  xb_.resize(N * std::max(d, q_dim));
  q_.resize(N * q_dim);
  k_.resize(N * kv_dim);
  v_.resize(N * kv_dim);
  att_.resize(N * q_dim);
  hb_.resize(N * hid);
  hb2_.resize(N * hid);

  for (int t = 0; t < n; ++t) {
    HESSQ_CHECK(tokens[t] >= 0 && tokens[t] < c.vocab_size, "token id {} out of range [0, {})", tokens[t],
                c.vocab_size);
    std::memcpy(&x_[t * d], m_.tok_emb.ptr() + static_cast<size_t>(tokens[t]) * d, sizeof(float) * d);
  }

  const int last = stop_after_ >= 0 ? std::min(stop_after_, c.n_layers - 1) : c.n_layers - 1;
  for (int l = 0; l <= last; ++l) {
    const LayerWeights& L = m_.layers[l];
    // Attention block: x += o_proj(attn(rope(q), rope(k), v)), inputs RMS-normed.
    rms_norm(xb_.data(), x_.data(), L.attn_norm.ptr(), n, d, c.norm_eps);
    run_linear(l, Proj::Q, xb_.data(), n, q_.data());
    run_linear(l, Proj::K, xb_.data(), n, k_.data());
    run_linear(l, Proj::V, xb_.data(), n, v_.data());
    if (c.qk_norm) {  // Qwen3: RMSNorm over each head before RoPE
      rms_norm(q_.data(), q_.data(), L.q_norm.ptr(), n * c.n_heads, c.head_dim, c.norm_eps);
      rms_norm(k_.data(), k_.data(), L.k_norm.ptr(), n * c.n_kv_heads, c.head_dim, c.norm_eps);
    }
    apply_rope(q_.data(), c.n_heads, n);
    apply_rope(k_.data(), c.n_kv_heads, n);
    const size_t cache_at = (static_cast<size_t>(l) * max_ctx_ + pos_) * kv_dim;
    std::memcpy(&k_cache_[cache_at], k_.data(), sizeof(float) * N * kv_dim);
    std::memcpy(&v_cache_[cache_at], v_.data(), sizeof(float) * N * kv_dim);
    attention(l, n);
    run_linear(l, Proj::O, att_.data(), n, xb_.data());
    for (size_t i = 0; i < N * d; ++i) x_[i] += xb_[i];

    // MLP block: x += down(silu(gate(x)) * up(x)), input RMS-normed.
    rms_norm(xb_.data(), x_.data(), L.ffn_norm.ptr(), n, d, c.norm_eps);
    run_linear(l, Proj::Gate, xb_.data(), n, hb_.data());
    run_linear(l, Proj::Up, xb_.data(), n, hb2_.data());
    for (size_t i = 0; i < N * hid; ++i) {
      const float g = hb_[i];
      hb_[i] = g / (1.0f + std::exp(-g)) * hb2_[i];
    }
    run_linear(l, Proj::Down, hb_.data(), n, xb_.data());
    for (size_t i = 0; i < N * d; ++i) x_[i] += xb_[i];
  }
  pos_ += n;
  if (last < c.n_layers - 1) return nullptr;

  const int rows = all_logits ? n : 1;
  const float* first = all_logits ? x_.data() : &x_[(N - 1) * d];
  rms_norm(xb_.data(), first, m_.final_norm.ptr(), rows, d, c.norm_eps);
  logits_.resize(static_cast<size_t>(rows) * c.vocab_size);
  m_.lm_head->forward(xb_.data(), rows, logits_.data());
  return logits_.data();
}

}  // namespace hessq::model
