// W4A4 recipes in YAML: a map with the layer format and the stages as passes, e.g.
//
//   format: nvfp4            # or mxfp4, int4, ... (methods::layer_format_table); required
//   wformat: int4-g128       # optional: replace the weight side / activation side (aformat)
//   sequential: true         # optional: block k calibrates on the quantized blocks < k
//   passes:
//     - rotate: {seed: 0, fallback: true}          # QuaRot-style rotation (alias quarot)
//     - smoothquant: {tokens: 1024}                # alias smooth
//     - arhq: {rank: 16, alloc: false, eps: 1e-6, eps_abs: false, dtype: f16}
//                                                  # or svdquant: {rank, alloc, dtype},
//                                                  #    arhq-h: {rank, ..., mult: 16}
//     - gptq: {act_order: false, damp: 0.01}       # or rtn (the default solver)
//
// What each stage does: w4a4_config.hpp and docs/cli/quantize-w4a4.md. Errors name the file, the
// line and the key. A YAML recipe with a top-level `format` key is a W4A4 recipe; without it, a
// weight-only one (recipe.hpp).
#pragma once
#include <string>

#include "hessq/pipeline/w4a4_config.hpp"

namespace hessq::pipeline {

bool is_w4a4_recipe(const std::string& yaml_text);
W4a4Config parse_w4a4_recipe(const std::string& yaml_text, const std::string& source);

}  // namespace hessq::pipeline
