// What the HF exports (--to gptq, --to compressed-tensors) refuse, with a message naming the tensor
// and why, and leaving nothing behind (no output, no side directory); and how they treat an existing
// output (export/export_dir.hpp): a foreign directory or file is never touched, a previous export is
// replaced only with --force, a killed export's side directory is cleaned up.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "export/export_fixture.hpp"
#include "export/export_read.hpp"
#include "hessq/export/compressed_tensors.hpp"
#include "hessq/export/export_dir.hpp"
#include "hessq/export/gptq.hpp"
#include "hessq/model/act_quant_linear.hpp"
#include "hessq/model/hadamard_linear.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;

namespace hessq::exporting {

namespace {

enum class Target { Gptq, Ct };

// The error of exporting `hessq` to `target` at <tmp>/out; and nothing may be left there.
std::string refusal(const test::TempDir& tmp, const std::string& hessq, Target target) {
  const std::string out = (tmp / "out").string();
  const std::string err = test::error_of([&] {
    const HfExportOptions o{hessq, out, "", io::DType::F16, false};
    target == Target::Gptq ? write_gptq(o) : write_compressed_tensors(o);
  });
  EXPECT_FALSE(fs::exists(out)) << err;
  EXPECT_FALSE(fs::exists(out + ".partial")) << err;
  return err;
}

std::string tiny_hessq(const test::TempDir& tmp, const std::string& spec, const test::LinearEdit& edit = {},
                       const model::ModelConfig& cfg = test::export_config()) {
  return test::write_tiny_hessq(tmp / "m.hessq", test::quantized_tiny(cfg, spec, 7, edit));
}

}  // namespace

TEST(HfExportRefusals, FloatCheckpoint) {
  const test::TempDir tmp;
  const std::string err = refusal(tmp, test::stories_bin(), Target::Gptq);
  EXPECT_NE(err.find("float checkpoint"), std::string::npos) << err;
}

TEST(HfExportRefusals, FormatsTheTargetCannotHold) {
  const test::TempDir tmp;
  std::string err = refusal(tmp, tiny_hessq(tmp, "nvfp4"), Target::Gptq);
  EXPECT_NE(err.find("model.layers.0.self_attn.q_proj: weight format nvfp4 is not INT"), std::string::npos) << err;
  const test::TempDir t2;
  err = refusal(t2, tiny_hessq(t2, "int4-g32"), Target::Ct);
  EXPECT_NE(err.find("model.layers.0.self_attn.q_proj: weight format int4-g32 is not NVFP4"), std::string::npos) << err;
  const test::TempDir t3;
  err = refusal(t3, tiny_hessq(t3, "nvfp4-ref"), Target::Ct);
  EXPECT_NE(err.find("reference mode"), std::string::npos) << err;
  const test::TempDir t4;
  err = refusal(t4, tiny_hessq(t4, "int5-g32"), Target::Gptq);
  EXPECT_NE(err.find("2, 3, 4 and 8 bits"), std::string::npos) << err;
  const test::TempDir t5;  // the control: the same model in a format GPTQ has
  write_gptq({tiny_hessq(t5, "int4-g32"), (t5 / "out").string(), "", io::DType::F16, false});
  EXPECT_TRUE(is_hessq_export((t5 / "out").string()));
}

TEST(HfExportRefusals, SizesThatAreNotMultiplesOf32Or16) {
  const test::TempDir tmp;  // hidden 48: gate/up have 48 outputs, down 48 inputs
  const model::ModelConfig cfg = test::tiny_config(64, 48, 4, 2, 16);
  std::string err = refusal(tmp, tiny_hessq(tmp, "int4-g16", {}, cfg), Target::Gptq);
  EXPECT_NE(err.find("model.layers.0.mlp.gate_proj: shape [48, 64]"), std::string::npos) << err;
  const test::TempDir t2;  // hidden 40: down_proj's 40 inputs are not a multiple of 16
  err = refusal(t2, tiny_hessq(t2, "nvfp4", {}, test::tiny_config(64, 40, 4, 2, 16)), Target::Ct);
  EXPECT_NE(err.find("model.layers.0.mlp.down_proj: 40 inputs are not a multiple of 16"), std::string::npos) << err;
}

TEST(HfExportRefusals, LinearsWithMoreThanAWeight) {
  auto wrap = [](std::function<std::shared_ptr<model::Linear>(std::shared_ptr<model::QuantizedLinear>)> f) {
    return [f](model::Model& m) {
      auto& lin = m.layers[1].linear(model::Proj::Down);
      lin = f(std::dynamic_pointer_cast<model::QuantizedLinear>(lin));
    };
  };
  const std::string name = "model.layers.1.mlp.down_proj: ";
  {  // a low-rank branch (SVDQuant / ARHQ)
    const test::TempDir tmp;
    const auto lowrank = wrap([](auto q) {
      model::LowRankBranch L{Tensor::zeros({q->in_features(), 2}), Tensor::zeros({q->out_features(), 2}), "F32"};
      return std::make_shared<model::ActQuantLinear>(q, std::nullopt, std::nullopt, L, "down");
    });
    const std::string err = refusal(tmp, tiny_hessq(tmp, "nvfp4", lowrank), Target::Ct);
    EXPECT_NE(err.find(name + "a low-rank branch (rank 2) has no slot in the compressed-tensors format"),
              std::string::npos)
        << err;
  }
  {  // W4A4: NVFP4 activations
    const test::TempDir tmp;
    const auto w4a4 = wrap([](auto q) {
      return std::make_shared<model::ActQuantLinear>(q, formats::parse_spec("nvfp4"), std::nullopt, std::nullopt,
                                                     "down");
    });
    const std::string err = refusal(tmp, tiny_hessq(tmp, "nvfp4", w4a4), Target::Ct);
    EXPECT_NE(err.find(name + "an activation quantizer (nvfp4"), std::string::npos) << err;
    EXPECT_NE(err.find("input_global_scale"), std::string::npos) << err;
  }
  {  // W4A8 on GPTQ
    const test::TempDir tmp;
    const auto w4a8 = wrap([](auto q) {
      return std::make_shared<model::ActQuantLinear>(q, formats::parse_spec("int8-tok"), std::nullopt, std::nullopt,
                                                     "down");
    });
    const std::string err = refusal(tmp, tiny_hessq(tmp, "int4-g32", w4a8), Target::Gptq);
    EXPECT_NE(err.find(name + "an activation quantizer (int8-tok"), std::string::npos) << err;
  }
  {  // smoothing vector
    const test::TempDir tmp;
    const auto smooth = wrap([](auto q) {
      Tensor s = Tensor::zeros({q->in_features()});
      for (int64_t j = 0; j < s.numel(); ++j) s.ptr()[j] = 2.0f;
      return std::make_shared<model::ActQuantLinear>(q, std::nullopt, s, std::nullopt, "down");
    });
    const std::string err = refusal(tmp, tiny_hessq(tmp, "int4-g32", smooth), Target::Gptq);
    EXPECT_NE(err.find(name + "a smoothing vector"), std::string::npos) << err;
  }
  {  // online Hadamard (QuaRot) around down_proj: 128 = 2^7 * 1
    const test::TempDir tmp;
    const auto had = wrap([](auto q) {
      Tensor B = Tensor::zeros({1, 1});
      B.ptr()[0] = 1.0f;
      return std::make_shared<model::HadamardLinear>(q, 7, B);
    });
    const std::string err = refusal(tmp, tiny_hessq(tmp, "int4-g32", had), Target::Gptq);
    EXPECT_NE(err.find(name + "an online Hadamard rotation"), std::string::npos) << err;
  }
}

TEST(HfExportRefusals, MixedSpecsAndAsymmetricZeroPointZero) {
  {
    const test::TempDir tmp;
    const auto mixed = [](model::Model& m) {
      auto& lin = m.layers[1].linear(model::Proj::Up);
      const auto& q = dynamic_cast<const model::QuantizedLinear&>(*lin);
      lin = test::quantize_dense(model::DenseLinear(q.dequantized()), formats::parse_spec("int8-g32"), "up");
    };
    const std::string err = refusal(tmp, tiny_hessq(tmp, "int4-g32", mixed), Target::Gptq);
    EXPECT_NE(err.find("model.layers.1.mlp.up_proj: weight format int8-g32 differs from"), std::string::npos) << err;
  }
  {  // a row of v_proj all >= 0: its asymmetric groups get zero point 0, which "gptq" stores as -1
    const test::TempDir tmp;
    const auto positive = [](model::Model& m) {
      auto& lin = m.layers[0].linear(model::Proj::V);
      Tensor W = dynamic_cast<const model::QuantizedLinear&>(*lin).dequantized();
      Tensor W2 = Tensor::zeros(W.shape);
      std::copy_n(W.ptr(), W.numel(), W2.ptr());
      for (int64_t c = 0; c < W.cols(); ++c) W2.ptr()[3 * W.cols() + c] = std::abs(W.ptr()[c]) + 0.01f;
      lin = test::quantize_dense(model::DenseLinear(W2), formats::parse_spec("int4-asym-g32"), "v");
    };
    const std::string err = refusal(tmp, tiny_hessq(tmp, "int4-asym-g32", positive), Target::Gptq);
    EXPECT_NE(err.find("model.layers.0.self_attn.v_proj: row 3, group 0 has zero point 0"), std::string::npos) << err;
  }
}

TEST(HfExportOutput, ForeignOutputsAreNeverTouched) {
  const test::TempDir tmp;
  const std::string hessq = tiny_hessq(tmp, "int4-g32");
  const std::string out = (tmp / "out").string();
  fs::create_directory(out);
  std::ofstream(out + "/precious.txt") << "keep";
  std::string err = test::error_of([&] { write_gptq({hessq, out, "", io::DType::F16, true}); });
  EXPECT_NE(err.find("was not written by hessq export"), std::string::npos) << err;  // even with --force
  EXPECT_TRUE(fs::exists(out + "/precious.txt"));
  EXPECT_FALSE(fs::exists(out + ".partial"));
  const std::string file = (tmp / "file").string();
  std::ofstream(file) << "x";
  err = test::error_of([&] { write_gptq({hessq, file, "", io::DType::F16, true}); });
  EXPECT_NE(err.find("was not written by hessq export"), std::string::npos) << err;
  // A side directory hessq did not make is refused too.
  const std::string out2 = (tmp / "out2").string();
  fs::create_directory(out2 + ".partial");
  err = test::error_of([&] { write_gptq({hessq, out2, "", io::DType::F16, false}); });
  EXPECT_NE(err.find("is not an interrupted hessq export"), std::string::npos) << err;
  EXPECT_TRUE(fs::exists(out2 + ".partial"));
}

TEST(HfExportOutput, PreviousExportIsReplacedOnlyWithForce) {
  const test::TempDir tmp;
  const std::string hessq = tiny_hessq(tmp, "int4-g32");
  const std::string out = (tmp / "out").string();
  write_gptq({hessq, out, "", io::DType::F16, false});
  EXPECT_TRUE(is_hessq_export(out));
  const std::string err = test::error_of([&] { write_gptq({hessq, out, "", io::DType::F32, false}); });
  EXPECT_NE(err.find("pass --force"), std::string::npos) << err;
  EXPECT_EQ(test::read_exported(out).at("model.norm.weight").dtype, io::DType::F16);  // untouched
  write_gptq({hessq, out, "", io::DType::F32, true});
  EXPECT_EQ(test::read_exported(out).at("model.norm.weight").dtype, io::DType::F32);
  EXPECT_FALSE(fs::exists(out + ".partial"));
  EXPECT_FALSE(fs::exists(out + ".replaced"));
}

TEST(HfExportOutput, KilledExportSideDirectoryIsCleanedUp) {
  const test::TempDir tmp;
  const std::string hessq = tiny_hessq(tmp, "nvfp4");
  const std::string out = (tmp / "out").string();
  fs::create_directory(out + ".partial");  // what a killed export leaves: its marker and some shards
  std::ofstream(out + ".partial/" + kExportMarker) << "{}";
  std::ofstream(out + ".partial/model-00001-of-00003.safetensors") << "truncated";
  write_compressed_tensors({hessq, out, "", io::DType::BF16, false});
  EXPECT_FALSE(fs::exists(out + ".partial"));
  EXPECT_EQ(test::read_exported(out).at("model.embed_tokens.weight").dtype, io::DType::BF16);
}

}  // namespace hessq::exporting
