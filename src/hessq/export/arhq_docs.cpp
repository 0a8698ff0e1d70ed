#include "hessq/export/arhq_docs.hpp"

#include <fmt/format.h>

namespace hessq::exporting {

namespace {

std::string str(const nlohmann::ordered_json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }

}  // namespace

std::string arhq_readme(const nlohmann::ordered_json& m) {
  const auto& h = m.at("hessq");
  return fmt::format(
      "# ARHQ NVFP4 + low-rank artifact (written by hessq)\n\n"
      "`{}:{}` decomposition, rank `{}`, module set `{}`, exported by `hessq export --to arhq-artifact` from the\n"
      "hessq model `{}` (recipe `{}`, weights `{}`, activations `{}`).\n\n"
      "This is not a Hugging Face checkpoint: it holds, for each exported projection of the base model\n"
      "(`{}`), the tensors of the simulated NVFP4 + low-rank runtime\n\n"
      "```text\nY = Qx(X_s) @ W_res_q.T + (X_s @ A_fac) @ B_r.T,   X_s = X / scale (setting=smoothing) or X (raw)\n```\n\n"
      "- Layers: `{}`, projections: `{}`\n- Stored residual: `{}`\n- Smoothing: `{}`\n\n"
      "`FORMAT.md` describes every tensor and what hessq fills differently from the reference exporter;\n"
      "`manifest.json` is the machine-readable description.\n",
      str(m.at("method")), str(m.at("setting")), str(m.at("rank")), str(m.at("module_set")), str(h.at("source_hessq")),
      str(h.at("recipe_method")), str(h.at("weight_format")), str(h.at("activation_format")),
      str(m.at("base_model_path")), str(m.at("num_layers")), str(m.at("num_projections")),
      str(m.at("artifact_precision")), m.at("setting") == "smoothing" ? "enabled" : "disabled");
}

std::string arhq_format_doc(const nlohmann::ordered_json& m) {
  const auto& h = m.at("hessq");
  const auto& w = m.at("quantization").at("weight");
  std::string doc = fmt::format(R"(# Artifact format

Format `arhq_nvfp4_lora`, version 1, as defined by the ARHQ reference code (`arhq/export_model.py`).

## Files

```text
manifest.json            machine-readable description (keys below)
README.md, FORMAT.md     this description
layers/layer_<i>.safetensors   one shard per exported transformer layer
hessq_export.json        hessq's marker: hessq replaces only directories holding it (export --force)
```

Files the base model directory holds (`config.json`, tokenizer files) are copied beside them when the
hessq model's source is such a directory; `metadata_files_copied` lists them.

## Tensors of a shard

Each shard holds every exported projection `<proj>` (`q_proj`, `k_proj`, `v_proj`, `o_proj`,
`gate_proj`, `up_proj`, `down_proj`) of its layer; its safetensors metadata repeats `format`, `layer`,
`method`, `setting`, `rank` and `artifact_precision`.

| tensor | dtype | shape | content |
|---|---|---|---|
| `<proj>.B_r` | F16 | [D_out, rank] | low-rank factor applied last |
| `<proj>.A_fac` | F16 | [D_in, rank] | low-rank factor applied to the input |
| `<proj>.scale` | F16 | [D_in] | smoothing divisor of the input (setting `smoothing` only) |
| `<proj>.W_res_q` | F16 | [D_out, D_in] | dequantized NVFP4 residual (precision `fp16` or `both`) |
| `<proj>.W_res_packed` | U8 | [ceil(D_out_pad * D_in_pad / 2)] | 4-bit codebook indices (`packed4bit` or `both`) |
| `<proj>.W_res_scale` | F16 | [D_out_pad / 16, D_in_pad / 16] | one scale per 16 x 16 block |
| `<proj>.W_res_orig_shape` | I32 | [2] | [D_out, D_in] |
| `<proj>.W_res_padded_shape` | I32 | [2] | [D_out_pad, D_in_pad], multiples of 16 |
| `<proj>.W_res_block_shape` | I32 | [2] | [16, 16] |

## Runtime

```text
X_s = X / scale        (setting=smoothing; X_s = X for setting=raw)
Y   = Qx(X_s) @ W_res_q.T + (X_s @ A_fac) @ B_r.T
```

`Qx` is NVFP4 E2M1 in blocks of 16 along the input, each block scaled by `e4m3_sim(amax / 6)` (an
E4M3-like rounding to 3 mantissa bits, no global scale). `W_res_q` is used as stored, never quantized
again. The packed form decodes to the same matrix: element `k` of the row-major padded
[D_out_pad, D_in_pad] matrix is `codebook[index_k] * W_res_scale[row / 16, col / 16]`, `index_k` the low
nibble of byte `k / 2` for even `k` and the high nibble for odd `k`, with

```text
codebook = [-6, -4, -3, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 3, 4, 6]
```

Padding elements hold index 7 (the value 0); padded rows and columns are dropped after decoding.

## Manifest keys

`format`, `format_version`, `base_model_path`, `method`, `setting`, `artifact_precision`, `rank`,
`module_set`, `layers`, `num_layers`, `num_projections`, `quantization` (`activation`: name, block
shape; `weight`: name, packed name, block shape, scale dtype, stored scale dtype, codes per byte),
`runtime_formula`, `metadata_files_copied`, `stored_method_counts`, and `entries`: one per projection
with `projection`, `stored_method`, `source_file`, `tensors` (field -> tensor name), `shapes`, `shard`,
`layer`. hessq adds `exported_by`, `hessq` (what hessq ran) and, per entry, `hessq_rank`.

## What hessq fills differently from the reference exporter

This artifact: weights `{}`, activations `{}`, weight block shape `{}`, weight scale `{}`.

- `source_file`: hessq has no per-projection decomposition file (`<proj>_<method>_<setting>_rank<r>.pt`);
  the entry points at the `.hessq` shard holding the projection, relative to this directory.
- `base_model_path`: the source the hessq model was quantized from (`{}`). The reference loads it with
  transformers, so it must be a Hugging Face directory; a llama2.c `.bin` or a GGUF source is converted
  first with `hessq convert --model SOURCE --out DIR` (the q/k rows of this artifact are already in the
  Hugging Face layout: {}).
- `rank`: the largest branch rank of the model; projections whose branch hessq solved with a smaller
  rank (rank allocation) carry zero columns up to it ({} projections); `hessq_rank` gives the solved rank.
- `W_res_q`: hessq's quantized residual rounded to the nearest f16 ({} values changed by the rounding;
  none for nvfp4-ref weights in the f16 range). `B_r` and `A_fac` are hessq's F16 factors unchanged.
- `scale`: hessq stores its smoothing vectors in F32; they are rounded to the nearest f16 as the reference
  stores them ({} entries changed), so the artifact divides by that f16 value.
- `quantization.weight.block_shape` is hessq's weight block: `[16, 16]` for nvfp4-ref / nvfp4-2d tiles,
  `[1, 16]` for 1D NVFP4 weights (the fp16 residual holds their values either way; the packed form exists
  only for 16 x 16 tiles). `scale_dtype` is `fp8_e4m3_simulated` for nvfp4-ref and
  `fp8_e4m3_times_fp32_global_scale` for NVFP4 with a global scale.
- `Qx`: the reference's runtime quantizer. It is the one hessq calibrated with only for nvfp4-ref
  activations (`activation_quantizer_is_reference`: {}); otherwise hessq used a per-token FP32 global
  scale and the artifact's outputs differ from hessq's by that quantizer's difference.
)",
                                str(h.at("weight_format")), str(h.at("activation_format")), w.at("block_shape").dump(),
                                str(w.at("scale_dtype")), str(m.at("base_model_path")), str(h.at("qk_rows")),
                                str(h.at("branches_zero_padded_to_rank")), str(h.at("residual_values_rounded_to_f16")),
                                str(h.at("smoothing_scales_rounded_to_f16")),
                                str(h.at("activation_quantizer_is_reference")));
  return doc;
}

}  // namespace hessq::exporting
