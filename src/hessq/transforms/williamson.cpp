#include "hessq/transforms/williamson.hpp"

#include <string_view>

#include "hessq/core/error.hpp"

namespace hessq::transforms {

namespace {

struct WilliamsonRows {
  int w;
  std::string_view a, b, c, d;  // first rows, '+' = 1, '-' = -1, symmetric: row[i] == row[w - i]
};

// w = 39 and 43 were found for hessq by a meet-in-the-middle search over symmetric ±1 sequences with
// first entry +1 and fixed row sums ((-9, -5, -5, -5) for 39, (-5, 7, 7, 7) for 43): A taken minimal
// under the multipliers i -> u i (mod w), pairs pruned by PSD_A(k) + PSD_B(k) <= 4w, (A, B) hashed by
// PAF_A + PAF_B and matched against -(PAF_C + PAF_D); a few minutes on one core. Any entry is checked
// by hadamard_base() (H H^T = 4w I). w = 3 is the textbook example (A = J, B = C = D = 2I - J).
constexpr WilliamsonRows kTable[] = {
    {3, "+++", "+--", "+--", "+--"},
    {39, "+-+-++-+--+--++----------++--+--+-++-+-", "+-+++-++------+--+-++-+--+------++-+++-",
     "+-+-++----+++--++------++--+++----++-+-", "++---+-++++---+---+--+---+---++++-+---+"},
    {43, "++---++++-+--+--++--------++--+--+-++++---+", "++-++++++----+-+--++-++-++--+-+----++++++-+",
     "+++-+-++--+-+-++++-+----+-++++-+-+--++-+-++", "+---++--++++-+-+++-++--++-+++-+-++++--++---"},
};

const WilliamsonRows* find(int w) {
  for (const auto& r : kTable)
    if (r.w == w) return &r;
  return nullptr;
}

// The symmetric circulant matrix with first row `row`: M[i][j] = row[(j - i) mod w].
linalg::Mat circulant(std::string_view row, int w) {
  HESSQ_CHECK(static_cast<int>(row.size()) == w, "williamson({}): first row has {} entries", w, row.size());
  linalg::Mat M(w, w);
  for (int i = 0; i < w; ++i)
    for (int j = 0; j < w; ++j) M(i, j) = row[(j - i + w) % w] == '+' ? 1.0 : -1.0;
  HESSQ_CHECK(M == M.transpose(), "williamson({}): first row {} is not symmetric", w, row);
  return M;
}

}  // namespace

std::vector<int> williamson_orders() {
  std::vector<int> out;
  for (const auto& r : kTable) out.push_back(r.w);
  return out;
}

bool williamson_order(int b) { return b % 4 == 0 && find(b / 4) != nullptr; }

linalg::Mat williamson_hadamard(int w) {
  const WilliamsonRows* r = find(w);
  HESSQ_CHECK(r != nullptr, "no Williamson matrices of order {} in the table", w);
  const linalg::Mat A = circulant(r->a, w), B = circulant(r->b, w), C = circulant(r->c, w), D = circulant(r->d, w);
  linalg::Mat H(4 * w, 4 * w);
  H << A, B, C, D,  //
      -B, A, -D, C,  //
      -C, D, A, -B,  //
      -D, -C, B, A;
  return H;
}

}  // namespace hessq::transforms
