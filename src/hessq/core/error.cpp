#include "hessq/core/error.hpp"

namespace hessq {

void throw_error(const char* expr, const char* file, int line, std::string message) {
  std::string where = expr ? fmt::format("{}:{}: check failed: {}", file, line, expr)
                           : fmt::format("{}:{}", file, line);
  throw Error(std::move(message), std::move(where));
}

}  // namespace hessq
