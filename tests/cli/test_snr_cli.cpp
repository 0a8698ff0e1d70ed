// hessq snr end to end on stories260K (small token counts, one format and rank): the JSON records of
// the contract, the dump (manifest + .npy) from which the baseline SNR is recomputed independently,
// the report files, and clear errors on bad input (names, ranks, short text, NaN activations).
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.hpp"
#include "hessq/io/npy.hpp"
#include "hessq/methods/layer_quant.hpp"

namespace hessq {
namespace {

const std::string kCalib = test::shared_path("data/tinystories/tinystories_validation_head.txt");

std::string base_args(const std::string& format = "nvfp4-ref", const std::string& ranks = "4", int calib_tokens = 256) {
  return "--threads 1 snr --model " + test::stories_bin() + " --calib " + kCalib +
         " --max-chars 20000 --eval-tokens 128 --window 128 --calib-tokens " + std::to_string(calib_tokens) +
         " --format " + format + " --ranks " + ranks;
}

TEST(SnrCli, RecordsDumpAndReports) {
  const test::TempDir dir;
  const std::string json = (dir / "r.json").string(), dump = (dir / "dump").string(), out = (dir / "out").string();
  const auto r = test::run_hessq(base_args() + " --methods baseline,svdquant,arhq --settings raw --extras none --json " +
                                 json + " --dump " + dump + " --out-dir " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("| rank | linears |"), std::string::npos) << r.out;
  const auto recs = nlohmann::json::parse(test::slurp(json));
  ASSERT_TRUE(recs.is_array());
  EXPECT_EQ(recs.size(), 35u * 3u);  // 5 layers x 7 projections x {baseline, svdquant r4, arhq r4}
  std::set<std::string> projs;
  for (const auto& x : recs) {
    for (const char* k : {"layer", "proj", "method", "setting", "rank", "format", "snr_db"}) ASSERT_TRUE(x.contains(k)) << k;
    EXPECT_EQ(x["format"], "nvfp4-ref");
    projs.insert(x["proj"].get<std::string>());
  }
  EXPECT_EQ(projs.size(), 7u);
  for (const char* f : {"snr.md", "snr.csv", "snr.json", "snr_vs_rank_nvfp4-ref.svg"})
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(out) / f)) << f;

  // The dump: recompute layer 3 down_proj's baseline SNR from the .npy files alone.
  const auto man = nlohmann::json::parse(test::slurp(dump + "/manifest.json"));
  ASSERT_EQ(man["linears"].size(), 35u);
  const nlohmann::json* entry = nullptr;
  for (const auto& l : man["linears"])
    if (l["layer"] == 3 && l["proj"] == "down_proj") entry = &l;
  ASSERT_TRUE(entry);
  const io::NpyArray w = io::read_npy(dump + "/" + (*entry)["w"].get<std::string>());
  const io::NpyArray xc = io::read_npy(dump + "/" + (*entry)["x_calib"].get<std::string>());
  const io::NpyArray xe = io::read_npy(dump + "/" + (*entry)["x_eval"].get<std::string>());
  EXPECT_EQ(w.shape, (std::vector<int64_t>{64, 172}));
  EXPECT_EQ(xc.shape, (std::vector<int64_t>{256, 172}));
  EXPECT_EQ(xe.shape, (std::vector<int64_t>{128, 172}));
  const methods::MatF W = Eigen::Map<const methods::MatF>(w.data.data(), 64, 172);
  const methods::MatF X = Eigen::Map<const methods::MatF>(xe.data.data(), 128, 172);
  const auto f = methods::parse_layer_format("nvfp4-ref");
  const double snr = methods::snr_db(methods::matmul_nt(X, W), methods::matmul_nt(methods::fake_quant_padded(f.x, X),
                                                                                  methods::fake_quant_padded(f.w, W)));
  bool found = false;
  for (const auto& x : recs)
    if (x["layer"] == 3 && x["proj"] == "down_proj" && x["method"] == "baseline") {
      EXPECT_NEAR(x["snr_db"].get<double>(), snr, 1e-9);  // same floats, same code path: identical
      found = true;
    }
  EXPECT_TRUE(found);
}

TEST(SnrCli, BadInputGivesClearErrors) {
  struct Case {
    std::string args, needle;
  };
  const std::vector<Case> cases = {
      {base_args("nvfp5"), "unknown format 'nvfp5'"},
      {base_args() + " --methods baseline,arhq,gptq", "unknown method 'gptq'"},
      {base_args() + " --settings raw,rotated", "unknown setting 'rotated'"},
      {base_args("nvfp4-ref", "4,100"), "rank 100 is larger than"},
      {base_args("nvfp4-ref", "4", 100000), "are needed"},
  };
  for (const Case& c : cases) {
    const auto r = test::run_hessq(c.args);
    EXPECT_EQ(r.code, 1) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << c.args << "\n" << r.err;
  }
}

TEST(SnrCli, NonFiniteActivationsAreNamed) {
  // A copy of stories260K whose layer-0 v_proj weights are 3e38: finite weights (the loader accepts
  // them) whose products overflow, so the attention output (o_proj's input) holds Inf/NaN.
  const test::TempDir dir;
  const std::string path = (dir / "overflow.bin").string();
  std::string bytes = test::slurp(test::stories_bin());
  const size_t off = 28 + 4 * (512 * 64 + 5 * 64 + 5 * 64 * 64 + 5 * 32 * 64);  // header, emb, rms_att, wq, wk
  const float big = 3e38f;
  for (size_t i = 0; i < 32 * 64; ++i) std::memcpy(&bytes[off + 4 * i], &big, 4);
  std::ofstream(path, std::ios::binary) << bytes;
  const auto r = test::run_hessq("--threads 1 snr --model " + path + " --tokenizer " + test::stories_tok() + " --calib " +
                                 kCalib + " --max-chars 20000 --calib-tokens 256 --eval-tokens 128 --ranks 4");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("NaN/Inf"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("layer 0 o_proj"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace hessq
