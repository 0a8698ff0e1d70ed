// SVDQuant (methods/svdquant.hpp) against Eigen's own SVD, and the quantized-layer helpers it runs
// on (methods/layer_quant.hpp): zero padding, GEMM, SNR, format names.
#include <gtest/gtest.h>

#include "arhq_test_problem.hpp"
#include "hessq/core/error.hpp"
#include "hessq/methods/layer_quant.hpp"
#include "hessq/methods/svdquant.hpp"

namespace hessq {
namespace {

using methods::MatF;
using Md = Eigen::MatrixXd;

constexpr double kFloatTol = 1e-5;  // fp32 factors of an O(1) weight

TEST(SvdQuant, BranchIsTheTruncatedSvd) {
  const test::LayerProblem p = test::layer_problem();
  Eigen::JacobiSVD<Md> svd(p.W.cast<double>(), Eigen::ComputeThinU | Eigen::ComputeThinV);
  for (int r : {1, 8, 32}) {
    methods::ArhqOptions o;
    o.rank = r;
    const auto s = methods::solve_svdquant(p.W, o);
    const Md L_ref = svd.matrixU().leftCols(r) * svd.singularValues().head(r).asDiagonal() *
                     svd.matrixV().leftCols(r).transpose();
    const Md L = (p.W - s.W_res).cast<double>();
    EXPECT_LE((L - L_ref).cwiseAbs().maxCoeff(), kFloatTol) << "rank " << r;
    EXPECT_DOUBLE_EQ(s.time.eigh_s, 0.0);  // the identity metric skips the eigendecomposition
  }
}

TEST(SvdQuant, RankZeroOutputIsTheBaseline) {
  const test::LayerProblem p = test::layer_problem();
  const auto f = methods::parse_layer_format("int4");
  methods::ArhqOptions o;
  o.rank = 0;
  const auto s = methods::solve_svdquant(p.W, o);
  const MatF Qx = methods::fake_quant_padded(f.x, p.X_eval);
  const MatF base = methods::matmul_nt(Qx, methods::fake_quant_padded(f.w, p.W));
  const MatF with = methods::matmul_nt(Qx, methods::fake_quant_padded(f.w, s.W_res));
  EXPECT_TRUE((base.array() == with.array()).all());
}

TEST(LayerQuant, ZeroPaddingEqualsQuantizingTheRaggedBlockAlone) {
  // 40 columns under INT4 groups of 32: the last group has 8 values. Padding it with zeros must give
  // the same values as quantizing those 8 values as their own group.
  const MatF X = test::gaussian(3, 40, 11);
  const auto spec = formats::parse_spec("int4-g32");
  const MatF Q = methods::fake_quant_padded(spec, X);
  MatF head(3, 32), tail(3, 8), qh(3, 32), qt(3, 8);
  head = X.leftCols(32);
  tail = X.rightCols(8);
  formats::fake_quant(spec, head.data(), 3, 32, qh.data());
  formats::fake_quant(formats::parse_spec("int4-g8"), tail.data(), 3, 8, qt.data());
  EXPECT_TRUE((Q.leftCols(32).array() == qh.array()).all());
  EXPECT_TRUE((Q.rightCols(8).array() == qt.array()).all());
  // Tiles: 20 x 20 under nvfp4-ref (16 x 16) pads both dimensions.
  const MatF Wt = test::gaussian(20, 20, 12);
  EXPECT_TRUE(methods::fake_quant_padded(formats::parse_spec("nvfp4-ref"), Wt).allFinite());
}

TEST(LayerQuant, GemmAndSnr) {
  const MatF A = test::gaussian(5, 7, 1), B = test::gaussian(3, 7, 2);
  const MatF C = methods::matmul_nt(A, B);
  const Md ref = A.cast<double>() * B.cast<double>().transpose();
  EXPECT_LE((C.cast<double>() - ref).cwiseAbs().maxCoeff(), 1e-5);  // fp32 dot products of length 7
  MatF Y(1, 2), Yh(1, 2);
  Y << 3, 4;   // ||Y|| = 5
  Yh << 3, 4.05;  // ||err|| = 0.05: SNR = 20 log10(100) = 40 dB
  EXPECT_NEAR(methods::snr_db(Y, Yh), 40.0, 1e-4);
  EXPECT_TRUE(std::isinf(methods::snr_db(Y, Y)));
}

TEST(LayerQuant, FormatNames) {
  const auto nv = methods::parse_layer_format("nvfp4");
  EXPECT_EQ(nv.w.format, formats::Format::NvFp4);
  EXPECT_EQ(nv.x.format, formats::Format::NvFp4);
  const auto ref = methods::parse_layer_format("nvfp4-ref");
  EXPECT_TRUE(ref.w.nvfp4_ref && ref.x.nvfp4_ref);
  EXPECT_EQ(ref.w.granularity, formats::Granularity::Tile2D);
  EXPECT_EQ(ref.x.granularity, formats::Granularity::PerGroup);
  const auto i4 = methods::parse_layer_format("int4");
  EXPECT_EQ(i4.w.granularity, formats::Granularity::PerGroup);
  EXPECT_EQ(i4.w.group, 32);
  EXPECT_EQ(i4.x.granularity, formats::Granularity::PerToken);
  EXPECT_THROW(methods::parse_layer_format("fp3"), Error);
  EXPECT_EQ(methods::layer_format_from_specs("int4-g128", "int8-tok").name, "w:int4-g128,a:int8-tok");
  for (const auto& row : methods::layer_format_table()) EXPECT_NO_THROW(methods::parse_layer_format(row.name));
}

TEST(LayerQuant, NonFiniteIsNamed) {
  MatF X = MatF::Zero(2, 2);
  X(1, 0) = std::numeric_limits<float>::quiet_NaN();
  try {
    methods::check_finite(X, "layer 3 q_proj held-out activations");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 3 q_proj"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("row 1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hessq
