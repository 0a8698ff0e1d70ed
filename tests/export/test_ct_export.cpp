// --to compressed-tensors: weight_packed / weight_scale / weight_global_scale decoded with
// compressed-tensors' published dequantization (fp4 * (weight_scale / weight_global_scale), written
// here from the format description) equal hessq's NVFP4 weights, 1x16 blocks and 16x16 tiles, q/k rows
// in HF's layout; config.json holds the nvfp4-pack-quantized scheme.
#include <gtest/gtest.h>

#include <cmath>

#include "export/export_fixture.hpp"
#include "export/export_read.hpp"
#include "hessq/export/compressed_tensors.hpp"
#include "hessq/io/checkpoint.hpp"
#include "test_util.hpp"

namespace hessq::exporting {

using test::ExportedTensor;

namespace {

// E2M1 code -> value: sign bit 3, magnitudes 0, 0.5, 1, 1.5, 2, 3, 4, 6 (compressed-tensors' FLOAT_TO_E2M1).
float e2m1(uint8_t c) {
  static const float mag[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  return (c & 8) ? -mag[c & 7] : mag[c & 7];
}

// OCP FP8 E4M3 byte -> value: s eeee mmm, bias 7, subnormals at e = 0 (no NaN in a valid scale).
float e4m3(uint8_t b) {
  const int e = (b >> 3) & 15, m = b & 7;
  const float v = e == 0 ? std::ldexp(static_cast<float>(m) / 8.0f, -6) : std::ldexp(1.0f + m / 8.0f, e - 7);
  return (b & 0x80) ? -v : v;
}

// W [m, n]: w = e2m1(code) * (scale / global_scale) in F32, as compressed-tensors' _dequantize does.
std::vector<float> ct_dequantize(const std::map<std::string, ExportedTensor>& t, const std::string& name) {
  const ExportedTensor& wp = t.at(name + ".weight_packed");
  const ExportedTensor& ws = t.at(name + ".weight_scale");
  const ExportedTensor& gs = t.at(name + ".weight_global_scale");
  EXPECT_EQ(wp.dtype, io::DType::U8);
  EXPECT_EQ(ws.dtype, io::DType::F8_E4M3);
  EXPECT_EQ(gs.dtype, io::DType::F32);
  EXPECT_EQ(gs.shape, Shape{1});
  const int64_t m = wp.shape[0], n = wp.shape[1] * 2;
  EXPECT_EQ(ws.shape, (Shape{m, n / 16}));
  const float g = gs.at<float>(0);
  std::vector<float> W(static_cast<size_t>(m * n));
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < n; ++c) {
      const uint8_t byte = wp.bytes[r * n / 2 + c / 2];
      const uint8_t code = (c % 2 == 0) ? (byte & 15) : (byte >> 4);  // low nibble first
      const float scale = e4m3(ws.bytes[r * (n / 16) + c / 16]) / g;
      W[r * n + c] = e2m1(code) * scale;
    }
  return W;
}

}  // namespace

TEST(CompressedTensorsExport, DecodesToHessqNvfp4Weights) {
  for (const char* spec : {"nvfp4", "nvfp4-2d"})
    for (model::RopeStyle rope : {model::RopeStyle::Half, model::RopeStyle::Interleaved}) {
      SCOPED_TRACE(std::string(spec) + (rope == model::RopeStyle::Half ? " half" : " interleaved"));
      test::TempDir tmp;
      const model::ModelConfig cfg = test::export_config(model::Arch::Llama, rope);
      const std::string hessq = test::write_tiny_hessq(tmp / "m.hessq", test::quantized_tiny(cfg, spec));
      const std::string out = (tmp / "m-ct").string();
      write_compressed_tensors({hessq, out, "", io::DType::F16, false});
      const model::Model ref = io::load_model(hessq);
      const auto tensors = test::read_exported(out);
      for (int l = 0; l < cfg.n_layers; ++l)
        for (model::Proj p : model::kAllProjs) {
          const bool attn = p == model::Proj::Q || p == model::Proj::K || p == model::Proj::V || p == model::Proj::O;
          const std::string name =
              model::layer_tensor_name(l, std::string(attn ? "self_attn." : "mlp.") + model::proj_name(p));
          SCOPED_TRACE(name);
          const auto& q = dynamic_cast<const model::QuantizedLinear&>(ref.layers[l].linear(p));
          const Tensor W_ref = q.dequantized();
          const std::vector<float> W = ct_dequantize(tensors, name);
          const int64_t m = q.out_features(), n = q.in_features();
          const bool permuted = rope == model::RopeStyle::Interleaved && (p == model::Proj::Q || p == model::Proj::K);
          double worst = 0;
          for (int64_t j = 0; j < m; ++j) {
            const int64_t src = permuted ? test::interleaved_row_of_half(j, cfg.head_dim) : j;
            for (int64_t i = 0; i < n; ++i) {
              const double ref_v = W_ref.ptr()[src * n + i], got = W[j * n + i];
              ASSERT_EQ(ref_v == 0, got == 0) << j << ", " << i;
              if (ref_v != 0) worst = std::max(worst, std::abs(got - ref_v) / std::abs(ref_v));
            }
          }
          // hessq decodes (e2m1 * s) * g, compressed-tensors e2m1 * (s / (1/g)) with 1/g rounded to F32:
          // three F32 roundings apart at most (2^-24 each, export/nvfp4_ct.hpp), so 2^-21 bounds it.
          EXPECT_LE(worst, std::ldexp(1.0, -21));
        }
      const auto qc = test::read_json_file(out + "/config.json").at("quantization_config");
      EXPECT_EQ(qc.at("quant_method"), "compressed-tensors");
      EXPECT_EQ(qc.at("format"), "nvfp4-pack-quantized");
      EXPECT_EQ(qc.at("ignore"), nlohmann::json::array({"lm_head"}));
      const auto& w = qc.at("config_groups").at("group_0").at("weights");
      EXPECT_EQ(w.at("strategy"), "tensor_group");
      EXPECT_EQ(w.at("group_size"), 16);
      EXPECT_EQ(w.at("type"), "float");
      EXPECT_EQ(w.at("num_bits"), 4);
      EXPECT_TRUE(qc.at("config_groups").at("group_0").at("input_activations").is_null());
    }
}

TEST(CompressedTensorsExport, GlobalScaleIsTheReciprocalOfHessqs) {
  test::TempDir tmp;
  const model::Model m = test::quantized_tiny(test::export_config(), "nvfp4");
  const std::string hessq = test::write_tiny_hessq(tmp / "m.hessq", m);
  write_compressed_tensors({hessq, (tmp / "o").string(), "", io::DType::F16, false});
  const auto tensors = test::read_exported((tmp / "o").string());
  const auto& q = dynamic_cast<const model::QuantizedLinear&>(m.layers[0].linear(model::Proj::Up));
  // llm-compressor's global scale is 448 * 6 / amax; hessq's multiplier g is amax / (6 * 448).
  EXPECT_EQ(tensors.at("model.layers.0.mlp.up_proj.weight_global_scale").at<float>(0), 1.0f / q.packed().global_scale);
  // The scale bytes are hessq's E4M3 codes, unchanged.
  const auto& ws = tensors.at("model.layers.0.mlp.up_proj.weight_scale");
  EXPECT_TRUE(std::equal(ws.bytes.begin(), ws.bytes.end(), q.packed().scales.begin()));
}

}  // namespace hessq::exporting
