#include "hessq/core/progress.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>

#include <fmt/format.h>

namespace hessq {

static std::atomic<bool> g_quiet{false};

void Progress::set_quiet(bool quiet) { g_quiet = quiet; }

Progress::Progress(std::string label, int64_t total)
    : label_(std::move(label)), total_(total), start_(std::chrono::steady_clock::now()), last_draw_(start_),
      tty_(isatty(STDERR_FILENO)) {}

Progress::~Progress() { finish(); }

void Progress::advance(int64_t steps) {
  done_ += steps;
  auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since >= (tty_ ? 0.1 : 5.0)) draw(false);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (secs >= 1.0 || tty_) draw(true);  // short loops stay silent in logs
}

static std::string hms(double s) {
  const int t = static_cast<int>(s + 0.5);
  return t >= 3600 ? fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60) : fmt::format("{:02}:{:02}", t / 60, t % 60);
}

void Progress::draw(bool final) {
  if (g_quiet) return;
  last_draw_ = std::chrono::steady_clock::now();
  const double secs = std::chrono::duration<double>(last_draw_ - start_).count();
  const double frac = total_ > 0 ? static_cast<double>(done_) / total_ : 1.0;
  const double eta = done_ > 0 ? secs / done_ * (total_ - done_) : 0.0;
  std::string timing = final ? fmt::format("{} elapsed", hms(secs)) : fmt::format("ETA {}", hms(eta));
  if (!note_.empty()) timing += ", " + note_;
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(frac * kWidth);
    fmt::print(stderr, "\r{} [{}{}] {}/{} {}\033[K{}", label_, std::string(filled, '#'),
               std::string(kWidth - filled, '.'), done_, total_, timing, final ? "\n" : "");
  } else {
    fmt::print(stderr, "{}: {}/{} ({:.0f}%) {}\n", label_, done_, total_, 100 * frac, timing);
  }
  std::fflush(stderr);
}

}  // namespace hessq
