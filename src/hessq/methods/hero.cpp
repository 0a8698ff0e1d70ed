#include "hessq/methods/hero.hpp"

#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "hessq/core/error.hpp"
#include "hessq/core/random.hpp"
#include "hessq/core/timer.hpp"
#include "hessq/kernels/gemm_f32.hpp"
#include "hessq/linalg/stiefel.hpp"
#include "hessq/methods/layer_quant.hpp"
#include "hessq/methods/rtn.hpp"

namespace hessq::methods {

namespace {

template <class T>
using MatT = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;  // column-major
template <class T>
using VecT = Eigen::Matrix<T, Eigen::Dynamic, 1>;

constexpr int64_t kRowBlock = 16;   // max_rows keeps whole 16-row blocks (NVFP4 16 x 16 tiles)
constexpr double kOrthoTol = 1e-6;  // R0 / R accepted as orthogonal, as transforms::custom_rotation

// ---- Products, all through OpenBLAS, on one thread (SerialBlas) ----

// op(A) B, A column-major [a_rows, a_cols] (op = transpose when ta), B [k, p].
template <class T>
MatT<T> prod(const T* A, Eigen::Index a_rows, Eigen::Index a_cols, bool ta, const MatT<T>& B) {
  const Eigen::Index m = ta ? a_cols : a_rows, k = ta ? a_rows : a_cols, p = B.cols();
  MatT<T> C(m, p);
  const auto t = ta ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, double>)
    cblas_dgemm(CblasColMajor, t, CblasNoTrans, m, p, k, 1.0, A, a_rows, B.data(), k, 0.0, C.data(), m);
  else
    cblas_sgemm(CblasColMajor, t, CblasNoTrans, m, p, k, 1.0f, A, a_rows, B.data(), k, 0.0f, C.data(), m);
  return C;
}

// W Rf for row-major W [m, n], Rf [n, n] (sgemm).
MatF times_rotation(const MatF& W, const MatF& Rf) {
  const int m = static_cast<int>(W.rows()), n = static_cast<int>(W.cols());
  MatF C(m, n);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, n, 1.0f, W.data(), n, Rf.data(), n, 0.0f, C.data(), n);
  return C;
}

// E^T E [n, n] for row-major E [m, n] (sgemm, then the lower triangle mirrored for exact symmetry).
MatF gram(const MatF& E) {
  const int m = static_cast<int>(E.rows()), n = static_cast<int>(E.cols());
  MatF G(n, n);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, n, m, 1.0f, E.data(), n, E.data(), n, 0.0f, G.data(), n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < i; ++j) G(i, j) = G(j, i);
  return G;
}

// <A, B> = sum_ij A_ij B_ij accumulated in double, for symmetric B given by pointer (any layout).
template <class T, class M>
double dot_sym(const M& A, const T* B) {
  const Eigen::Index n = A.rows();
  double s = 0;
  for (Eigen::Index j = 0; j < n; ++j)
    for (Eigen::Index i = 0; i < n; ++i) s += static_cast<double>(A(i, j)) * static_cast<double>(B[i + j * n]);
  return s;
}

template <class T>
double dot(const MatT<T>& A, const MatT<T>& B) {
  return (A.template cast<double>().array() * B.template cast<double>().array()).sum();
}

// ---- The problem, checked and prepared once ----

struct Linear {
  std::string name;
  const MatF* W = nullptr;
  bool sampled = false;
  MatF sub;      // the max_rows rows, when sampled
  double c = 0;  // tr(W H W^T) over the rows used
  const MatF& w() const { return sampled ? sub : *W; }
};

struct Group {
  std::string name;
  const linalg::Mat* H = nullptr;
  const MatF* Hf = nullptr;
  std::vector<Linear> linears;
};

struct Heads {
  std::string name;
  size_t group = 0, v = 0;
  int64_t hd = 0;
  const MatF* Wo = nullptr;
  const linalg::Mat* H = nullptr;
  const MatF* Hf = nullptr;
  double c = 0;  // tr(W_o H_o W_o^T) (Q invariant)
  linalg::Mat Q0;
};

struct Problem {
  int64_t n = 0;
  std::vector<Group> groups;
  std::vector<Heads> heads;
};

