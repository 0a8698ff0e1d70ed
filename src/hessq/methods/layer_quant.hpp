// The quantized linear layer as the layer-wise methods see it (METHODS.md "Numeric formats",
// "Notation"): a pair of quantizers (Q_w for the weight, Q_x for the activation), applied as
// fake-quant to row-major matrices, plus the output error measures shared by the solvers and the
// SNR study.
//
// [choice] Zero padding: when the reduction dimension (or, for 16 x 16 weight tiles, the output
// dimension) is not a multiple of the format's block, the matrix is padded with zeros, quantized and
// cropped. Zeros neither raise a block's absmax nor carry error, so this equals quantizing the ragged
// last block on its own (the ARHQ reference code pads the same way).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "hessq/formats/quant_spec.hpp"
#include "hessq/methods/common.hpp"

namespace hessq::methods {

// A W/A format pair: `name` is what the user asked for ("nvfp4", "int4", "w:int4-g32,a:int8-tok").
struct LayerFormat {
  std::string name;
  formats::QuantSpec w;  // Q_w, along each weight row (input dim)
  formats::QuantSpec x;  // Q_x, along each token row (dynamic, per token / per block)
};

// Known names and what they map to: {name, "Q_w spec", "Q_x spec", description}.
struct LayerFormatRow {
  const char* name;
  const char* w;
  const char* x;
  const char* what;
};
const std::vector<LayerFormatRow>& layer_format_table();

// One of layer_format_table()'s names. Throws hessq::Error listing the accepted names.
LayerFormat parse_layer_format(const std::string& name);
// Explicit specs (formats::parse_spec names) for Q_w and Q_x; `name` reads "w:<w>,a:<x>".
LayerFormat layer_format_from_specs(const std::string& w_spec, const std::string& x_spec);

// Q(M): fake-quant of the row-major [rows, cols] matrix along its columns, zero-padded as above.
MatF fake_quant_padded(const formats::QuantSpec& spec, const MatF& M);

// A B^T for row-major A [p, k] and B [q, k] (single-precision GEMM): [p, q].
MatF matmul_nt(const MatF& A, const MatF& B);

// The layer's output error terms, accumulated in double.
struct OutputError {
  double signal = 0;  // ||Y||_F^2
  double noise = 0;   // ||Y_hat - Y||_F^2
  double snr_db() const;  // 10 log10(signal / noise); +inf when noise == 0
};
OutputError output_error(const MatF& Y, const MatF& Y_hat);
double snr_db(const MatF& Y, const MatF& Y_hat);

// Rows 0, s, 2s, ... of X, at most `max_rows` of them (all rows when max_rows <= 0 or >= rows).
MatF strided_rows(const MatF& X, int64_t max_rows);

// Throws naming `what` and the first offending (row, col) if M holds a NaN or Inf.
void check_finite(const MatF& M, const std::string& what);

}  // namespace hessq::methods
