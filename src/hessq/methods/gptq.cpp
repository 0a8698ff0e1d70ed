#include "hessq/methods/gptq.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "hessq/core/error.hpp"
#include "hessq/kernels/gemm_f32.hpp"
#include "hessq/methods/rtn.hpp"

namespace hessq::methods {

using formats::IntParams;
using formats::QuantSpec;
using MatRF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace {

// The spec's canonical name, or a description when the fields are out of range (name() throws then).
std::string spec_label(const QuantSpec& spec) {
  try {
    return spec.name();
  } catch (const Error&) {
    return fmt::format("format #{}, {} bits, granularity #{}, group {}", static_cast<int>(spec.format), spec.bits,
                       static_cast<int>(spec.granularity), spec.group);
  }
}

}  // namespace

IntLayout int_layout(const QuantSpec& spec, int64_t n, const char* method) {
  using formats::Format;
  using formats::Granularity;
  HESSQ_CHECK(spec.format == Format::Int, "{}: spec '{}' is not an INT format (INT-b only)", method, spec_label(spec));
  HESSQ_CHECK(spec.bits >= 2 && spec.bits <= 8, "{}: spec '{}' has {} bits, expected 2..8", method, spec_label(spec),
              spec.bits);
  switch (spec.granularity) {
    case Granularity::PerChannel:
    case Granularity::PerToken:
      return {n, 1, false};
    case Granularity::PerTensor:
      return {n, 1, true};
    case Granularity::PerGroup:
      HESSQ_CHECK(spec.group > 0 && n % spec.group == 0,
                  "{}: spec '{}': the {} input columns are not a whole number of groups of {}", method,
                  spec_label(spec), n, spec.group);
      return {spec.group, n / spec.group, false};
    default:
      HESSQ_FAIL("{}: spec '{}' has a granularity this solver does not support (per-channel, per-tensor, per-group)",
                 method, spec_label(spec));
  }
}

namespace detail {

// Rows are gathered column by column (one n-vector per thread), then columns are moved along the
// cycles of q (one column buffer).
void permute_symmetric_in_place(linalg::Mat& H, const std::vector<int64_t>& q) {
  const int64_t n = H.rows();
#pragma omp parallel
  {
    std::vector<double> t(n);
#pragma omp for schedule(static)
    for (int64_t b = 0; b < n; ++b) {
      double* col = &H(0, b);
      for (int64_t a = 0; a < n; ++a) t[a] = col[q[a]];
      std::copy(t.begin(), t.end(), col);
    }
  }
  std::vector<bool> moved(n);
  std::vector<double> first(n);
  for (int64_t s = 0; s < n; ++s) {  // H(:, j) := H(:, q[j]) around the cycle s -> q[s] -> ... -> s
    if (moved[s]) continue;
    std::copy_n(&H(0, s), n, first.data());
    for (int64_t j = s;; j = q[j]) {
      moved[j] = true;
      if (q[j] == s) {
        std::copy_n(first.data(), n, &H(0, j));
        break;
      }
      std::copy_n(&H(0, q[j]), n, &H(0, j));
    }
  }
}

}  // namespace detail

namespace {

// Steps 4-5 storage, in place: H := J P^T H P J (J the exchange matrix), i.e. H(a, b) := H(q[a], q[b])
// with q[a] = perm[n-1-a] (detail::permute_symmetric_in_place), dead diagonals set to 1, plus lambda I.
void reverse_and_damp_in_place(linalg::Mat& H, const std::vector<int64_t>& q, double lambda) {
  detail::permute_symmetric_in_place(H, q);
  for (int64_t b = 0; b < H.rows(); ++b) H(b, b) = (H(b, b) == 0 ? 1.0 : H(b, b)) + lambda;
}

// Steps 4-5 in the one double buffer: Hr (from reverse_and_damp_in_place) -> its Cholesky factor R
// (Hr = R^T R) -> U. The damped H in processing order is V V^T with V = J R^T J upper, so
// U = V^-1 = J R^-T J is the upper Cholesky factor of H^-1 (H^-1 = U^T U) without forming H^-1 (half
// the flops of inverse + factor). U is returned in float (the one extra n x n buffer); on return Hr
// holds R again in its upper triangle (step 7 needs it). R's strict upper triangle waits in the
// strict lower one and its diagonal in a vector while the upper triangle is inverted in place.
MatRF factor_in_place(linalg::Mat& Hr) {
  const int64_t n = Hr.rows();
  linalg::cholesky_upper_in_place(Hr);
  const linalg::Vec r_diag = Hr.diagonal();
  linalg::symmetrize_from_upper(Hr);              // strict lower := R^T
  linalg::upper_triangular_inverse_in_place(Hr);  // upper := R^-1
  MatRF U = MatRF::Zero(n, n);                    // U(i, j) = R^-1(n-1-j, n-1-i), upper
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) U(i, j) = static_cast<float>(Hr(n - 1 - j, n - 1 - i));
  linalg::symmetrize_from_lower(Hr);  // upper := R, strict
  Hr.diagonal() = r_diag;
  return U;
}

}  // namespace