void check_options(const HeroOptions& o, bool optimizing) {
  if (optimizing) {
    HESSQ_CHECK(o.steps >= 1, "hero: steps = {} must be >= 1", o.steps);
    HESSQ_CHECK(std::isfinite(o.lr_rotation) && o.lr_rotation > 0 && o.lr_rotation < 1,
                "hero: lr_rotation = {} must be in (0, 1) (the Frobenius norm of a Cayley step's generator)",
                o.lr_rotation);
    HESSQ_CHECK(std::isfinite(o.lr_scale) && o.lr_scale > 0, "hero: lr_scale = {} must be finite and > 0", o.lr_scale);
    HESSQ_CHECK(o.learn_rotation || o.learn_scales, "hero: nothing to learn (learn_rotation and learn_scales are off)");
    HESSQ_CHECK(o.adam_beta1 >= 0 && o.adam_beta1 < 1 && o.adam_beta2 >= 0 && o.adam_beta2 < 1 && o.adam_eps > 0,
                "hero: Adam beta1 = {}, beta2 = {} must be in [0, 1) and eps = {} > 0", o.adam_beta1, o.adam_beta2,
                o.adam_eps);
  }
  HESSQ_CHECK(std::isfinite(o.rho) && o.rho >= 0, "hero: rho = {} must be finite and >= 0", o.rho);
  HESSQ_CHECK(o.max_rows >= 0, "hero: max_rows = {} must be >= 0 (0 = all rows)", o.max_rows);
  HESSQ_CHECK(o.power_iters >= 1 && o.power_tol >= 0, "hero: power_iters = {} must be >= 1 and power_tol = {} >= 0",
              o.power_iters, o.power_tol);
}

void check_rotation(const linalg::Mat& R, const char* what) {
  HESSQ_CHECK(R.rows() == R.cols() && R.rows() > 0, "hero: {} is [{}, {}], expected a square [dim, dim] rotation", what,
              R.rows(), R.cols());
  HESSQ_CHECK(R.allFinite(), "hero: {} [{}, {}] holds NaN or Inf", what, R.rows(), R.cols());
  const double err = linalg::orthogonality_error(R);
  HESSQ_CHECK(err <= kOrthoTol, "hero: {} is not orthogonal (max |{}^T {} - I| = {:.3g}, at most {} accepted)", what,
              what, what, err, kOrthoTol);
}

template <class T>
void check_hessian_values(const T* H, int64_t n, const std::string& g) {
  double trace = 0;
  for (int64_t i = 0; i < n * n; ++i)
    HESSQ_CHECK(std::isfinite(H[i]), "hero: {}: H [{}, {}] has a NaN or Inf at [{}, {}]", g, n, n, i % n, i / n);
  for (int64_t j = 0; j < n; ++j) {
    HESSQ_CHECK(H[j * n + j] >= 0, "hero: {}: H[{}, {}] = {} is negative; H = X^T X / N is positive semi-definite", g,
                j, j, H[j * n + j]);
    trace += H[j * n + j];
  }
  HESSQ_CHECK(trace > 0, "hero: {}: H is zero (its input never fired on the calibration tokens)", g);
}

// Whether max_rows leaves out some of W's rows.
bool is_sampled(const MatF& W, int64_t max_rows) {
  return max_rows > 0 && W.rows() / kRowBlock > std::max<int64_t>(1, max_rows / kRowBlock);
}

// Rows of whole 16-row blocks, evenly spaced, at most max(max_rows, 16) of them.
MatF sample_rows(const MatF& W, int64_t max_rows) {
  const int64_t blocks = W.rows() / kRowBlock, take = std::max<int64_t>(1, max_rows / kRowBlock);
  MatF out(take * kRowBlock, W.cols());
  for (int64_t k = 0; k < take; ++k)
    out.middleRows(k * kRowBlock, kRowBlock) = W.middleRows(k * blocks / take * kRowBlock, kRowBlock);
  return out;
}

