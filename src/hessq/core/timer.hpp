// Wall-clock stage timing for progress logs and reports (never for control flow).
#pragma once
#include <chrono>

namespace hessq {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace hessq
