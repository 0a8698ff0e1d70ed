// RTN (round to nearest): the plain baseline of METHODS.md "Baselines", W_q = Q_w(W) with the
// format's own fake_quant (any format, including its clip search when the spec asks for it).
// Also the helpers every weight solver shares: input checks and the proxy loss
// tr((W_q - W) H (W_q - W)^T) = ||X W_q^T - X W^T||_F^2 / N, computed in double.
#pragma once
#include <cstdint>

#include "hessq/calib/stats.hpp"
#include "hessq/formats/quant_spec.hpp"
#include "hessq/linalg/linalg.hpp"
#include "hessq/methods/common.hpp"

namespace hessq::methods {

// W_q = fake_quant(spec, W); int_params stays empty (pack() recovers the codes from W_q itself).
// proxy_loss = tr(dW H dW^T) when H is given (H: [n, n]), else 0.
QuantizedWeight solve_rtn(const MatF& W, const formats::QuantSpec& spec, const linalg::Mat* H = nullptr);

// tr((W_q - W) H (W_q - W)^T) accumulated in double. W, W_q: [m, n]; H: [n, n] symmetric.
double proxy_loss(const MatF& W, const MatF& W_q, const linalg::Mat& H);
// tr(D H D^T) in double (D: [m, n], H: [n, n]); = ||X D^T||_F^2 / N when H = X^T X / N.
double quadratic_trace(const MatF& D, const linalg::Mat& H);

// Input checks shared by the solvers; `method` prefixes the message ("gptq: ...").
// W non-empty and finite (the first bad entry is named).
void check_weight(const MatF& W, const char* method);
// H is [n, n] with n = W's input dim, finite, with a non-negative diagonal.
void check_hessian(const linalg::Mat& H, int64_t n, const char* method);

}  // namespace hessq::methods
