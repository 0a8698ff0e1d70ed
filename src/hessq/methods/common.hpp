// Types shared by the per-linear solvers in methods/ (METHODS.md notation): W is [m, n] (out x in,
// row-major like every tensor in hessq), statistics come from calib::Stats in double.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "hessq/formats/quant_spec.hpp"

namespace hessq::methods {

using MatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;  // [m, n]
using VecF = Eigen::VectorXf;

// What a weight solver hands back for one linear.
struct QuantizedWeight {
  formats::QuantSpec spec;
  MatF W_q;  // [m, n] dequantized weight, exactly what the stored codes decode to
  // INT formats solved column by column (GPTQ): the per-group parameters W_q lies on, row-major
  // [m, groups]; empty when W_q = fake_quant(spec, some W') so pack() recovers the codes itself.
  std::vector<formats::IntParams> int_params;
  // The stored form when the solver packed W_q itself (GPTQ on NVFP4: scales it chose); else empty.
  std::optional<formats::Packed> packed;
  double proxy_loss = 0;  // tr((W_q - W) H (W_q - W)^T), when H was available
};

}  // namespace hessq::methods
