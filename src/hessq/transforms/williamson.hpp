// Williamson's construction (Williamson 1944): four symmetric circulant ±1 matrices A, B, C, D of odd
// order w with A^2 + B^2 + C^2 + D^2 = 4w I give the Hadamard matrix of order 4w
//   [[ A,  B,  C,  D],
//    [-B,  A, -D,  C],
//    [-C,  D,  A, -B],
//    [-D, -C,  B,  A]].
// It covers the QuaRot sizes no Paley construction reaches (156 = 4 * 39, 172 = 4 * 43). The first
// rows of A..D are a small table (williamson.cpp); the result is verified by hadamard_base().
#pragma once
#include <vector>

#include "hessq/linalg/linalg.hpp"

namespace hessq::transforms {

std::vector<int> williamson_orders();  // the w of the table, ascending
bool williamson_order(int b);          // b = 4w with w in the table
linalg::Mat williamson_hadamard(int w);  // throws if w is not in the table

}  // namespace hessq::transforms
