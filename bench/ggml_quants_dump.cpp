// Dumps hessq's ggml block quantization of rows of floats, for scripts/check-ggml-quants (which
// compares it with llama.cpp's own). Not a benchmark and not run by the tests.
//   ggml_quants_dump TYPE ROWS.f32 N_PER_ROW OUT [IMPORTANCE.f32]
// ROWS.f32: raw little-endian floats, a whole number of rows of N_PER_ROW. IMPORTANCE.f32: N_PER_ROW
// floats applied to every row (llama-quantize's imatrix). Writes OUT.q (ggml_quantize_row bytes),
// OUT.dq (ggml_dequantize of them, floats) and OUT.pq (ggml_pack_values of the grid's qdq values:
// should equal OUT.q).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "hessq/core/error.hpp"
#include "hessq/formats/ggml_quantize.hpp"

namespace {

std::vector<float> read_floats(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  HESSQ_CHECK(f.good(), "cannot open {}", path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<float> x(bytes.size() / sizeof(float));
  std::memcpy(x.data(), bytes.data(), x.size() * sizeof(float));
  return x;
}

void write(const std::string& path, const void* data, size_t n) {
  std::ofstream f(path, std::ios::binary);
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
  HESSQ_CHECK(f.good(), "cannot write {}", path);
}

}  // namespace

int main(int argc, char** argv) try {
  using namespace hessq::formats;
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr, "usage: %s TYPE ROWS.f32 N_PER_ROW OUT [IMPORTANCE.f32]\n", argv[0]);
    return 2;
  }
  const auto id = ggml_type_from_name(argv[1]);
  HESSQ_CHECK(id.has_value(), "unknown ggml type {}", argv[1]);
  const GgmlType type = ggml_block_type(*id);
  const GgmlBlockShape shape = ggml_block_shape(type);
  const std::vector<float> x = read_floats(argv[2]);
  const int64_t n = std::stoll(argv[3]);
  HESSQ_CHECK(n > 0 && x.size() % static_cast<size_t>(n) == 0, "{} floats are not rows of {}", x.size(), n);
  std::vector<float> importance;
  if (argc == 6) importance = read_floats(argv[5]);
  HESSQ_CHECK(importance.empty() || importance.size() == static_cast<size_t>(n), "importance: {} floats, {} expected",
              importance.size(), n);
  const int64_t rows = static_cast<int64_t>(x.size()) / n;
  const size_t row_bytes = static_cast<size_t>(n / shape.block * shape.bytes);
  std::vector<uint8_t> q(row_bytes * static_cast<size_t>(rows)), pq(q.size());
  std::vector<float> dq(x.size()), qdq(static_cast<size_t>(shape.block));
  const float* imp = importance.empty() ? nullptr : importance.data();
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * n;
    ggml_quantize_row(type, xr, n, imp, q.data() + r * row_bytes);
    ggml_dequantize(type, q.data() + r * row_bytes, n, dq.data() + r * n);
    const std::vector<GgmlGrid> grids = ggml_row_grids(type, xr, n, imp);
    for (size_t b = 0; b < grids.size(); ++b) {
      for (int j = 0; j < shape.block; ++j)
        qdq[static_cast<size_t>(j)] = ggml_grid_qdq(grids[b], j, xr[static_cast<int64_t>(b) * shape.block + j]);
      ggml_pack_values(grids[b], qdq.data(), pq.data() + r * row_bytes + b * static_cast<size_t>(shape.bytes));
    }
  }
  const std::string out = argv[4];
  write(out + ".q", q.data(), q.size());
  write(out + ".pq", pq.data(), pq.size());
  write(out + ".dq", dq.data(), dq.size() * sizeof(float));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "ggml_quants_dump: %s\n", e.what());
  return 1;
}
