#include "hessq/transforms/galois_field.hpp"

#include "hessq/core/error.hpp"

namespace hessq::transforms {

std::optional<std::pair<int, int>> prime_power(int q) {
  if (q < 2) return std::nullopt;
  int p = 2;
  while (p * p <= q && q % p) ++p;
  if (q % p) p = q;  // q is prime
  int e = 0;
  for (int r = q; r > 1; r /= p, ++e)
    if (r % p) return std::nullopt;
  return std::make_pair(p, e);
}

namespace {

std::vector<int> digits(int a, int p, int e) {
  std::vector<int> d(e);
  for (int i = 0; i < e; ++i, a /= p) d[i] = a % p;
  return d;
}

int from_digits(const std::vector<int>& d, int p) {
  int a = 0;
  for (int i = static_cast<int>(d.size()) - 1; i >= 0; --i) a = a * p + d[i];
  return a;
}

}  // namespace

GaloisField::GaloisField(int q) : q_(q) {
  auto pe = prime_power(q);
  HESSQ_CHECK(pe.has_value(), "GF({}): {} is not a prime power", q, q);
  p_ = pe->first;
  e_ = pe->second;
  if (e_ == 1) return;
  // The first modulus without zero divisors: a product of two nonzero elements is never zero exactly
  // when x^e + f is irreducible.
  for (int code = 0; code < q_; ++code) {
    f_ = digits(code, p_, e_);
    bool field = true;
    for (int a = 1; a < q_ && field; ++a)
      for (int b = a; b < q_ && field; ++b) field = mul(a, b) != 0;
    if (field) return;
  }
  HESSQ_FAIL("GF({}): no irreducible polynomial of degree {} over GF({})", q_, e_, p_);  // impossible
}

int GaloisField::add(int a, int b) const {
  if (e_ == 1) return (a + b) % p_;
  auto x = digits(a, p_, e_), y = digits(b, p_, e_);
  for (int i = 0; i < e_; ++i) x[i] = (x[i] + y[i]) % p_;
  return from_digits(x, p_);
}

int GaloisField::sub(int a, int b) const {
  if (e_ == 1) return (a - b + p_) % p_;
  auto x = digits(a, p_, e_), y = digits(b, p_, e_);
  for (int i = 0; i < e_; ++i) x[i] = (x[i] - y[i] + p_) % p_;
  return from_digits(x, p_);
}

int GaloisField::mul(int a, int b) const {
  if (e_ == 1) return static_cast<int>(static_cast<long long>(a) * b % p_);
  auto x = digits(a, p_, e_), y = digits(b, p_, e_);
  std::vector<int> prod(2 * e_ - 1, 0);
  for (int i = 0; i < e_; ++i)
    for (int j = 0; j < e_; ++j) prod[i + j] = (prod[i + j] + x[i] * y[j]) % p_;
  // Reduce from the top: x^d = x^(d-e) x^e = -x^(d-e) (f_{e-1} x^(e-1) + ... + f_0).
  for (int d = 2 * e_ - 2; d >= e_; --d) {
    const int c = prod[d];
    if (!c) continue;
    prod[d] = 0;
    for (int i = 0; i < e_; ++i) prod[d - e_ + i] = ((prod[d - e_ + i] - c * f_[i]) % p_ + p_) % p_;
  }
  prod.resize(e_);
  return from_digits(prod, p_);
}

std::vector<int> GaloisField::quadratic_character() const {
  std::vector<int> chi(q_, -1);
  chi[0] = 0;
  for (int y = 1; y < q_; ++y) chi[mul(y, y)] = 1;
  return chi;
}

}  // namespace hessq::transforms
