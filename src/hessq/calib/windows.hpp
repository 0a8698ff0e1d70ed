// Calibration windows: the token stream of the calibration text (BOS + text) cut into consecutive,
// non-overlapping windows of `window` tokens, each run from position 0 like a perplexity window. The
// first `tokens` tokens (rounded down to whole windows) calibrate; the next `heldout_tokens` form a
// held-out set for diagnostics (OSAQ's output-change ratio, held-out proxy losses). No sampling: the
// windows are a pure function of the text and the options.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace hessq::calib {

struct WindowOptions {
  int window = 512;              // tokens per window (the pipeline uses min(model context, 512))
  int64_t tokens = 16384;        // calibration tokens wanted (whole windows)
  int64_t heldout_tokens = 2048; // held-out tokens wanted after them (0: none)
};

struct Windows {
  int window = 0;
  std::vector<std::vector<int>> calib;    // each exactly `window` tokens
  std::vector<std::vector<int>> heldout;  // each exactly `window` tokens, after the calibration ones
  int64_t stream_tokens = 0;              // tokens the text gave
  int64_t calib_tokens() const { return static_cast<int64_t>(calib.size()) * window; }
  int64_t heldout_token_count() const { return static_cast<int64_t>(heldout.size()) * window; }
};

// Throws naming `source` if the stream is shorter than one window or `tokens` asks for less than one
// window. A stream shorter than requested gives fewer windows (the caller logs it); held-out windows
// are only what remains after the calibration windows.
Windows make_windows(const std::vector<int>& stream, const WindowOptions& opt, const std::string& source);

}  // namespace hessq::calib
