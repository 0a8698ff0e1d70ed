// hessq export --to arhq-artifact (export/arhq_artifact.hpp): the artifact read back by a reader written
// here from the reference's description (BeautMoonQ/ARHQ arhq/export_model.py, arhq/quant.py,
// arhq/eval_quantized.py): its own f16 decoding, its own NVFP4 activation quantizer (1x16 blocks,
// e4m3_sim(amax/6), nearest codebook value), its own unpacking of the 16x16-block packed form, and the
// runtime Y = Qx(X / scale) W_res_q^T + (X / scale) A_fac B_r^T, against hessq's own forward of each
// linear of the .hessq it came from.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <unistd.h>

#include "export/export_fixture.hpp"
#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "hessq/export/arhq_artifact.hpp"
#include "hessq/export/arhq_residual.hpp"
#include "hessq/formats/fp4.hpp"
#include "hessq/io/safetensors.hpp"
#include "hessq/model/act_quant_linear.hpp"
#include "hessq/model/layout.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace hessq::test {
namespace {

// ---- the independent reader ----

float f16_value(uint16_t h) {  // IEEE binary16, written out
  const int sign = h >> 15, e = (h >> 10) & 31, f = h & 1023;
  double v = e == 0 ? std::ldexp(f, -24) : std::ldexp(1024 + f, e - 25);
  if (e == 31) v = f ? NAN : INFINITY;
  return static_cast<float>(sign ? -v : v);
}

struct ArtTensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
  float f16(int64_t i) const { return f16_value(static_cast<uint16_t>(bytes[2 * i] | (bytes[2 * i + 1] << 8))); }
  int32_t i32(int64_t i) const {
    int32_t v;
    std::memcpy(&v, bytes.data() + 4 * i, 4);
    return v;
  }
};

struct Shard {
  std::map<std::string, ArtTensor> tensors;
  std::map<std::string, std::string> metadata;
};

Shard read_shard(const std::string& path) {
  Shard s;
  auto f = io::SafetensorsFile::open(path);
  s.metadata = f->metadata();
  for (const auto& info : f->tensors()) {
    const auto raw = f->raw(info.name);
    s.tensors[info.name] = {io::dtype_name(info.dtype), std::vector<int64_t>(info.shape.begin(), info.shape.end()),
                            std::vector<uint8_t>(raw.begin(), raw.end())};
  }
  return s;
}

json read_json(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return json::parse(s.str());
}

// The reference's e4m3_sim: 3 mantissa bits at the value's own exponent, round half to even, no range.
float e4m3_sim(float v) {
  int e;
  std::frexp(v, &e);  // v = f 2^e, f in [0.5, 1): floor(log2 v) = e - 1
  const float step = std::ldexp(1.0f, e - 1 - 3);
  return std::max(std::nearbyint(v / step) * step, 1e-12f);
}

