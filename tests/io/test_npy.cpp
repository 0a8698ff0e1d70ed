// .npy writer and reader (io/npy.hpp): the exact header bytes numpy writes, round trips of 1-D / 2-D
// / empty arrays, and clear errors on a bad magic, dtype or size.
#include <gtest/gtest.h>

#include <fstream>

#include "hessq/core/error.hpp"
#include "hessq/io/npy.hpp"
#include "test_util.hpp"

namespace hessq {
namespace {

TEST(Npy, HeaderIsNumpyFormat10) {
  const float v[6] = {1, 2, 3, 4, 5, 6};
  const std::string b = io::npy_bytes(v, {2, 3});
  // numpy.save(np.zeros((2, 3), '<f4')) writes this dict, padded with spaces to a 64-byte header.
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  ASSERT_EQ(b.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t hlen = static_cast<unsigned char>(b[8]) | static_cast<unsigned char>(b[9]) << 8;
  EXPECT_EQ((10 + hlen) % 64, 0u);
  EXPECT_EQ(b.substr(10, dict.size()), dict);
  EXPECT_EQ(b[10 + hlen - 1], '\n');
  EXPECT_EQ(b.size(), 10 + hlen + sizeof(v));
  EXPECT_NE(io::npy_bytes(v, {6}).find("'shape': (6,)"), std::string::npos);  // a Python 1-tuple
}

TEST(Npy, Int32IsNumpyI4) {
  const int32_t v[3] = {1, -2, 128255};
  const std::string b = io::npy_bytes(v, {3});
  // numpy.save(np.array([1, -2, 128255], '<i4')) writes this dict, then the 12 little-endian bytes.
  const std::string dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }";
  const size_t hlen = static_cast<unsigned char>(b[8]) | static_cast<unsigned char>(b[9]) << 8;
  EXPECT_EQ((10 + hlen) % 64, 0u);
  EXPECT_EQ(b.substr(10, dict.size()), dict);
  ASSERT_EQ(b.size(), 10 + hlen + sizeof(v));
  EXPECT_EQ(b.substr(10 + hlen), std::string("\x01\x00\x00\x00\xfe\xff\xff\xff\xff\xf4\x01\x00", 12));
}

TEST(Npy, RoundTrips) {
  const test::TempDir dir;
  const std::vector<float> v = {0.5f, -1.25f, 3e-8f, 7.0f, -0.0f, 1e30f};
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{6}, {2, 3}, {3, 2, 1}, {0, 4}}) {
    const std::string path = (dir / "a.npy").string();
    io::write_npy(path, v.data(), shape);
    const io::NpyArray a = io::read_npy(path);
    EXPECT_EQ(a.shape, shape);
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    ASSERT_EQ(static_cast<int64_t>(a.data.size()), n);
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(a.data[i], v[i]);
  }
}

TEST(Npy, BadFilesAreNamed) {
  const test::TempDir dir;
  const std::string path = (dir / "bad.npy").string();
  const float v[2] = {1, 2};
  auto put = [&](const std::string& s) { std::ofstream(path, std::ios::binary) << s; };
  put("not numpy at all");
  EXPECT_THROW(io::read_npy(path), Error);
  std::string b = io::npy_bytes(v, {2});
  b.replace(b.find("<f4"), 3, "<f8");
  put(b);
  EXPECT_THROW(io::read_npy(path), Error);
  b = io::npy_bytes(v, {2});
  put(b.substr(0, b.size() - 1));  // truncated data
  try {
    io::read_npy(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_THROW(io::write_npy(path, v, {-1}), Error);
  EXPECT_THROW(io::write_npy((dir / "missing" / "a.npy").string(), v, {2}), Error);
}

}  // namespace
}  // namespace hessq
