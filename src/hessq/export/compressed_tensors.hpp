// hessq export --to compressed-tensors: a quantized .hessq model with NVFP4 weights as a
// compressed-tensors HuggingFace checkpoint (format "nvfp4-pack-quantized", the NVFP4A16 scheme
// llm-compressor writes, which vLLM loads): hf_export.hpp's directory with, per block linear,
// weight_packed / weight_scale / weight_global_scale (export/nvfp4_ct.hpp) and config.json's
//   "quantization_config": {"quant_method": "compressed-tensors", "format": "nvfp4-pack-quantized",
//     "quantization_status": "compressed", "config_groups": {"group_0": {"targets": ["Linear"],
//     "format": "nvfp4-pack-quantized", "weights": {"num_bits": 4, "type": "float", "symmetric": true,
//     "group_size": 16, "strategy": "tensor_group", "dynamic": false, ...}, "input_activations": null,
//     "output_activations": null}}, "ignore": ["lm_head"], "kv_cache_scheme": null,
//     "global_compression_ratio": null}
// (field names: neuralmagic/compressed-tensors, quantization/quant_config.py, quant_scheme.py
// NVFP4A16, quant_args.py).
//
// Weight-only. W4A4 NVFP4 (compressed-tensors' NVFP4 scheme) quantizes activations with a *static*
// input_global_scale calibrated once per layer (input_activations "dynamic": "local": only the block
// scales are computed at run time). hessq's activation quantizer takes its global scale from each
// token's own amax at run time (model/act_quant_linear.hpp) and a .hessq stores no static one, so a
// W4A4 model is refused (hf_export.hpp) rather than written with a scale it never used.
#pragma once
#include "hessq/export/hf_export.hpp"

namespace hessq::exporting {

HfQuantTarget compressed_tensors_target();
void write_compressed_tensors(const HfExportOptions& opt);

}  // namespace hessq::exporting
