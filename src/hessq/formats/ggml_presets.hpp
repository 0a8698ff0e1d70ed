// llama-quantize's presets (Q4_K_M, Q3_K_S, Q8_0, ...): which ggml block type each tensor of a model
// gets, by llama.cpp's rules (src/llama-quant.cpp, llama_tensor_get_type, for dense Llama-family
// models: no experts, not Falcon, not 70B), so that hessq's solvers quantize onto the same per-tensor
// types and the files compare at equal size:
//   - the preset's default type everywhere, except
//   - output (and a tied embedding): Q8_0 when its row does not fill the default type's blocks, else
//     Q6_K (unless the default is Q8_0);
//   - attn_v, ffn_down, attn_output: more bits in some layers per preset (use_more_bits: the first and
//     last eighth of the layers and every third one between), e.g. Q4_K_M: Q6_K in those layers;
//   - Q4_0 / Q5_0: ffn_down of the first eighth of the layers in Q4_1 / Q5_1 (llama.cpp does this when
//     an importance matrix is given; hessq always calibrates, so it applies the rule);
//   - a row that does not fill whole blocks falls back (output included): Q2_K, Q3_K -> Q4_0,
//     Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, and to F16 when the fallback does not fit either.
// [choice] a legacy type (Q4_0 ... Q8_0) whose block does not fill a row goes to F16 where llama-quantize
// stops with "no tensor type fallback" (e.g. stories260K's 172-wide down_proj under Q4_0): the file is
// still one llama.cpp runs, and the tensor is named in quantize's log.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hessq/formats/ggml_types.hpp"

namespace hessq::formats {

// The role of a tensor for the preset rules.
enum class GgmlRole { TokenEmbd, Output, AttnQ, AttnK, AttnV, AttnOutput, FfnGate, FfnUp, FfnDown };

std::vector<std::string> ggml_preset_names();  // "Q4_0", ..., "Q4_K_M", ...
bool is_ggml_preset(const std::string& name);
GgmlType ggml_preset_base(const std::string& preset);   // the default type (Q4_K for Q4_K_M)
uint32_t ggml_preset_ftype(const std::string& preset);  // llama.h's llama_ftype (general.file_type)
// The llama_ftype of a file mostly in `type`: that of the preset named after it, or its "_M" preset
// for the K types with several (Q3_K -> Q3_K_M, Q4_K -> Q4_K_M); nullopt when no preset has that base.
std::optional<uint32_t> ggml_type_ftype(GgmlType type);

// The type of a tensor with rows of `ncols` values in block `layer` of `n_layers` (layer ignored for
// the embedding and output) under `preset`. `tied`: the embedding is also the output. Throws naming
// the preset and listing the known ones for an unknown preset.
GgmlType ggml_preset_type(const std::string& preset, GgmlRole role, int layer, int n_layers, int64_t ncols,
                          int n_gqa, bool tied);

}  // namespace hessq::formats
