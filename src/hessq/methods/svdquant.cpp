#include "hessq/methods/svdquant.hpp"

namespace hessq::methods {

ArhqResult solve_svdquant(const MatF& W, const ArhqOptions& opt) {
  return solve_lowrank(W, identity_metric(W.cols()), opt);
}

}  // namespace hessq::methods