Problem prepare(const std::vector<HeroGroup>& groups, int64_t n, const HeroOptions& opt,
                const std::vector<HeroHeads>& heads) {
  HESSQ_CHECK(!groups.empty(), "hero: no linear groups given");
  Problem P;
  P.n = n;
  auto is_v = [&](size_t gi, size_t li) {
    return std::any_of(heads.begin(), heads.end(), [&](const HeroHeads& h) { return h.group == gi && h.v == li; });
  };
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const HeroGroup& hg = groups[gi];
    Group g;
    g.name = hg.name.empty() ? fmt::format("group {}", gi) : hg.name;
    HESSQ_CHECK((hg.H != nullptr) != (hg.H_f32 != nullptr), "hero: {}: give exactly one of H and H_f32 (got {})",
                g.name, hg.H ? "both" : "neither");
    g.H = hg.H;
    g.Hf = hg.H_f32;
    const int64_t hr = g.H ? g.H->rows() : g.Hf->rows(), hc = g.H ? g.H->cols() : g.Hf->cols();
    HESSQ_CHECK(hr == n && hc == n, "hero: {}: H is [{}, {}], expected [{}, {}] (the stream width of R0)", g.name, hr,
                hc, n, n);
    if (g.H)
      check_hessian_values(g.H->data(), n, g.name);
    else
      check_hessian_values(g.Hf->data(), n, g.name);
    HESSQ_CHECK(!hg.linears.empty(), "hero: {}: no linears", g.name);
    for (size_t li = 0; li < hg.linears.size(); ++li) {
      const HeroLinear& hl = hg.linears[li];
      Linear L;
      L.name = hl.name.empty() ? fmt::format("{} linear {}", g.name, li) : hl.name;
      HESSQ_CHECK(hl.W != nullptr, "hero: {}: W is null", L.name);
      check_weight(*hl.W, ("hero: " + L.name).c_str());
      HESSQ_CHECK(hl.W->cols() == n, "hero: {}: W is [{}, {}], expected {} inputs (the stream width of R0 and H)",
                  L.name, hl.W->rows(), hl.W->cols(), n);
      L.W = hl.W;
      L.sampled = !is_v(gi, li) && is_sampled(*hl.W, opt.max_rows);  // Q rotates whole heads
      if (L.sampled) L.sub = sample_rows(*hl.W, opt.max_rows);
      const MatF G = gram(L.w());
      L.c = g.H ? dot_sym(G, g.H->data()) : dot_sym(G, g.Hf->data());
      HESSQ_CHECK(
          std::isfinite(L.c) && L.c > 0,
          "hero: {}: tr(W H W^T) = {} (its output is zero on the calibration inputs); the relative loss needs > 0",
          L.name, L.c);
      g.linears.push_back(std::move(L));
    }
    P.groups.push_back(std::move(g));
  }
  for (size_t hi = 0; hi < heads.size(); ++hi) {
    const HeroHeads& hh = heads[hi];
    Heads h;
    h.name = hh.name.empty() ? fmt::format("heads {}", hi) : hh.name;
    HESSQ_CHECK(hh.group < P.groups.size() && hh.v < P.groups[hh.group].linears.size(),
                "hero: {}: v_proj is linear {} of group {}, but there are {} groups", h.name, hh.v, hh.group,
                P.groups.size());
    h.group = hh.group;
    h.v = hh.v;
    h.hd = hh.head_dim;
    const MatF& Wv = *P.groups[hh.group].linears[hh.v].W;
    HESSQ_CHECK(h.hd > 0 && Wv.rows() % h.hd == 0, "hero: {}: v_proj has {} rows, not whole heads of head_dim {}",
                h.name, Wv.rows(), h.hd);
    HESSQ_CHECK(hh.Q0.rows() == h.hd, "hero: {}: Q0 is [{}, {}], expected [{}, {}] (head_dim)", h.name, hh.Q0.rows(),
                hh.Q0.cols(), h.hd, h.hd);
    check_rotation(hh.Q0, "Q0");
    h.Q0 = hh.Q0;
    HESSQ_CHECK(hh.W_o != nullptr, "hero: {}: W_o is null", h.name);
    check_weight(*hh.W_o, ("hero: " + h.name + " o_proj").c_str());
    const int64_t q = hh.W_o->cols();
    HESSQ_CHECK(q % h.hd == 0, "hero: {}: o_proj has {} inputs, not whole heads of head_dim {}", h.name, q, h.hd);
    HESSQ_CHECK((hh.H_o != nullptr) != (hh.H_o_f32 != nullptr), "hero: {}: give exactly one of H_o and H_o_f32",
                h.name);
    h.H = hh.H_o;
    h.Hf = hh.H_o_f32;
    const int64_t hr = h.H ? h.H->rows() : h.Hf->rows(), hc = h.H ? h.H->cols() : h.Hf->cols();
    HESSQ_CHECK(hr == q && hc == q, "hero: {}: H_o is [{}, {}], expected [{}, {}] (o_proj's inputs)", h.name, hr, hc,
                q, q);
    if (h.H)
      check_hessian_values(h.H->data(), q, h.name);
    else
      check_hessian_values(h.Hf->data(), q, h.name);
    h.Wo = hh.W_o;
    const MatF G = gram(*h.Wo);
    h.c = h.H ? dot_sym(G, h.H->data()) : dot_sym(G, h.Hf->data());
    HESSQ_CHECK(std::isfinite(h.c) && h.c > 0, "hero: {}: tr(W_o H_o W_o^T) = {}; the relative loss needs > 0",
                h.name, h.c);
    P.heads.push_back(std::move(h));
  }
  return P;
}

// W B for row-major W [m, heads * hd] (each row's head blocks times Q), in fp32 (sgemm on the rows
// seen as [m * heads, hd]).
MatF head_cols(const MatF& W, const MatF& Qf) {
  const int hd = static_cast<int>(Qf.rows()), rows = static_cast<int>(W.size() / hd);
  MatF C(W.rows(), W.cols());
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hd, hd, 1.0f, W.data(), hd, Qf.data(), hd, 0.0f,
              C.data(), hd);
  return C;
}

