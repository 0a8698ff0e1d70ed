// hessq export --to gptq: a quantized .hessq model as a GPTQ-format HuggingFace checkpoint directory
// (transformers + optimum, GPTQModel and vLLM load it): hf_export.hpp's directory with, per block
// linear, qweight / qzeros / scales / g_idx (export/gptq_pack.hpp: checkpoint_format "gptq", zeros
// stored minus 1) and config.json's quantization_config
//   {"quant_method": "gptq", "bits": b, "group_size": g (-1 per channel), "desc_act": false,
//    "sym": true|false, "checkpoint_format": "gptq", "pack_dtype": "int32", "lm_head": false,
//    "meta": {"quantizer": ["hessq:<version>"]}}.
// hessq's INT specs map as export/int_codes.hpp says: symmetric int-b (w = s q, q signed) becomes
// the unsigned code q + 2^(b-1) with zero 2^(b-1); asymmetric codes and zeros are written as stored.
// Either layout (int blocks, planar) is accepted; per tensor becomes per channel with the one scale
// repeated. Every block linear must share one (bits, group, sym), since the config is global.
// Refused, naming the tensor: non-INT formats (NVFP4, MX, FP8, FP4), INT5-7, sizes that are not
// multiples of 32, asymmetric groups with zero point 0, and what hf_export.hpp refuses.
#pragma once
#include "hessq/export/hf_export.hpp"

namespace hessq::exporting {

HfQuantTarget gptq_target();
void write_gptq(const HfExportOptions& opt);

}  // namespace hessq::exporting
