#include "hessq/model/block_forward.hpp"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "hessq/core/error.hpp"
#include "hessq/kernels/gemm_f32.hpp"

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

RopeTable::RopeTable(const ModelConfig& cfg) : inv_freq_(rope_inv_freq(cfg)), half_(cfg.head_dim / 2) {}

void RopeTable::ensure(int positions) {
  if (positions <= positions_) return;
  cos_.resize(static_cast<size_t>(positions) * half_);
  sin_.resize(cos_.size());
  for (int p = positions_; p < positions; ++p)
    for (int i = 0; i < half_; ++i) {
      cos_[static_cast<size_t>(p) * half_ + i] = static_cast<float>(std::cos(p * inv_freq_[i]));
      sin_[static_cast<size_t>(p) * half_ + i] = static_cast<float>(std::sin(p * inv_freq_[i]));
    }
  positions_ = positions;
}

void rms_norm(float* out, const float* x, const float* w, int rows, int d, double eps) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + static_cast<size_t>(r) * d;
    float* o = out + static_cast<size_t>(r) * d;
    double ss = 0;
    for (int i = 0; i < d; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const float scale = static_cast<float>(1.0 / std::sqrt(ss / d + eps));
    for (int i = 0; i < d; ++i) o[i] = xr[i] * scale * w[i];
  }
}