// The reference's nvfp4_quantize on one token: blocks of 16 (a short last block padded with zeros),
// scale e4m3_sim(max(amax, 1e-12) / 6), value = nearest codebook entry of clamp(x / scale, -6, 6).
std::vector<float> ref_qx(const std::vector<float>& x) {
  static const float cb[15] = {-6, -4, -3, -2, -1.5f, -1, -0.5f, 0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  std::vector<float> out(x.size());
  for (size_t b = 0; b < x.size(); b += 16) {
    const size_t e = std::min(x.size(), b + 16);
    float amax = 1e-12f;
    for (size_t i = b; i < e; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float s = e4m3_sim(amax / 6.0f);
    for (size_t i = b; i < e; ++i) {
      const float v = std::clamp(x[i] / s, -6.0f, 6.0f);
      int best = 0;
      for (int k = 1; k < 15; ++k)
        if (std::fabs(v - cb[k]) < std::fabs(v - cb[best])) best = k;  // first of equals, as argmin
      out[i] = cb[best] * s;
    }
  }
  return out;
}

// W_res from the packed form, as the reference's nvfp4_unpack_2d decodes it.
std::vector<float> unpack_residual(const Shard& sh, const std::string& p) {
  static const float cb[15] = {-6, -4, -3, -2, -1.5f, -1, -0.5f, 0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  const ArtTensor& packed = sh.tensors.at(p + ".W_res_packed");
  const ArtTensor& scale = sh.tensors.at(p + ".W_res_scale");
  const ArtTensor& orig = sh.tensors.at(p + ".W_res_orig_shape");
  const ArtTensor& pad = sh.tensors.at(p + ".W_res_padded_shape");
  const ArtTensor& blk = sh.tensors.at(p + ".W_res_block_shape");
  EXPECT_EQ(blk.i32(0), 16);
  EXPECT_EQ(blk.i32(1), 16);
  const int64_t m = orig.i32(0), n = orig.i32(1), H = pad.i32(0), W = pad.i32(1);
  EXPECT_EQ(static_cast<int64_t>(packed.bytes.size()), (H * W + 1) / 2);
  EXPECT_EQ(scale.shape, (std::vector<int64_t>{H / 16, W / 16}));
  std::vector<float> out(static_cast<size_t>(m * n));
  for (int64_t k = 0; k < H * W; ++k) {
    const int idx = (packed.bytes[static_cast<size_t>(k / 2)] >> (4 * (k & 1))) & 15;
    EXPECT_LT(idx, 15);
    const int64_t r = k / W, c = k % W;
    if (r >= m || c >= n) {
      EXPECT_EQ(idx, 7) << "padding at " << r << "," << c;
      continue;
    }
    out[static_cast<size_t>(r * n + c)] = cb[idx] * scale.f16((r / 16) * (W / 16) + c / 16);
  }
  return out;
}

// Y [T, m] by the artifact's runtime for projection `p` of shard `sh`, in double from the f32 Qx.
std::vector<double> artifact_forward(const Shard& sh, const std::string& p, const std::vector<float>& X, int T,
                                     bool smoothing, bool use_packed) {
  const ArtTensor& B = sh.tensors.at(p + ".B_r");
  const ArtTensor& A = sh.tensors.at(p + ".A_fac");
  const int64_t m = B.shape[0], r = B.shape[1], n = A.shape[0];
  std::vector<float> Wres(static_cast<size_t>(m * n));
  if (use_packed) {
    Wres = unpack_residual(sh, p);
  } else {
    const ArtTensor& Wq = sh.tensors.at(p + ".W_res_q");
    for (int64_t i = 0; i < m * n; ++i) Wres[static_cast<size_t>(i)] = Wq.f16(i);
  }
  std::vector<double> Y(static_cast<size_t>(T * m));
  for (int t = 0; t < T; ++t) {
    std::vector<float> xs(X.begin() + t * n, X.begin() + (t + 1) * n);
    if (smoothing)
      for (int64_t j = 0; j < n; ++j) xs[static_cast<size_t>(j)] /= sh.tensors.at(p + ".scale").f16(j);
    const std::vector<float> xq = ref_qx(xs);
    std::vector<double> xa(static_cast<size_t>(r), 0.0);
    for (int64_t k = 0; k < r; ++k)
      for (int64_t j = 0; j < n; ++j) xa[static_cast<size_t>(k)] += static_cast<double>(xs[static_cast<size_t>(j)]) * A.f16(j * r + k);
    for (int64_t i = 0; i < m; ++i) {
      double y = 0;
      for (int64_t j = 0; j < n; ++j) y += static_cast<double>(xq[static_cast<size_t>(j)]) * Wres[static_cast<size_t>(i * n + j)];
      for (int64_t k = 0; k < r; ++k) y += xa[static_cast<size_t>(k)] * B.f16(i * r + k);
      Y[static_cast<size_t>(t * m + i)] = y;
    }
  }
  return Y;
}

// Row r of a [heads * d, ...] q/k tensor in HF's half layout is this row of the interleaved one: half
// row p d/2 + i holds element p of rotation pair i, which the interleaved layout keeps at row 2i + p.
int64_t interleaved_row_of_half(int64_t r, int64_t d) {
  const int64_t h = r / d, k = r % d, p = k / (d / 2), i = k % (d / 2);
  return h * d + 2 * i + p;
}

// ---- W4A4 models ----

float f16_exact(float v) { return f16_value(f32_to_f16(v)); }

struct W4A4Options {
  std::string wformat = "nvfp4-ref", aformat = "nvfp4-ref-1d";
  int rank = 4;
  bool smooth = true;
  std::string lowrank_dtype = "F16";
  model::RopeStyle rope = model::RopeStyle::Half;
};

// Every block linear of the tiny model as an ActQuantLinear: smoothing s (f16 values in [0.5, 2]), a
// branch B A^T of f16 values (layer 1's up_proj with rank 2: rank allocation), W_res = W diag(s) - B A^T
// quantized with the weight format.
model::Model w4a4_tiny(const W4A4Options& o) {
  model::Model m = tiny_model(export_config(model::Arch::Llama, o.rope), 11);
  const formats::QuantSpec ws = formats::parse_spec(o.wformat), xs = formats::parse_spec(o.aformat);
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  std::uniform_real_distribution<float> ud(0.5f, 2.0f);
  for (int l = 0; l < m.cfg.n_layers; ++l)
    for (model::Proj p : model::kAllProjs) {
      auto& lin = m.layers[static_cast<size_t>(l)].linear(p);
      const auto& d = dynamic_cast<const model::DenseLinear&>(*lin);
      const int64_t mo = d.out_features(), ni = d.in_features();
      const int r = (l == 1 && p == model::Proj::Up) ? 2 : o.rank;
      Tensor A = Tensor::zeros({ni, r}), B = Tensor::zeros({mo, r});
      for (int64_t i = 0; i < A.numel(); ++i) A.ptr()[i] = f16_exact(nd(rng));
      for (int64_t i = 0; i < B.numel(); ++i) B.ptr()[i] = f16_exact(nd(rng));
      if (o.lowrank_dtype == "F32") A.ptr()[0] = 0.1f + 1e-6f;  // not an f16 value
      std::optional<Tensor> s;
      if (o.smooth) {
        s = Tensor::zeros({ni});
        for (int64_t j = 0; j < ni; ++j) s->ptr()[j] = f16_exact(ud(rng));
      }
      std::vector<float> W_res(static_cast<size_t>(mo * ni)), W_q(W_res.size());
      for (int64_t i = 0; i < mo; ++i)
        for (int64_t j = 0; j < ni; ++j) {
          double lr = 0;
          for (int k = 0; k < r; ++k) lr += static_cast<double>(B.ptr()[i * r + k]) * A.ptr()[j * r + k];
          W_res[static_cast<size_t>(i * ni + j)] =
              static_cast<float>(d.weight().ptr()[i * ni + j] * (s ? s->ptr()[j] : 1.0f) - lr);
        }
      formats::fake_quant(ws, W_res.data(), mo, ni, W_q.data());
      const std::string name = model::linear_name(l, p);
      auto q = model::make_quantized_linear(ws, W_res.data(), W_q.data(), {}, mo, ni, ni, std::nullopt, name);
      lin = std::make_shared<model::ActQuantLinear>(q, xs, s, model::LowRankBranch{A, B, o.lowrank_dtype}, name);
    }
  return m;
}

io::HessqMeta arhq_meta(const std::string& method = "smoothquant+arhq") {
  io::HessqMeta meta;
  json passes = json::array();
  size_t start = 0;
  while (start <= method.size()) {
    const size_t plus = method.find('+', start);
    const std::string name = method.substr(start, plus == std::string::npos ? std::string::npos : plus - start);
    passes.push_back({{name, json::object()}});
    if (plus == std::string::npos) break;
    start = plus + 1;
  }
  passes.push_back({{"rtn", json::object()}});
  meta.recipe = {{"method", method}, {"passes", passes}};
  return meta;
}

class ArhqArtifact : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    tmp = fs::temp_directory_path() / (std::string("hessq-arhq-") + info->name() + "-" + std::to_string(::getpid()));
    fs::remove_all(tmp);
    fs::create_directories(tmp);
  }
  void TearDown() override { fs::remove_all(tmp); }

  std::string write_model(const model::Model& m, const io::HessqMeta& meta = arhq_meta(), const std::string& name = "m.hessq") {
    const std::string dir = (tmp / name).string();
    io::write_hessq(dir, m, meta);
    return dir;
  }
  std::string out(const std::string& name = "art") const { return (tmp / name).string(); }
  // Nothing under `o`: neither the output nor its side directory.
  void expect_nothing_written(const std::string& o) const {
    EXPECT_FALSE(fs::exists(o));
    EXPECT_FALSE(fs::exists(o + ".partial"));
  }

  fs::path tmp;
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// The reader's Y against hessq's forward of every linear, on random X. Tolerance: the artifact's
// W_res_q (nvfp4-ref values), factors and f16 scales equal hessq's values exactly and both sides compute
// the same Qx in f32, so only the summation differs (hessq: f32 sgemm over n <= 128 terms; reader:
// double): |dY| <= 128 * 2^-24 * sum |terms| < 1e-5 * sum |terms|; checked as 1e-4 * max |Y| + 1e-6.
void check_outputs(const std::string& hessq_dir, const std::string& art, bool smoothing, bool use_packed,
                   model::RopeStyle rope) {
  const model::Model m = io::load_hessq_model(hessq_dir);
  const json man = read_json(art + "/manifest.json");
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  int checked = 0;
  for (const auto& e : man.at("entries")) {
    const int l = e.at("layer");
    const std::string p = e.at("projection");
    const Shard sh = read_shard(art + "/" + e.at("shard").get<std::string>());
    model::Proj proj{};
    for (model::Proj q : model::kAllProjs)
      if (p == model::proj_name(q)) proj = q;
    const model::Linear& lin = m.layers[static_cast<size_t>(l)].linear(proj);
    const int T = 5, n = lin.in_features(), mo = lin.out_features();
    std::vector<float> X(static_cast<size_t>(T * n)), Y(static_cast<size_t>(T * mo));
    for (float& v : X) v = nd(rng);
    X[3] = 40.0f;  // an outlier channel, as activations have
    lin.forward(X.data(), T, Y.data());
    const std::vector<double> Ya = artifact_forward(sh, p, X, T, smoothing, use_packed);
    const bool permuted = rope == model::RopeStyle::Interleaved && (proj == model::Proj::Q || proj == model::Proj::K);
    double ymax = 0;
    for (float v : Y) ymax = std::max(ymax, static_cast<double>(std::fabs(v)));
    for (int t = 0; t < T; ++t)
      for (int i = 0; i < mo; ++i) {
        const int src = permuted ? static_cast<int>(interleaved_row_of_half(i, 16)) : i;  // head_dim 16
        ASSERT_NEAR(Ya[static_cast<size_t>(t * mo + i)], Y[static_cast<size_t>(t * mo + src)], 1e-4 * ymax + 1e-6)
            << "layer " << l << " " << p << " token " << t << " row " << i;
      }
    ++checked;
  }
  EXPECT_EQ(checked, 14);
}

// ---- tests ----

TEST(ArhqResidual, CodebookIndexOfEveryE2M1Code) {
  // E2M1 codes 0..7 = +0, 0.5, 1, 1.5, 2, 3, 4, 6; 8..15 = their negatives (fp4.hpp). Reference
  // codebook: [-6, -4, -3, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 3, 4, 6].
  const uint8_t expected[16] = {7, 8, 9, 10, 11, 12, 13, 14, 7, 6, 5, 4, 3, 2, 1, 0};
  for (uint8_t c = 0; c < 16; ++c) {
    EXPECT_EQ(exporting::arhq_codebook_index(c), expected[c]) << int(c);
    EXPECT_EQ(exporting::arhq_codebook_value(expected[c]), std::fabs(formats::e2m1_decode(c)) == 0.0f
                                                               ? 0.0f
                                                               : formats::e2m1_decode(c));
  }
}

TEST(ArhqResidual, PackedFormOfARaggedWeightDecodesToHessqsWeight) {
  // [20, 40]: tiles of 16 x 16 with a partial last row and column of tiles, padded to [32, 48].
  const int64_t m = 20, n = 40;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> W(static_cast<size_t>(m * n)), Wq(W.size());
  for (float& v : W) v = nd(rng);
  const formats::QuantSpec spec = formats::parse_spec("nvfp4-ref");
  formats::fake_quant(spec, W.data(), m, n, Wq.data());
  auto q = model::make_quantized_linear(spec, W.data(), Wq.data(), {}, m, n, n, std::nullopt, "w");
  const exporting::ArhqPackedResidual pk = exporting::arhq_pack_residual(*q, "w");
  Shard sh;
  auto put_i32 = [&](const std::string& k, const int32_t (&v)[2]) {
    ArtTensor t{"I32", {2}, std::vector<uint8_t>(8)};
    std::memcpy(t.bytes.data(), v, 8);
    sh.tensors[k] = t;
  };
  sh.tensors["w.W_res_packed"] = {"U8", {static_cast<int64_t>(pk.packed.size())}, pk.packed};
  ArtTensor sc{"F16", {2, 3}, std::vector<uint8_t>(pk.scale.size() * 2)};
  std::memcpy(sc.bytes.data(), pk.scale.data(), sc.bytes.size());
  sh.tensors["w.W_res_scale"] = sc;
  put_i32("w.W_res_orig_shape", pk.orig_shape);
  put_i32("w.W_res_padded_shape", pk.padded_shape);
  put_i32("w.W_res_block_shape", pk.block_shape);
  EXPECT_EQ(pk.padded_shape[0], 32);
  EXPECT_EQ(pk.padded_shape[1], 48);
  const std::vector<float> back = unpack_residual(sh, "w");
  const Tensor deq = q->dequantized();
  for (int64_t i = 0; i < m * n; ++i) ASSERT_EQ(back[static_cast<size_t>(i)], deq.ptr()[i]) << i;  // same values
  // and the fp16 form holds the same values (nvfp4-ref values are f16 values)
  int64_t inexact = -1;
  const std::vector<uint16_t> h = exporting::arhq_residual_f16(*q, {}, "w", &inexact);
  EXPECT_EQ(inexact, 0);
  for (int64_t i = 0; i < m * n; ++i) ASSERT_EQ(f16_value(h[static_cast<size_t>(i)]), deq.ptr()[i]) << i;
}

TEST(ArhqResidual, NoPackedFormFor1DBlocksOrReorderedRows) {
  const int64_t m = 16, n = 32;
  std::vector<float> W(static_cast<size_t>(m * n), 0.3f), Wq(W.size());
  W[5] = -2.0f;
  const formats::QuantSpec spec = formats::parse_spec("nvfp4");
  formats::fake_quant(spec, W.data(), m, n, Wq.data());
  auto q = model::make_quantized_linear(spec, W.data(), Wq.data(), {}, m, n, n, std::nullopt, "w");
  EXPECT_NE(exporting::arhq_packed_unsupported(*q, false).find("16x16 tiles"), std::string::npos);
  EXPECT_NE(error_of([&] { exporting::arhq_pack_residual(*q, "w1d"); }).find("w1d: no packed4bit form"), std::string::npos);
  const formats::QuantSpec tiles = formats::parse_spec("nvfp4-ref");
  formats::fake_quant(tiles, W.data(), m, n, Wq.data());
  auto qt = model::make_quantized_linear(tiles, W.data(), Wq.data(), {}, m, n, n, std::nullopt, "w");
  EXPECT_NE(exporting::arhq_packed_unsupported(*qt, true).find("reordered"), std::string::npos);
  EXPECT_TRUE(exporting::arhq_packed_unsupported(*qt, false).empty());
}

TEST_F(ArhqArtifact, SmoothedArhqModelBothFormsReproduceHessqsLayers) {
  const std::string src = write_model(w4a4_tiny({}));
  exporting::write_arhq_artifact({src, out(), "both", false});
  const json man = read_json(out() + "/manifest.json");
  for (const char* k : {"format", "format_version", "base_model_path", "method", "setting", "artifact_precision", "rank",
                        "module_set", "layers", "num_layers", "num_projections", "quantization", "runtime_formula",
                        "metadata_files_copied", "stored_method_counts", "entries"})
    EXPECT_TRUE(man.contains(k)) << k;
  EXPECT_EQ(man["format"], "arhq_nvfp4_lora");
  EXPECT_EQ(man["format_version"], 1);
  EXPECT_EQ(man["method"], "arhq");
  EXPECT_EQ(man["setting"], "smoothing");
  EXPECT_EQ(man["artifact_precision"], "both");
  EXPECT_EQ(man["rank"], 4);
  EXPECT_EQ(man["module_set"], "all");
  EXPECT_EQ(man["layers"], json({0, 1}));
  EXPECT_EQ(man["num_projections"], 14);
  EXPECT_EQ(man["quantization"]["weight"]["block_shape"], json({16, 16}));
  EXPECT_EQ(man["quantization"]["activation"]["block_shape"], json({16}));
  EXPECT_EQ(man["stored_method_counts"], json({{"arhq", 14}}));
  EXPECT_EQ(man["hessq"]["activation_quantizer_is_reference"], true);
  EXPECT_EQ(man["hessq"]["branches_zero_padded_to_rank"], 1);
  EXPECT_EQ(man["hessq"]["residual_values_rounded_to_f16"], 0);
  EXPECT_EQ(man["hessq"]["smoothing_scales_rounded_to_f16"], 0);
  EXPECT_TRUE(fs::exists(out() + "/FORMAT.md"));
  EXPECT_TRUE(fs::exists(out() + "/README.md"));

  // Shards: every tensor named in the entries, with the reference's dtypes and shapes.
  for (const auto& e : man["entries"]) {
    for (const char* k : {"projection", "stored_method", "source_file", "tensors", "shapes", "shard", "layer"})
      EXPECT_TRUE(e.contains(k)) << k;
    const Shard sh = read_shard(out() + "/" + e["shard"].get<std::string>());
    EXPECT_EQ(sh.metadata.at("format"), "arhq_nvfp4_lora");
    EXPECT_EQ(sh.metadata.at("layer"), std::to_string(e["layer"].get<int>()));
    EXPECT_EQ(sh.metadata.at("rank"), "4");
    EXPECT_EQ(sh.metadata.at("artifact_precision"), "both");
    const std::string p = e["projection"];
    const std::map<std::string, std::string> dtypes = {
        {"B_r", "F16"},          {"A_fac", "F16"},           {"scale", "F16"},
        {"W_res_q", "F16"},      {"W_res_packed", "U8"},     {"W_res_scale", "F16"},
        {"W_res_orig_shape", "I32"}, {"W_res_padded_shape", "I32"}, {"W_res_block_shape", "I32"}};
    EXPECT_EQ(e["tensors"].size(), dtypes.size()) << p;
    for (const auto& [field, dtype] : dtypes) {
      const std::string name = e["tensors"].at(field);
      EXPECT_EQ(name, p + "." + field);
      ASSERT_TRUE(sh.tensors.count(name)) << name;
      EXPECT_EQ(sh.tensors.at(name).dtype, dtype) << name;
      if (e["shapes"].contains(field)) {
        EXPECT_EQ(json(sh.tensors.at(name).shape), e["shapes"][field]) << name;
      }
    }
    const auto& Wq = sh.tensors.at(p + ".W_res_q").shape;
    EXPECT_EQ(sh.tensors.at(p + ".B_r").shape, (std::vector<int64_t>{Wq[0], 4}));
    EXPECT_EQ(sh.tensors.at(p + ".A_fac").shape, (std::vector<int64_t>{Wq[1], 4}));
    if (e["layer"] == 1 && p == "up_proj") {  // rank 2, padded with zero columns
      EXPECT_EQ(e["hessq_rank"], 2);
      const ArtTensor& B = sh.tensors.at("up_proj.B_r");
      for (int64_t i = 0; i < Wq[0]; ++i) EXPECT_EQ(B.f16(i * 4 + 3), 0.0f);
    }
  }
  check_outputs(src, out(), true, false, model::RopeStyle::Half);
  check_outputs(src, out(), true, true, model::RopeStyle::Half);
}

TEST_F(ArhqArtifact, InterleavedRopeModelHasHfQkRowsAndNoPackedForm) {
  W4A4Options o;
  o.rope = model::RopeStyle::Interleaved;
  o.smooth = false;
  const std::string src = write_model(w4a4_tiny(o), arhq_meta("svdquant"));
  const std::string why = error_of([&] { exporting::write_arhq_artifact({src, out(), "packed4bit", false}); });
  EXPECT_NE(why.find("model.layers.0.self_attn.q_proj: no packed4bit form"), std::string::npos) << why;
  EXPECT_NE(why.find("interleaved"), std::string::npos) << why;
  expect_nothing_written(out());
  exporting::write_arhq_artifact({src, out(), "", false});
  const json man = read_json(out() + "/manifest.json");
  EXPECT_EQ(man["method"], "svdquant");
  EXPECT_EQ(man["setting"], "raw");
  EXPECT_EQ(man["artifact_precision"], "fp16");
  for (const auto& e : man["entries"]) EXPECT_FALSE(e["tensors"].contains("scale"));
  check_outputs(src, out(), false, false, model::RopeStyle::Interleaved);
}

TEST_F(ArhqArtifact, GlobalScaleActivationsExportWithTheirFormatRecorded) {
  W4A4Options o;
  o.wformat = "nvfp4";
  o.aformat = "nvfp4";
  const std::string src = write_model(w4a4_tiny(o));
  exporting::write_arhq_artifact({src, out(), "fp16", false});
  const json man = read_json(out() + "/manifest.json");
  EXPECT_EQ(man["hessq"]["activation_quantizer_is_reference"], false);
  EXPECT_EQ(man["hessq"]["activation_format"], "nvfp4");
  EXPECT_EQ(man["quantization"]["weight"]["block_shape"], json({1, 16}));
  EXPECT_EQ(man["quantization"]["weight"]["scale_dtype"], "fp8_e4m3_times_fp32_global_scale");
  // No packed form for 1x16 blocks: refused before anything is written.
  const std::string why = error_of([&] { exporting::write_arhq_artifact({src, out("p"), "both", false}); });
  EXPECT_NE(why.find("16x16 tiles"), std::string::npos) << why;
  expect_nothing_written(out("p"));
}

TEST_F(ArhqArtifact, RefusesWhatTheArtifactCannotExpressAndWritesNothing) {
  struct Case {
    std::string label, expected;
    std::function<std::string()> make;
  };
  std::vector<Case> cases = {
      {"weight-only", "model.layers.0.self_attn.q_proj: weight-only quantized",
       [&] { return write_model(quantized_tiny(export_config(), "nvfp4"), arhq_meta(), "wo.hessq"); }},
      {"mx", "weight format mxfp4 is not NVFP4",
       [&] {
         W4A4Options o;
         o.wformat = o.aformat = "mxfp4";
         return write_model(w4a4_tiny(o), arhq_meta(), "mx.hessq");
       }},
      {"f32 branch", "stored F32",
       [&] {
         W4A4Options o;
         o.lowrank_dtype = "F32";
         return write_model(w4a4_tiny(o), arhq_meta(), "f32.hessq");
       }},
      {"awq", "pass 'awq'", [&] { return write_model(w4a4_tiny({}), arhq_meta("awq+arhq"), "awq.hessq"); }},
      {"rotate", "pass 'rotate'", [&] { return write_model(w4a4_tiny({}), arhq_meta("rotate+svdquant"), "rot.hessq"); }},
      {"no branch", "has no low-rank branch", [&] { return write_model(w4a4_tiny({}), arhq_meta("smoothquant"), "nb.hessq"); }},
      {"no recipe", "records no recipe", [&] { return write_model(w4a4_tiny({}), io::HessqMeta{}, "nr.hessq"); }},
      {"not hessq", "is not one", [&] { return (tmp / "missing.hessq").string(); }},
      {"bad type", "must be fp16, packed4bit or both", [&] { return write_model(w4a4_tiny({}), arhq_meta(), "bt.hessq"); }},
  };
  for (const Case& c : cases) {
    const std::string src = c.make();
    const std::string o = out("refused");
    const std::string why =
        error_of([&] { exporting::write_arhq_artifact({src, o, c.label == "bad type" ? "int4" : "fp16", false}); });
    EXPECT_NE(why.find(c.expected), std::string::npos) << c.label << ": " << why;
    expect_nothing_written(o);
  }
}

TEST_F(ArhqArtifact, ModuleSetAttnAndMixedSetsRefused) {
  model::Model m = w4a4_tiny({});
  model::Model fl = tiny_model(export_config(), 11);  // the float linears
  for (int l = 0; l < 2; ++l)
    for (model::Proj p : {model::Proj::Gate, model::Proj::Up, model::Proj::Down})
      m.layers[static_cast<size_t>(l)].linear(p) = fl.layers[static_cast<size_t>(l)].linear(p);
  const std::string attn = write_model(m, arhq_meta(), "attn.hessq");
  exporting::write_arhq_artifact({attn, out(), "fp16", false});
  const json man = read_json(out() + "/manifest.json");
  EXPECT_EQ(man["module_set"], "attn");
  EXPECT_EQ(man["num_projections"], 8);

  m.layers[1].linear(model::Proj::V) = fl.layers[1].linear(model::Proj::V);
  const std::string mixed = write_model(m, arhq_meta(), "mixed.hessq");
  const std::string why = error_of([&] { exporting::write_arhq_artifact({mixed, out("x"), "fp16", false}); });
  EXPECT_NE(why.find("layer 1 quantizes q_proj, k_proj, o_proj"), std::string::npos) << why;
  expect_nothing_written(out("x"));
}

TEST_F(ArhqArtifact, OverwritesOnlyItsOwnOutputWithForceAndIsDeterministic) {
  const std::string src = write_model(w4a4_tiny({}));
  // Something hessq did not write is never replaced, --force or not.
  fs::create_directories(out("foreign"));
  std::ofstream(out("foreign") + "/keep.txt") << "mine";
  for (bool force : {false, true}) {
    const std::string why = error_of([&] { exporting::write_arhq_artifact({src, out("foreign"), "fp16", force}); });
    EXPECT_NE(why.find("was not written by hessq export"), std::string::npos) << why;
  }
  EXPECT_TRUE(fs::exists(out("foreign") + "/keep.txt"));
  EXPECT_FALSE(fs::exists(out("foreign") + "/manifest.json"));

  exporting::write_arhq_artifact({src, out(), "both", false});
  auto bytes = [&](const std::string& f) {
    std::ifstream in(out() + "/" + f, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string shard0 = bytes("layers/layer_0.safetensors"), man0 = bytes("manifest.json");
  EXPECT_NE(error_of([&] { exporting::write_arhq_artifact({src, out(), "both", false}); }).find("--force"),
            std::string::npos);
  exporting::write_arhq_artifact({src, out(), "both", true});
  EXPECT_EQ(bytes("layers/layer_0.safetensors"), shard0);
  EXPECT_EQ(bytes("manifest.json"), man0);
  EXPECT_FALSE(fs::exists(out() + ".partial"));
}

TEST_F(ArhqArtifact, AFailureWhileWritingLeavesThePreviousOutput) {
  // nvfp4-2d tile scales are E4M3 values times an FP32 global scale, almost never f16 values: the
  // packed form is refused while the shards are being written, after the side directory exists.
  W4A4Options o;
  o.wformat = "nvfp4-2d";
  o.aformat = "nvfp4";
  const std::string src = write_model(w4a4_tiny(o));
  const std::string why = error_of([&] { exporting::write_arhq_artifact({src, out(), "packed4bit", false}); });
  EXPECT_NE(why.find("not an f16 value"), std::string::npos) << why;
  expect_nothing_written(out());
  exporting::write_arhq_artifact({src, out(), "fp16", false});  // the fp16 form exists
  const std::string before = read_json(out() + "/manifest.json").dump();
  EXPECT_NE(error_of([&] { exporting::write_arhq_artifact({src, out(), "both", true}); }).find("not an f16 value"),
            std::string::npos);
  EXPECT_EQ(read_json(out() + "/manifest.json").dump(), before);
  EXPECT_FALSE(fs::exists(out() + ".partial"));
}

}  // namespace
}  // namespace hessq::test
