#include "hessq/calib/windows.hpp"

#include <algorithm>

#include "hessq/core/error.hpp"

namespace hessq::calib {

Windows make_windows(const std::vector<int>& stream, const WindowOptions& opt, const std::string& source) {
  const int64_t L = opt.window;
  HESSQ_CHECK(L >= 2, "calibration window of {} tokens: at least 2 are needed", L);
  HESSQ_CHECK(opt.tokens >= L, "--calib-tokens {} is less than one calibration window of {} tokens", opt.tokens, L);
  HESSQ_CHECK(opt.heldout_tokens >= 0, "held-out tokens must be >= 0, got {}", opt.heldout_tokens);
  const int64_t total = static_cast<int64_t>(stream.size());
  HESSQ_CHECK(total >= L,
              "{}: the calibration text gives {} tokens, shorter than one calibration window of {} tokens; use a "
              "longer text or a shorter --calib-window",
              source, total, L);
  Windows w;
  w.window = static_cast<int>(L);
  w.stream_tokens = total;
  const int64_t n_calib = std::min(opt.tokens / L, total / L);
  const int64_t n_heldout = std::min(opt.heldout_tokens / L, total / L - n_calib);
  auto cut = [&](int64_t i) { return std::vector<int>(stream.begin() + i * L, stream.begin() + (i + 1) * L); };
  for (int64_t i = 0; i < n_calib; ++i) w.calib.push_back(cut(i));
  for (int64_t i = n_calib; i < n_calib + n_heldout; ++i) w.heldout.push_back(cut(i));
  return w;
}

}  // namespace hessq::calib
