// `hessq export --to arhq-artifact`: a W4A4 ARHQ or SVDQuant .hessq as the "NVFP4 + LoRA artifact"
// of the ARHQ reference code (BeautMoonQ/ARHQ, arhq/export_model.py; format "arhq_nvfp4_lora",
// format_version 1), so the reference's tools can evaluate hessq's decompositions:
//
//   manifest.json                 format, format_version, base_model_path, method ("arhq" | "svdquant"),
//                                 setting ("raw" | "smoothing"), artifact_precision ("fp16" | "packed4bit"
//                                 | "both"), rank, module_set ("attn" | "ffn" | "all"), layers, num_layers,
//                                 num_projections, quantization {activation, weight}, runtime_formula,
//                                 metadata_files_copied, stored_method_counts, entries [{projection,
//                                 stored_method, source_file, tensors, shapes, shard, layer}]; plus
//                                 "exported_by" and "hessq" (what hessq ran; extra keys the reference ignores)
//   README.md, FORMAT.md          the layout in words, and what hessq fills differently
//   layers/layer_<i>.safetensors  per projection <proj> (q_proj ... down_proj), metadata {format, layer,
//                                 method, setting, rank, artifact_precision}:
//     <proj>.B_r   [m, rank] F16  = hessq's lowrank_B (L = B A^T, the same convention: no transpose)
//     <proj>.A_fac [n, rank] F16  = hessq's lowrank_A
//     <proj>.scale [n] F16        setting "smoothing": hessq's smoothing vector s (the input is divided by
//                                 it in both: X_s = X / s, W_res ~ W diag(s)), rounded to f16 as the
//                                 reference stores it; 1 for a linear hessq did not smooth
//     <proj>.W_res_q ... / W_res_packed ...   export/arhq_residual.hpp
//   hessq_export.json             export/export_dir.hpp's ownership marker
// Runtime (the reference's QuantizedLowRankLinear): Y = Qx(X_s) W_res_q^T + (X_s A_fac) B_r^T, Qx the
// reference's NVFP4 (1x16 blocks, scale e4m3_sim(amax/6), no global scale) = hessq's nvfp4-ref-1d.
//
// Conversions, each exact unless said:
// - rank: every projection is written with the model's largest rank; a smaller branch (rank
//   allocation) is padded with zero columns, which adds 0 to the product.
// - q/k rows of a model in llama2.c's interleaved RoPE layout are permuted into HF's half layout
//   (model::rope_row_order), since the reference loads its base model with transformers: the rows of
//   W_res_q and B_r move; A_fac and scale (inputs) do not.
// - The residual's f16 rounding and the smoothing vector's f16 rounding (both as the reference does);
//   the branch must already be F16 (quantize --lowrank-dtype f16, the default): an F32 branch is refused
//   rather than rounded.
// Refused, naming the tensor, before anything is written: not a .hessq; a recipe that changed what the
// artifact cannot carry (QuaRot/HeRo-Q/SpinQuant rotations, AWQ folded into norms, a quantized
// embedding or head); a linear that is weight-only, non-NVFP4 (INT, MX, FP8 weights or activations),
// biased, or rotated online; projections exported in some layers and not others beyond the attn/ffn/all
// module sets; a packed form that is not exact (export/arhq_residual.hpp).
// Not filled as the reference fills them (documented in the FORMAT.md written): source_file points at
// the .hessq shard (there is no per-projection .pt decomposition); base_model_path is the .hessq's
// source, which the reference can load only when it is an HF directory (`hessq convert` makes one);
// the activation quantizer when hessq calibrated with another NVFP4 flavour (manifest "hessq").
#pragma once
#include <string>

namespace hessq::exporting {

struct ArhqArtifactOptions {
  std::string model;             // a .hessq directory
  std::string out;               // the artifact directory
  std::string precision = "fp16";  // artifact_precision: fp16, packed4bit or both ("" = fp16)
  bool force = false;            // replace an artifact hessq wrote
};

void write_arhq_artifact(const ArhqArtifactOptions& o);

}  // namespace hessq::exporting
