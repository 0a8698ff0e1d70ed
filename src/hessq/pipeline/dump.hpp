// --dump DIR: what each linear's quantizer saw, as NumPy float32 files, for study outside hessq:
//   DIR/manifest.json  {"linears": [{"layer", "proj", "name", "format", "w", "x_calib", "w_q"}]}
//   w       [out, in]     the weight as the solver received it (after osaq / awq transforms)
//   x_calib [tokens, in]  the calibration inputs it saw (in the same space: X / s after AWQ), one
//                         file per (layer, input) shared by q/k/v and by gate/up
//   w_q     [out, in]     the dequantized result
// Paths in the manifest are relative to DIR. The directory is written atomically: nothing appears
// under DIR unless commit() runs.
#pragma once
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "hessq/core/atomic_file.hpp"
#include "hessq/formats/quant_spec.hpp"
#include "hessq/methods/common.hpp"
#include "hessq/model/layout.hpp"

namespace hessq::pipeline {

// One solved linear as the quantizer saw it.
struct LinearDump {
  int layer = 0;
  model::Proj proj = model::Proj::Q;
  model::InputKind input = model::InputKind::Attn;
  const methods::MatF& W;    // [m, n] the weight the solver received (after the block passes)
  const methods::MatF& X;    // [tokens, n] the calibration inputs in the same (scaled) space
  const methods::MatF& W_q;  // [m, n] dequantized result
};

class Dumper {
 public:
  explicit Dumper(const std::string& dir);  // throws if the parent directory is missing
  void add(const LinearDump& d, const formats::QuantSpec& spec);
  void commit();

 private:
  std::unique_ptr<AtomicDir> out_;
  nlohmann::ordered_json linears_ = nlohmann::ordered_json::array();
  std::map<std::string, std::string> x_files_;  // "layer/input" -> file name
};

}  // namespace hessq::pipeline
