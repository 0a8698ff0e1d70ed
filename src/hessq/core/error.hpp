// hessq::Error, the one exception type, and the check macros that throw it.
// Messages name the file, tensor and what was expected vs found; the source location of the check
// is kept separately (Error::where) for debugging, so user-facing text stays readable.
#pragma once
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>
#include <string>

namespace hessq {

class Error : public std::runtime_error {
 public:
  Error(std::string message, std::string where = {})
      : std::runtime_error(std::move(message)), where_(std::move(where)) {}
  const std::string& where() const { return where_; }

 private:
  std::string where_;
};

[[noreturn]] void throw_error(const char* expr, const char* file, int line, std::string message);

// Prefix the message of any hessq::Error escaping `fn` with `context` ("loading model.safetensors: ...").
template <class Fn>
decltype(auto) with_context(const std::string& context, Fn&& fn) {
  try {
    return fn();
  } catch (const Error& e) {
    throw Error(context + ": " + e.what(), e.where());
  }
}

}  // namespace hessq

#define HESSQ_CHECK(cond, ...)                                                      \
  do {                                                                              \
    if (!(cond)) ::hessq::throw_error(#cond, __FILE__, __LINE__, ::fmt::format(__VA_ARGS__)); \
  } while (0)

#define HESSQ_FAIL(...) ::hessq::throw_error(nullptr, __FILE__, __LINE__, ::fmt::format(__VA_ARGS__))
