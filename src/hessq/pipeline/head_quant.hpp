// quantize --head-format: the token embedding and the output head quantized with RTN to a weight
// format (e.g. int8-g32, int6-g32, int4-g32; with --ggml-type each its preset's ggml type), after
// the blocks. An INT format with groups of 32k values
// (or per channel) is stored as int blocks (model/quantized_linear.hpp), so the embedding is looked
// up row by row from its packed bytes and the head runs the packed decode kernel. A tied model keeps
// one quantized embedding that serves as its head.
// [choice] RTN, not GPTQ, for both: the head's Hessian would need the final hidden states of every
// calibration window (not kept), and the embedding is a lookup table (no input to weight errors by).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "hessq/formats/quant_spec.hpp"
#include "hessq/io/hessq_format.hpp"
#include "hessq/io/stored_tensor.hpp"
#include "hessq/model/config.hpp"

namespace hessq::pipeline {

// Quantizes "model.embed_tokens.weight" to `embed` and (untied) "lm_head.weight" to `head`, removing
// them from `tensors`; one without a spec, and the others (the final norm), stay.
io::QuantizedTensors quantize_embeddings(const std::optional<formats::QuantSpec>& embed,
                                         const std::optional<formats::QuantSpec>& head, const model::ModelConfig& cfg,
                                         std::vector<io::StoredTensor>& tensors);

}  // namespace hessq::pipeline