namespace {

// Rotates each head of x ([n, n_heads_in_x * head_dim], token t at position pos + t).
void apply_rope(const ModelConfig& c, const RopeTable& rope, float* x, int n_heads_in_x, int n, int pos) {
  const int hd = c.head_dim, half = hd / 2;
  const bool interleaved = c.rope_style == RopeStyle::Interleaved;
  for (int t = 0; t < n; ++t) {
    const float* cs = rope.cos_at(pos + t);
    const float* sn = rope.sin_at(pos + t);
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

// sum_i a[i] * b[i] in eight interleaved partial sums (vectorizable; a fixed order, so the result
// does not depend on anything but the inputs).
float dot(const float* a, const float* b, int n) {
  float acc[8] = {};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += a[i + l] * b[i + l];
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// One query q [hd] over `total` cached keys and values (row stride `stride`): out = softmax(K q *
// scale) V, with scores [total] as scratch.
void attend_one(const float* q, const float* K, const float* V, int stride, int total, int hd, float scale,
                float* scores, float* out) {
  float mx = -INFINITY;
  for (int j = 0; j < total; ++j) {
    scores[j] = dot(q, K + static_cast<size_t>(j) * stride, hd) * scale;
    mx = std::max(mx, scores[j]);
  }
  double sum = 0;
  for (int j = 0; j < total; ++j) sum += (scores[j] = std::exp(scores[j] - mx));
  const float inv = static_cast<float>(1.0 / sum);
  std::fill(out, out + hd, 0.0f);
  for (int j = 0; j < total; ++j) {
    const float p = scores[j] * inv;
    const float* v = V + static_cast<size_t>(j) * stride;
    for (int i = 0; i < hd; ++i) out[i] += p * v[i];
  }
}

// Causal attention of the n new queries in s.q over cache positions [0, pos + t]; result in s.att.
// Heads run in parallel (each a serial sgemm pair on its own slice of s.scores), so the result does
// not depend on the thread count (kernels/gemm_f32.hpp).
void attention(const ModelConfig& c, const LayerCache& cache, int n, int pos, BlockScratch& s) {
  const int hd = c.head_dim, kv_dim = c.kv_dim(), q_dim = c.q_dim();
  const int total = pos + n, group = c.n_heads / c.n_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const bool parallel = static_cast<int64_t>(n) * total * hd >= (int64_t{1} << 16);
  const int slices = parallel ? std::min(c.n_heads, omp_get_max_threads()) : 1;
  const size_t slice = static_cast<size_t>(n) * total;
  s.scores.resize(slice * slices);
  const kernels::SerialBlas serial;
#pragma omp parallel for schedule(static) num_threads(slices) if (parallel)
  for (int h = 0; h < c.n_heads; ++h) {
    const int g = h / group;
    float* scores = s.scores.data() + slice * omp_get_thread_num();  // 0 when the loop runs serially
    if (n == 1) {  // decode: one query, plain loops (two BLAS calls per head cost more than they compute)
      attend_one(&s.q[h * hd], cache.k.data() + g * hd, cache.v.data() + g * hd, kv_dim, total, hd, scale, scores,
                 &s.att[h * hd]);
      continue;
    }
    // S = Q_h K_g^T * scale: [n, total]
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, total, hd, scale, &s.q[h * hd], q_dim,
                cache.k.data() + g * hd, kv_dim, 0.0f, scores, total);
    for (int t = 0; t < n; ++t) {  // mask the future, softmax over the visible prefix
      float* row = &scores[static_cast<size_t>(t) * total];
      const int visible = pos + t + 1;
      const float mx = *std::max_element(row, row + visible);
      double sum = 0;
      for (int j = 0; j < visible; ++j) sum += (row[j] = std::exp(row[j] - mx));
      const float inv = static_cast<float>(1.0 / sum);
      for (int j = 0; j < visible; ++j) row[j] *= inv;
      std::fill(row + visible, row + total, 0.0f);
    }
    // O_h = P V_g: [n, hd]
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, total, 1.0f, scores, total,
                cache.v.data() + g * hd, kv_dim, 0.0f, &s.att[h * hd], q_dim);
  }
}

}  // namespace

void block_forward(const ModelConfig& c, const LayerWeights& L, int layer, float* x, int n, int pos, LayerCache& cache,
                   RopeTable& rope, BlockScratch& s, const LinearHook& hook) {
  const int d = c.dim, q_dim = c.q_dim(), kv_dim = c.kv_dim(), hid = c.hidden_dim;
  const size_t N = static_cast<size_t>(n);
  HESSQ_CHECK(cache.k.size() == static_cast<size_t>(pos) * kv_dim, "block_forward: the cache holds {} positions, "
              "expected {}", cache.k.size() / std::max(kv_dim, 1), pos);
  s.xb.resize(N * std::max(d, q_dim));
  s.q.resize(N * q_dim);
  s.k.resize(N * kv_dim);
  s.v.resize(N * kv_dim);
  s.att.resize(N * q_dim);
  s.hb.resize(N * hid);
  s.hb2.resize(N * hid);
  rope.ensure(pos + n);
  using P = ForwardProfile;
  auto run = [&](Proj p, const float* in, float* out) {
    if (hook) hook(LinearId{layer, p}, in, n);
    const ProfileScope t(s.profile, P::Linears);
    L.linear(p).forward(in, n, out);
  };
  auto run_shared = [&](std::initializer_list<std::pair<Proj, float*>> outs, const float* in) {
    LinearCall calls[3];
    size_t k = 0;
    for (const auto& [p, out] : outs) {
      if (hook) hook(LinearId{layer, p}, in, n);
      calls[k++] = {&L.linear(p), out};
    }
    const ProfileScope t(s.profile, P::Linears);
    forward_shared_input({calls, k}, in, n);
  };
  auto add_residual = [&] {
    const ProfileScope t(s.profile, P::Elementwise);
    for (size_t i = 0; i < N * d; ++i) x[i] += s.xb[i];
  };

  // Attention block: x += o_proj(attn(rope(q), rope(k), v)), inputs RMS-normed.
  {
    const ProfileScope t(s.profile, P::Norms);
    rms_norm(s.xb.data(), x, L.attn_norm.ptr(), n, d, c.norm_eps);
  }
  run_shared({{Proj::Q, s.q.data()}, {Proj::K, s.k.data()}, {Proj::V, s.v.data()}}, s.xb.data());
  if (c.qk_norm) {  // Qwen3: RMSNorm over each head before RoPE
    const ProfileScope t(s.profile, P::Norms);
    rms_norm(s.q.data(), s.q.data(), L.q_norm.ptr(), n * c.n_heads, c.head_dim, c.norm_eps);
    rms_norm(s.k.data(), s.k.data(), L.k_norm.ptr(), n * c.n_kv_heads, c.head_dim, c.norm_eps);
  }
  {
    const ProfileScope t(s.profile, P::RopeCache);
    apply_rope(c, rope, s.q.data(), c.n_heads, n, pos);
    apply_rope(c, rope, s.k.data(), c.n_kv_heads, n, pos);
    cache.k.insert(cache.k.end(), s.k.begin(), s.k.begin() + N * kv_dim);
    cache.v.insert(cache.v.end(), s.v.begin(), s.v.begin() + N * kv_dim);
  }
  {
    const ProfileScope t(s.profile, P::Attention);
    attention(c, cache, n, pos, s);
  }
  run(Proj::O, s.att.data(), s.xb.data());
  add_residual();

  // MLP block: x += down(silu(gate(x)) * up(x)), input RMS-normed.
  {
    const ProfileScope t(s.profile, P::Norms);
    rms_norm(s.xb.data(), x, L.ffn_norm.ptr(), n, d, c.norm_eps);
  }
  run_shared({{Proj::Gate, s.hb.data()}, {Proj::Up, s.hb2.data()}}, s.xb.data());
  {
    const ProfileScope t(s.profile, P::Elementwise);
    for (size_t i = 0; i < N * hid; ++i) {
      const float g = s.hb[i];
      s.hb[i] = g / (1.0f + std::exp(-g)) * s.hb2[i];
    }
  }
  run(Proj::Down, s.hb.data(), s.xb.data());
  add_residual();
}

}  // namespace hessq::model
