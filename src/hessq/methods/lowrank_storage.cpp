#include "hessq/methods/lowrank_storage.hpp"

#include <cmath>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"

namespace hessq::methods {

namespace {
constexpr float kF16Max = 65504.0f;  // largest finite binary16 value

void round_f16(MatF& M, const std::string& what, const char* factor) {
  for (Eigen::Index i = 0; i < M.rows(); ++i)
    for (Eigen::Index j = 0; j < M.cols(); ++j) {
      const float v = M(i, j);
      HESSQ_CHECK(std::isfinite(v) && std::abs(v) <= kF16Max,
                  "{}: low-rank factor {}[{}, {}] = {} does not fit f16 (|v| <= 65504); store the branch in f32",
                  what, factor, i, j, v);
      M(i, j) = f16_to_f32(f32_to_f16(v));
    }
}
}  // namespace

const char* lowrank_storage_name(LowRankStorage s) { return s == LowRankStorage::F16 ? "F16" : "F32"; }

void balance_lowrank(MatF& A, MatF& B) {
  HESSQ_CHECK(A.cols() == B.cols(), "low-rank factors: A has {} columns, B has {}", A.cols(), B.cols());
  for (Eigen::Index i = 0; i < A.cols(); ++i) {
    const double a = A.col(i).cast<double>().norm(), b = B.col(i).cast<double>().norm();
    if (a == 0 || b == 0) continue;
    const double c = std::sqrt(a / b);
    B.col(i) *= static_cast<float>(c);
    A.col(i) /= static_cast<float>(c);
  }
}

void prepare_lowrank_storage(MatF& A, MatF& B, LowRankStorage s, const std::string& what) {
  balance_lowrank(A, B);
  if (s == LowRankStorage::F32) return;
  round_f16(A, what, "A");
  round_f16(B, what, "B");
}

}  // namespace hessq::methods