// B^T W for row-major W [heads * hd, n] (each head's rows: Q^T W_h), in fp32.
MatF head_rows(const MatF& W, const MatF& Qf) {
  const int hd = static_cast<int>(Qf.rows()), n = static_cast<int>(W.cols());
  MatF C(W.rows(), W.cols());
  for (Eigen::Index h = 0; h < W.rows() / hd; ++h)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, hd, n, hd, 1.0f, Qf.data(), hd, W.data() + h * hd * n, n,
                0.0f, C.data() + h * hd * n, n);
  return C;
}

// ---- One group's terms ----

// lambda_max of H' = A^T H A by power iteration (H' v = A^T (HA v), matrix-vector products only);
// v: unit start vector in, top eigenvector out.
template <class T>
double power_lambda(const MatT<T>& HA, const MatT<T>& A, VecT<T>& v, const HeroOptions& opt) {
  double lam = 0;
  for (int it = 0; it < opt.power_iters; ++it) {
    const VecT<T> u = HA * v;
    const VecT<T> y = A.transpose() * u;
    const double q = static_cast<double>(v.dot(y));
    const T norm = y.norm();
    if (!(norm > 0)) return 0;
    v = y / norm;
    const bool done = it > 0 && std::abs(q - lam) <= opt.power_tol * std::abs(q);
    lam = q;
    if (done) break;
  }
  return lam;
}

VecT<double> start_vector(int64_t n, uint64_t seed, size_t group) {
  uint64_t s = seed ^ (0x9e3779b97f4a7c15ull * (group + 1));
  VecT<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = normal01(s);
  return v / v.norm();
}

struct Terms {
  double quant = 0, cond = 0, lambda = 0, trace = 0;
  linalg::Mat grad_R;        // dvalue/dR (value = quant + w cond)
  linalg::Vec grad_t;        // dvalue/d(log d)
  std::vector<double> loss;  // per linear (detail)
};

// Steps 2-3 for one group once H A and S are known; v warm-starts the power iteration.
template <class T>
void smooth_terms(const MatT<T>& HA, const MatT<T>& A, const MatT<T>& S, const linalg::Vec& d, double w, VecT<T>& v,
                  const HeroOptions& opt, bool grads, Terms& out) {
  const Eigen::Index n = A.rows();
  const MatT<T> P = prod(HA.data(), n, n, false, S);  // H A S
  out.quant = dot(A, P);                              // tr(A^T H A S) = <H', S>
  out.trace = dot(A, HA);                             // tr(H')
  out.lambda = power_lambda(HA, A, v, opt);
  HESSQ_CHECK(out.trace > 0 && out.lambda > 0, "hero: the transformed H' is zero (trace {}, lambda_max {})", out.trace,
              out.lambda);
  out.cond = std::log(out.lambda) - std::log(out.trace / static_cast<double>(n));
  if (!grads) return;
  // dvalue/dA = 2 H A (S + w (v v^T / lambda - I / tr H'))
  const VecT<T> u = HA * v;
  MatT<T> M = T(2) * P - T(2 * w / out.trace) * HA;
  M.noalias() += T(2 * w / out.lambda) * u * v.transpose();
  out.grad_R = M.template cast<double>() * d.cwiseInverse().asDiagonal();  // A = R D^-1
  out.grad_t = -(A.template cast<double>().array() * M.template cast<double>().array())
                    .colwise()
                    .sum()
                    .transpose();  // -(A^T M)_jj
}

struct Timers {
  double quant = 0, hessian = 0;
};

// The group's terms at (R, d): W'_i = W_i R D, E_i, S = sum E_i^T E_i / c_i, then smooth_terms.
template <class T>
Terms group_terms(const Group& g, const T* H, const std::vector<const MatF*>& Ws, const linalg::Mat& R, const MatF& Rf,
                  const linalg::Vec& d, double w, linalg::Vec& v_state, const formats::QuantSpec& wq,
                  const HeroOptions& opt, bool grads, bool detail, Timers& tm) {
  const Eigen::Index n = R.rows();
  auto t0 = Clock::now();
  const MatT<T> A = (R * d.cwiseInverse().asDiagonal()).template cast<T>();
  const MatT<T> HA = prod(H, n, n, false, A);
  MatT<T> Hp;
  if (detail) Hp = prod(A.data(), n, n, true, HA);  // H' = A^T H A
  tm.hessian += seconds_since(t0);

  t0 = Clock::now();
  Terms out;
  const Eigen::RowVectorXf df = d.cast<float>().transpose();
  MatT<T> S = MatT<T>::Zero(n, n);
  for (size_t li = 0; li < g.linears.size(); ++li) {
    const Linear& L = g.linears[li];
    MatF Wp = times_rotation(Ws[li] ? *Ws[li] : L.w(), Rf);
    Wp.array().rowwise() *= df.array();
    MatF E = fake_quant_padded(wq, Wp);
    E -= Wp;
    const MatF G = gram(E);
    if (detail) out.loss.push_back(dot_sym(G, Hp.data()) / L.c);
    S += (G.cast<double>() / L.c).template cast<T>();
  }
  tm.quant += seconds_since(t0);

  t0 = Clock::now();
  VecT<T> v = v_state.cast<T>();
  smooth_terms(HA, A, S, d, w, v, opt, grads, out);
  v_state = v.template cast<double>();
  tm.hessian += seconds_since(t0);
  return out;
}

