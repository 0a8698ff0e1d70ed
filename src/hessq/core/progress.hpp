// Progress: a bar with ETA on stderr for loops over windows, layers or steps. On a TTY it redraws
// one line; otherwise it logs a line every few seconds. Progress::set_quiet(true) silences it.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace hessq {

class Progress {
 public:
  Progress(std::string label, int64_t total);
  ~Progress();
  void advance(int64_t steps = 1);
  // A short text shown after the ETA from the next draw on (e.g. "RSS 3.2 GiB").
  void set_note(std::string note) { note_ = std::move(note); }
  void finish();
  static void set_quiet(bool quiet);

 private:
  void draw(bool final);
  std::string label_, note_;
  int64_t total_, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool tty_, finished_ = false;
};

}  // namespace hessq