namespace detail {

// Step 7: tr(D H_in D^T) in double (D = W_q - W_in) from the factor at hand. In processing order
// H_in = V V^T - lambda I - sum_dead e_j e_j^T, and ||D_p V|| = ||D_p J R^T|| = ||D_r R^T|| with
// D_r(:, a) = D(:, q[a]), so the loss is ||D_r R^T||^2 - lambda ||D||^2 - sum_dead ||D_j||^2: one
// triangular multiply instead of a GEMM (gptq_mx.cpp: q = identity, no reversal). Row panels bound
// the memory.
double proxy_loss_from_factor(const MatF& W_in, const MatF& Q, const linalg::Mat& R, const std::vector<int64_t>& q,
                              double lambda, const std::vector<int64_t>& dead) {
  using RowMatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const int64_t m = W_in.rows(), n = W_in.cols();
  constexpr int64_t kPanel = 512;
  double loss = 0;
  for (int64_t r0 = 0; r0 < m; r0 += kPanel) {
    const int64_t rows = std::min(kPanel, m - r0);
    RowMatD Dr(rows, n);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t a = 0; a < n; ++a)
        Dr(r, a) = static_cast<double>(Q(r0 + r, q[a])) - static_cast<double>(W_in(r0 + r, q[a]));
    loss -= lambda * Dr.squaredNorm();
    for (int64_t j : dead) loss -= Dr.col(j).squaredNorm();  // j: position of a dead input in q
    // Dr := Dr R^T; R's column-major storage read row-major is R^T (lower).
    cblas_dtrmm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, static_cast<int>(rows),
                static_cast<int>(n), 1.0, R.data(), static_cast<int>(n), Dr.data(), static_cast<int>(n));
    loss += Dr.squaredNorm();
  }
  return loss;
}

}  // namespace detail

namespace {

void check_options(const GptqOptions& opt) {
  HESSQ_CHECK(std::isfinite(opt.damp) && opt.damp >= 0, "gptq: damp = {} must be finite and >= 0", opt.damp);
  HESSQ_CHECK(opt.block >= 1, "gptq: block = {} must be >= 1", opt.block);
  HESSQ_CHECK(opt.block_order == BlockOrder::Natural,
              "gptq: block_order is for the block-grid formats (MXFP4, NVFP4, ggml); INT weights use act_order");
}

}  // namespace

QuantizedWeight solve_gptq(const MatF& W_in, const linalg::Mat& H, const QuantSpec& spec, const GptqOptions& opt) {
  return solve_gptq(W_in, linalg::Mat(H), spec, opt);
}