// o_proj's term at Q with S = E^T E / c fixed (H_o: column-major data, symmetric [q, q]):
// quant = <B^T H B, S>, grad = sum_h [2 H B S]_hh. With T = (H B)^T = B^T H, column block h of
// B^T H B is T_h Q, and [H B S]_hh = T_h^T S_h (T_h, S_h the column blocks h of T and S).
template <class T>
double heads_smooth(const T* H, int64_t q, const linalg::Mat& Q, const MatT<T>& S, bool grads, linalg::Mat& grad) {
  const Eigen::Index hd = Q.rows(), nh = q / hd;
  const MatT<T> Qt = Q.template cast<T>();
  MatT<T> HB(q, q);
  for (Eigen::Index h = 0; h < nh; ++h) HB.middleCols(h * hd, hd) = prod(H + h * hd * q, q, hd, false, Qt);
  const MatT<T> Tm = HB.transpose();
  double quant = 0;
  if (grads) grad = linalg::Mat::Zero(hd, hd);
  for (Eigen::Index h = 0; h < nh; ++h) {
    const MatT<T> Hp_h = prod(Tm.data() + h * hd * q, q, hd, false, Qt);  // column block h of B^T H B
    const MatT<T> S_h = S.middleCols(h * hd, hd);
    quant += dot(Hp_h, S_h);
    if (grads) grad += 2.0 * prod(Tm.data() + h * hd * q, q, hd, true, S_h).template cast<double>();
  }
  return quant;
}

// o_proj's relative loss at Q: W_o B quantized, S = E^T E / c, then heads_smooth.
template <class T>
double heads_terms(const Heads& h, const T* H, const linalg::Mat& Q, const formats::QuantSpec& wq, bool grads,
                   linalg::Mat& grad, Timers& tm) {
  auto t0 = Clock::now();
  const MatF WB = head_cols(*h.Wo, Q.cast<float>());
  MatF E = fake_quant_padded(wq, WB);
  E -= WB;
  const MatT<T> S = (gram(E).cast<double>() / h.c).template cast<T>();
  tm.quant += seconds_since(t0);
  t0 = Clock::now();
  const double quant = heads_smooth(H, h.Wo->cols(), Q, S, grads, grad);
  tm.hessian += seconds_since(t0);
  return quant;
}

struct Eval {
  HeroTerms terms;
  linalg::Mat grad_R;
  std::vector<linalg::Mat> grad_Q;  // per heads
  std::vector<double> o_loss;       // per heads
  std::vector<linalg::Vec> grad_t;
  std::vector<Terms> groups;  // detail: per-linear losses, lambda, trace
};

Eval evaluate(const Problem& P, const linalg::Mat& R, const std::vector<linalg::Vec>& t, const std::vector<linalg::Mat>& Q,
              std::vector<linalg::Vec>& v, const formats::QuantSpec& wq, const HeroOptions& opt, bool grads, bool detail,
              Timers& tm) {
  Eval ev;
  const MatF Rf = R.cast<float>();
  if (grads) ev.grad_R = linalg::Mat::Zero(P.n, P.n);
  // v_proj's rows rotated by its block's Q (whole heads), in place of its W.
  std::vector<MatF> v_rot(P.heads.size());
  std::vector<std::vector<const MatF*>> Ws(P.groups.size());
  for (size_t gi = 0; gi < P.groups.size(); ++gi) Ws[gi].assign(P.groups[gi].linears.size(), nullptr);
  for (size_t hi = 0; hi < P.heads.size(); ++hi) {
    const Heads& h = P.heads[hi];
    v_rot[hi] = head_rows(P.groups[h.group].linears[h.v].w(), Q[hi].cast<float>());
    Ws[h.group][h.v] = &v_rot[hi];
  }
  for (size_t gi = 0; gi < P.groups.size(); ++gi) {
    const Group& g = P.groups[gi];
    const double ng = static_cast<double>(g.linears.size());
    const linalg::Vec d = t[gi].array().exp();
    Terms gt = g.H ? group_terms(g, g.H->data(), Ws[gi], R, Rf, d, opt.rho * ng, v[gi], wq, opt, grads, detail, tm)
                   : group_terms(g, g.Hf->data(), Ws[gi], R, Rf, d, opt.rho * ng, v[gi], wq, opt, grads, detail, tm);
    ev.terms.quant += gt.quant;
    ev.terms.cond += ng * gt.cond;
    if (grads) {
      ev.grad_R += gt.grad_R;
      ev.grad_t.push_back(std::move(gt.grad_t));
    }
    gt.grad_R.resize(0, 0);
    ev.groups.push_back(std::move(gt));
  }
  for (size_t hi = 0; hi < P.heads.size(); ++hi) {
    const Heads& h = P.heads[hi];
    linalg::Mat g;
    const double loss = h.H ? heads_terms(h, h.H->data(), Q[hi], wq, grads, g, tm)
                            : heads_terms(h, h.Hf->data(), Q[hi], wq, grads, g, tm);
    ev.terms.quant += loss;
    ev.o_loss.push_back(loss);
    if (grads) ev.grad_Q.push_back(std::move(g));
  }
  ev.terms.objective = ev.terms.quant + opt.rho * ev.terms.cond;
  return ev;
}

