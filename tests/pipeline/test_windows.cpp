// Calibration windows: consecutive, whole, held-out after calibration; errors for short texts.
#include <gtest/gtest.h>

#include <numeric>

#include "hessq/calib/windows.hpp"
#include "hessq/core/error.hpp"

namespace hessq::calib {

static std::vector<int> iota_stream(int n) {
  std::vector<int> s(n);
  std::iota(s.begin(), s.end(), 0);
  return s;
}

TEST(Windows, ConsecutiveWholeWindowsThenHeldOut) {
  const Windows w = make_windows(iota_stream(1000), {.window = 100, .tokens = 350, .heldout_tokens = 200}, "t");
  ASSERT_EQ(w.calib.size(), 3u);  // 350 tokens -> 3 whole windows
  ASSERT_EQ(w.heldout.size(), 2u);
  EXPECT_EQ(w.calib[0].front(), 0);
  EXPECT_EQ(w.calib[2].back(), 299);
  EXPECT_EQ(w.heldout[0].front(), 300);  // held-out tokens follow the calibration ones: disjoint
  EXPECT_EQ(w.heldout[1].back(), 499);
  EXPECT_EQ(w.calib_tokens(), 300);
  EXPECT_EQ(w.stream_tokens, 1000);
}

TEST(Windows, ShortStreamGivesFewerWindows) {
  const Windows w = make_windows(iota_stream(250), {.window = 100, .tokens = 1000, .heldout_tokens = 500}, "t");
  EXPECT_EQ(w.calib.size(), 2u);
  EXPECT_TRUE(w.heldout.empty());
}

TEST(Windows, ErrorsForTooShortText) {
  try {
    make_windows(iota_stream(50), {.window = 100, .tokens = 1000, .heldout_tokens = 0}, "calib.txt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("calib.txt: the calibration text gives 50 tokens, shorter than one "
                                         "calibration window of 100 tokens"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(make_windows(iota_stream(500), {.window = 100, .tokens = 99, .heldout_tokens = 0}, "t"), Error);
}

}  // namespace hessq::calib
