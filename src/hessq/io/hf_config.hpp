// HuggingFace config.json <-> model::ModelConfig for the supported decoders: LlamaForCausalLM,
// MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM.
#pragma once
#include <string>

#include "hessq/model/config.hpp"

namespace hessq::io {

// `path` is a config.json or the directory holding one. Throws hessq::Error naming the file and the
// key for a missing required field, a wrong JSON type, an unsupported architecture or rope_scaling.
model::ModelConfig read_hf_config(const std::string& path);

// The same, from JSON text; `source` names it in errors.
model::ModelConfig parse_hf_config(const std::string& json_text, const std::string& source);

// A pretty-printed, deterministic config.json that read_hf_config reads back as `cfg`. Throws for a
// config HF cannot express: interleaved RoPE, Qwen2 without q/k/v bias, qk_norm other than Qwen3's.
std::string hf_config_json(const model::ModelConfig& cfg);

}  // namespace hessq::io