std::vector<linalg::Vec> start_vectors(const Problem& P, uint64_t seed) {
  std::vector<linalg::Vec> v;
  for (size_t gi = 0; gi < P.groups.size(); ++gi) v.push_back(start_vector(P.n, seed, gi));
  return v;
}

// One Adam step on t (log d), then mean(t) = 0.
struct Adam {
  linalg::Vec m, v;
  void step(linalg::Vec& t, const linalg::Vec& g, int k, double lr, const HeroOptions& o) {
    if (m.size() == 0) m = v = linalg::Vec::Zero(t.size());
    m = o.adam_beta1 * m + (1 - o.adam_beta1) * g;
    v = o.adam_beta2 * v + (1 - o.adam_beta2) * g.cwiseAbs2();
    const double c1 = 1 - std::pow(o.adam_beta1, k), c2 = 1 - std::pow(o.adam_beta2, k);
    t.array() -= lr * (m.array() / c1) / ((v.array() / c2).sqrt() + o.adam_eps);
    t.array() -= t.mean();
  }
};

}  // namespace

HeroOptions spinquant_options(HeroOptions opt) {
  opt.rho = 0;
  opt.learn_scales = false;
  return opt;
}

std::vector<linalg::Mat> start_heads(const Problem& P) {
  std::vector<linalg::Mat> Q;
  for (const Heads& h : P.heads) Q.push_back(h.Q0);
  return Q;
}

HeroResult optimize_hero(const std::vector<HeroGroup>& groups, const linalg::Mat& R0, const formats::QuantSpec& wq,
                         const HeroOptions& opt, const std::vector<HeroHeads>& heads) {
  const kernels::SerialBlas serial;  // 100 Cayley steps amplify a last-bit difference (gemm_f32.hpp)
  const auto t_start = Clock::now();
  check_options(opt, true);
  formats::validate(wq);
  check_rotation(R0, "R0");
  const Problem P = prepare(groups, R0.rows(), opt, heads);
  const size_t G = P.groups.size();

  HeroResult res;
  Timers tm;
  linalg::Mat R = R0;
  std::vector<linalg::Vec> t(G, linalg::Vec::Zero(P.n)), v = start_vectors(P, opt.seed);
  std::vector<Adam> adam(G);
  std::vector<linalg::Mat> Q = start_heads(P);
  linalg::Mat R_best = R;
  std::vector<linalg::Vec> t_best = t;
  std::vector<linalg::Mat> Q_best = Q;
  std::vector<Terms> first;  // the start's per-group detail (per-linear losses, lambda, trace)
  std::vector<double> first_o;
  for (int k = 0; k <= opt.steps; ++k) {
    Eval ev = evaluate(P, R, t, Q, v, wq, opt, k < opt.steps, k == 0, tm);
    res.curve.push_back(ev.terms);
    if (!opt.keep_best || k == 0 || ev.terms.objective < res.curve[res.best].objective) {
      res.best = k;
      R_best = R;
      t_best = t;
      Q_best = Q;
    }
    if (k == 0) first = std::move(ev.groups), first_o = ev.o_loss;
    if (k == opt.steps) break;
    // Step 3: a Cayley step on R and an Adam step on log d, both linearly decayed.
    const auto t0 = Clock::now();
    const double decay = 1.0 - static_cast<double>(k) / opt.steps;
    if (opt.learn_rotation) {
      const linalg::Mat Omega = linalg::stiefel_skew(R, ev.grad_R);
      const double norm = Omega.norm();
      if (norm > 0) R = linalg::cayley_retract(R, Omega, opt.lr_rotation * decay / norm);
      for (size_t hi = 0; hi < Q.size(); ++hi) {  // the per-head rotations: the same normalized step
        const linalg::Mat Om = linalg::stiefel_skew(Q[hi], ev.grad_Q[hi]);
        const double nq = Om.norm();
        if (nq > 0) Q[hi] = linalg::cayley_retract(Q[hi], Om, opt.lr_rotation * decay / nq);
      }
    }
    if (opt.learn_scales)
      for (size_t gi = 0; gi < G; ++gi) adam[gi].step(t[gi], ev.grad_t[gi], k + 1, opt.lr_scale * decay, opt);
    res.seconds_update += seconds_since(t0);
  }

  // The report: per linear at the start (first) and at the returned point.
  res.R = R_best;
  for (const linalg::Vec& tg : t_best) res.d.push_back(tg.array().exp());
  res.Q = Q_best;
  const Eval last = evaluate(P, res.R, t_best, res.Q, v, wq, opt, false, true, tm);
  for (size_t hi = 0; hi < P.heads.size(); ++hi)
    res.heads.push_back({P.heads[hi].name, first_o[hi], last.o_loss[hi]});
  for (size_t gi = 0; gi < G; ++gi) {
    const Group& g = P.groups[gi];
    const double n = static_cast<double>(P.n);
    for (size_t li = 0; li < g.linears.size(); ++li) {
      HeroLinearReport r;
      r.group = g.name;
      r.name = g.linears[li].name;
      r.loss_before = first[gi].loss[li];
      r.loss_after = last.groups[gi].loss[li];
      r.kappa_before = first[gi].lambda / (first[gi].trace / n);
      r.kappa_after = last.groups[gi].lambda / (last.groups[gi].trace / n);
      r.lambda_max = first[gi].lambda;
      res.linears.push_back(std::move(r));
    }
  }
  res.orthogonality_error = linalg::orthogonality_error(res.R);
  for (const linalg::Mat& q : res.Q) res.orthogonality_error = std::max(res.orthogonality_error, linalg::orthogonality_error(q));
  res.seconds_quant = tm.quant;
  res.seconds_hessian = tm.hessian;
  res.seconds = seconds_since(t_start);
  return res;
}