QuantizedWeight solve_gptq(const MatF& W_in, linalg::Mat&& H_given, const QuantSpec& spec, const GptqOptions& opt) {
  // Ours from here (the caller's matrix is left empty): H is overwritten by steps 4-5 and freed on return.
  linalg::Mat H = std::move(H_given);
  check_weight(W_in, "gptq");
  const int64_t m = W_in.rows(), n = W_in.cols();
  check_hessian(H, n, "gptq");
  check_options(opt);
  const IntLayout L = int_layout(spec, n, "gptq");
  const bool dynamic_groups = L.groups > 1 && !opt.static_groups;
  HESSQ_CHECK(!(dynamic_groups && opt.act_order),
              "gptq: spec '{}': act_order with dynamic groups would need a per-column group index; "
              "use static_groups (the default) or drop act_order",
              spec_label(spec));

  // Step 1: dead inputs (H_jj = 1 is applied while building the factored matrix in step 4). diag:
  // H's diagonal with that fix, kept aside for steps 3-4 (H itself is overwritten in steps 4-5).
  std::vector<bool> dead(n);
  std::vector<double> diag(n);
  MatF W = W_in;
  for (int64_t j = 0; j < n; ++j) {
    dead[j] = H(j, j) == 0;
    diag[j] = dead[j] ? 1.0 : H(j, j);
    if (dead[j]) W.col(j).setZero();
  }

  // Step 2: params known up front (row-major [m, groups], natural group order).
  std::vector<IntParams> P(m * L.groups);
  if (L.per_tensor) {
    std::fill(P.begin(), P.end(), formats::group_params(spec, W.data(), m * n));
  } else if (!dynamic_groups) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t k = 0; k < L.groups; ++k) P[r * L.groups + k] = formats::group_params(spec, &W(r, k * L.g), L.g);
  }

  // Step 3: act-order permutation; column c of the working matrix is input perm[c].
  std::vector<int64_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  if (opt.act_order)
    std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) { return diag[a] > diag[b]; });
  MatF Wp = std::move(W);
  if (opt.act_order) {
    const MatF Wn = Wp;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < n; ++c) Wp(r, c) = Wn(r, perm[c]);
  }

  // Steps 4-5: damping, then U = upper Cholesky factor of H^-1 (via R, see factor_in_place), all
  // inside H's buffer.
  double mean_diag = 0;
  for (int64_t j = 0; j < n; ++j) mean_diag += diag[j];
  const double lambda = opt.damp * mean_diag / static_cast<double>(n);
  std::vector<int64_t> rev(n), dead_r;  // rev: reversed processing order; dead_r: dead positions in it
  for (int64_t a = 0; a < n; ++a) {
    rev[a] = perm[n - 1 - a];
    if (dead[rev[a]]) dead_r.push_back(a);
  }
  reverse_and_damp_in_place(H, rev, lambda);
  const MatRF U = with_context(fmt::format("gptq: damped H [{}, {}] (damp {})", n, n, opt.damp),
                               [&] { return factor_in_place(H); });
  const linalg::Mat& R = H;  // what factor_in_place left in H's upper triangle

  // Step 6: blocked column loop. Rows are independent given the params, so each row runs its
  // columns sequentially (deterministic under any thread count); the block's errors Err then
  // update all columns right of the block in one GEMM.
  const int64_t B = opt.block;
  MatF Q(m, n);
  MatRF Err(m, std::min<int64_t>(B, n));
  const int64_t ldE = Err.cols();
  for (int64_t i1 = 0; i1 < n; i1 += B) {
    const int64_t i2 = std::min(i1 + B, n), cnt = i2 - i1;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < m; ++r) {
      float* w = &Wp(r, 0);
      float* e = &Err(r, 0);
      for (int64_t i = 0; i < cnt; ++i) {
        const int64_t c = i1 + i;
        if (dynamic_groups && c % L.g == 0) {
          // Entering a group: its values with every update from columns < c applied. Columns right
          // of the block still miss this block's pending updates sum_{t<i} Err_t U[i1 + t, j].
          std::vector<float> x(w + c, w + c + L.g);
          for (int64_t j = std::max(i2, c); j < c + L.g; ++j)
            for (int64_t t = 0; t < i; ++t) x[j - c] -= e[t] * U(i1 + t, j);
          P[r * L.groups + c / L.g] = formats::group_params(spec, x.data(), L.g);
        }
        const IntParams& p = P[r * L.groups + (L.groups == 1 ? 0 : perm[c] / L.g)];
        const float q = formats::int_quant_dequant(w[c], p, spec.bits, spec.symmetric);
        Q(r, perm[c]) = q;
        const float err = (w[c] - q) / U(c, c);
        e[i] = err;
        const float* u = &U(c, 0);
        for (int64_t j = c + 1; j < i2; ++j) w[j] -= err * u[j];
      }
    }
    if (i2 < n)  // W[:, i2:] -= Err U[i1:i2, i2:]
      kernels::gemm_f32_rows(false, false, m, n - i2, cnt, -1.0f, Err.data(), ldE, &U(i1, i2), n, 1.0f, &Wp(0, i2), n);
  }

  QuantizedWeight out;
  out.spec = spec;
  out.W_q = std::move(Q);
  out.int_params = std::move(P);
  out.proxy_loss = detail::proxy_loss_from_factor(W_in, out.W_q, R, rev, lambda, dead_r);  // step 7
  return out;
}

}  // namespace hessq::methods
