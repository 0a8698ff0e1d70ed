// GF(q), q = p^e a prime power, just large enough for Paley's constructions (transforms/hadamard.hpp):
// elements are the integers 0..q-1, read as polynomials over GF(p) in base p (digit i = coefficient of
// x^i), multiplied modulo the first monic irreducible polynomial of degree e (lexicographic order).
#pragma once
#include <optional>
#include <vector>

namespace hessq::transforms {

// {p, e} with q = p^e, p prime, e >= 1; nullopt if q is not a prime power (q < 2 included).
std::optional<std::pair<int, int>> prime_power(int q);

class GaloisField {
 public:
  explicit GaloisField(int q);  // throws if q is not a prime power

  int order() const { return q_; }
  int add(int a, int b) const;
  int sub(int a, int b) const;
  int mul(int a, int b) const;
  // The quadratic character of every element: chi[0] = 0, chi[a] = 1 for nonzero squares, else -1.
  std::vector<int> quadratic_character() const;

 private:
  int q_, p_, e_;
  std::vector<int> f_;  // low coefficients of the modulus x^e + f_{e-1} x^(e-1) + ... + f_0
};

}  // namespace hessq::transforms