HeroTerms evaluate_hero(const std::vector<HeroGroup>& groups, const linalg::Mat& R, const std::vector<linalg::Vec>& d,
                        const formats::QuantSpec& wq, const HeroOptions& opt, const std::vector<HeroHeads>& heads,
                        const std::vector<linalg::Mat>& Q) {
  const kernels::SerialBlas serial;
  check_options(opt, false);
  formats::validate(wq);
  check_rotation(R, "R");
  const Problem P = prepare(groups, R.rows(), opt, heads);
  HESSQ_CHECK(Q.empty() || Q.size() == P.heads.size(), "hero: {} head rotations for {} heads", Q.size(),
              P.heads.size());
  for (size_t hi = 0; hi < Q.size(); ++hi) {
    HESSQ_CHECK(Q[hi].rows() == P.heads[hi].hd, "hero: {}: Q is [{}, {}], expected head_dim {}", P.heads[hi].name,
                Q[hi].rows(), Q[hi].cols(), P.heads[hi].hd);
    check_rotation(Q[hi], "Q");
  }
  HESSQ_CHECK(d.empty() || d.size() == P.groups.size(), "hero: {} scaling vectors for {} groups", d.size(),
              P.groups.size());
  std::vector<linalg::Vec> t(P.groups.size(), linalg::Vec::Zero(P.n));
  for (size_t gi = 0; gi < d.size(); ++gi) {
    HESSQ_CHECK(d[gi].size() == P.n && d[gi].allFinite() && d[gi].minCoeff() > 0,
                "hero: {}: d has {} entries (expected {}, all finite and > 0)", P.groups[gi].name, d[gi].size(), P.n);
    t[gi] = d[gi].array().log();
  }
  std::vector<linalg::Vec> v = start_vectors(P, opt.seed);
  Timers tm;
  return evaluate(P, R, t, Q.empty() ? start_heads(P) : Q, v, wq, opt, false, false, tm).terms;
}

HeroSmooth hero_group_smooth(const linalg::Mat& H, const linalg::Mat& R, const linalg::Vec& d, const linalg::Mat& S,
                             double w, const HeroOptions& opt) {
  check_options(opt, false);
  check_rotation(R, "R");
  const Eigen::Index n = R.rows();
  HESSQ_CHECK(H.rows() == n && H.cols() == n && S.rows() == n && S.cols() == n && d.size() == n,
              "hero: H is [{}, {}], S [{}, {}] and d [{}], expected [{}, {}] and [{}] for R [{}, {}]", H.rows(),
              H.cols(), S.rows(), S.cols(), d.size(), n, n, n, n, n);
  check_hessian_values(H.data(), n, "H");
  HESSQ_CHECK(S.allFinite() && d.allFinite() && d.minCoeff() > 0 && std::isfinite(w),
              "hero: S, d (> 0 expected) or w = {} holds a bad value", w);
  const linalg::Mat A = R * d.cwiseInverse().asDiagonal();
  const linalg::Mat HA = prod(H.data(), n, n, false, A);
  VecT<double> v = start_vector(n, opt.seed, 0);
  Terms t;
  smooth_terms(HA, A, S, d, w, v, opt, true, t);
  return HeroSmooth{t.quant, t.cond, t.lambda, t.trace, std::move(t.grad_R), std::move(t.grad_t)};
}

HeroHeadsSmooth hero_heads_smooth(const linalg::Mat& H_o, const linalg::Mat& Q, const linalg::Mat& S) {
  check_rotation(Q, "Q");
  const Eigen::Index q = H_o.rows();
  HESSQ_CHECK(H_o.cols() == q && S.rows() == q && S.cols() == q && q % Q.rows() == 0,
              "hero: H_o is [{}, {}] and S [{}, {}], expected square, equal, whole heads of {}", H_o.rows(), H_o.cols(),
              S.rows(), S.cols(), Q.rows());
  check_hessian_values(H_o.data(), q, "H_o");
  HESSQ_CHECK(S.allFinite(), "hero: S holds NaN or Inf");
  HeroHeadsSmooth out;
  out.quant = heads_smooth(H_o.data(), q, Q, S, true, out.grad_Q);
  return out;
}

MatF hero_head_rows(const MatF& W_v, const linalg::Mat& Q) {
  check_rotation(Q, "Q");
  const Eigen::Index hd = Q.rows();
  HESSQ_CHECK(W_v.rows() % hd == 0, "hero: v_proj W is [{}, {}], not whole heads of {}", W_v.rows(), W_v.cols(), hd);
  MatF out(W_v.rows(), W_v.cols());
  for (Eigen::Index h = 0; h < W_v.rows() / hd; ++h)
    out.middleRows(h * hd, hd) = (Q.transpose() * W_v.middleRows(h * hd, hd).cast<double>()).cast<float>();
  return out;
}

MatF hero_head_cols(const MatF& W_o, const linalg::Mat& Q) {
  check_rotation(Q, "Q");
  const Eigen::Index hd = Q.rows();
  HESSQ_CHECK(W_o.cols() % hd == 0, "hero: o_proj W is [{}, {}], not whole heads of {}", W_o.rows(), W_o.cols(), hd);
  MatF out(W_o.rows(), W_o.cols());
  for (Eigen::Index h = 0; h < W_o.cols() / hd; ++h)
    out.middleCols(h * hd, hd) = (W_o.middleCols(h * hd, hd).cast<double>() * Q).cast<float>();
  return out;
}

MatF hero_reader_weight(const MatF& W, const linalg::Mat& R, const linalg::Vec& d) {
  check_rotation(R, "R");
  HESSQ_CHECK(W.cols() == R.rows() && d.size() == R.rows(), "hero: reader W is [{}, {}] and d [{}], R is [{}, {}]",
              W.rows(), W.cols(), d.size(), R.rows(), R.cols());
  HESSQ_CHECK(d.allFinite() && d.minCoeff() > 0, "hero: the scalings d must be finite and > 0");
  const linalg::Mat Wt = W.cast<double>().transpose();  // [n, m]: (W R)^T = R^T W^T
  linalg::Mat WR = prod(R.data(), R.rows(), R.cols(), true, Wt).transpose();
  WR = WR * d.asDiagonal();
  return WR.cast<float>();
}

MatF hero_objective_rows(const MatF& W, int64_t max_rows) {
  HESSQ_CHECK(max_rows >= 0, "hero: max_rows = {} must be >= 0 (0 = all rows)", max_rows);
  return is_sampled(W, max_rows) ? sample_rows(W, max_rows) : W;
}

MatF hero_writer_weight(const MatF& W, const linalg::Mat& R) {
  check_rotation(R, "R");
  HESSQ_CHECK(W.rows() == R.rows(), "hero: writer W is [{}, {}], R is [{}, {}] (expected {} output rows)", W.rows(),
              W.cols(), R.rows(), R.cols(), R.rows());
  const linalg::Mat Wd = W.cast<double>();
  return prod(R.data(), R.rows(), R.cols(), true, Wd).cast<float>();
}

linalg::Mat hero_reader_hessian(const linalg::Mat& H, const linalg::Mat& R, const linalg::Vec& d) {
  check_rotation(R, "R");
  const Eigen::Index n = R.rows();
  HESSQ_CHECK(H.rows() == n && H.cols() == n && d.size() == n, "hero: H is [{}, {}] and d [{}], R is [{}, {}]",
              H.rows(), H.cols(), d.size(), n, n);
  HESSQ_CHECK(d.allFinite() && d.minCoeff() > 0, "hero: the scalings d must be finite and > 0");
  const linalg::Mat A = R * d.cwiseInverse().asDiagonal();
  const linalg::Mat HA = prod(H.data(), n, n, false, A);
  return prod(A.data(), n, n, true, HA);
}

}  // namespace hessq::methods
