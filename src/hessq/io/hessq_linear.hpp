// One block linear in a .hessq directory (io/hessq_format.hpp): its tensors and its manifest record.
//   float          <name>.weight [m, n] F32 (and <name>.bias)
//   quantized      layout "int-blocks" (INT-b per channel or in groups of 32k, model/quantized_linear.hpp):
//                  <name>.qweight (U8, the blocks of kernels/int_blocks.hpp, scales and zeros inside)
//                  layout "planar" (every other format): <name>.qweight (U8, packed codes, 1-D),
//                  <name>.scales (the format's scale storage: F16 for INT, F32, F8_E4M3, or U8 holding
//                  E8M0), <name>.zeros (U8, asymmetric INT only)
//                  and <name>.bias F32
//   + an ActQuantLinear (activation quantizer, smoothing, low-rank branch):
//                  <name>.lowrank_A [n, r] and <name>.lowrank_B [m, r], F16 or F32 (the values the layer
//                  runs with, bit for bit); <name>.smooth [n] F32, the input is divided by it
//   + an online Hadamard (model::HadamardLinear around it): <name>.hadamard_base [b, b] F32, B of
//                  M = (H_{2^k} / 2^(k/2)) ⊗ B
// Record fields of a quantized linear: name, layer, proj, format, layout ("planar" when absent: format
// version 1), shape [m, n], stored_shape [m, n']
// (zero-padded inputs), bits_per_weight, scale_dtype, global_scale, diagnostics; an ActQuantLinear adds
// "act_format" (absent for weight-only), "rank", "lowrank_dtype" (r > 0), "smooth", "extra_params",
// "residual_bits_per_weight" ("bits_per_weight" is then the effective cost: residual + branch +
// smoothing); an online rotation adds "input_transform": {"kind": "hadamard", "log2_blocks": k,
// "base_order": b}. Float linears have no record.
#pragma once
#include <list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hessq/io/safetensors.hpp"
#include "hessq/io/stored_tensor.hpp"
#include "hessq/model/act_quant_linear.hpp"
#include "hessq/model/hadamard_linear.hpp"
#include "hessq/model/quantized_linear.hpp"

namespace hessq::io {

// A stored block linear taken apart. `residual` is null for a float linear (DenseLinear).
struct StoredLinear {
  const model::DenseLinear* dense = nullptr;
  const model::QuantizedLinear* residual = nullptr;
  const model::ActQuantLinear* act = nullptr;     // the wrapper, if any
  const model::HadamardLinear* hadamard = nullptr;  // online rotation around it, if any
  double bits_per_weight() const;  // effective (ActQuantLinear's) or the residual's; 32 for a float linear
};

// Throws naming `name` for a linear .hessq cannot store (e.g. a HadamardLinear around a float linear).
StoredLinear split_stored_linear(const model::Linear& lin, const std::string& name);

// One quantized weight's tensors (<name>.qweight, .scales and .zeros when planar, .bias) as safetensors
// entries pointing into `q`, and its record's common fields (name, format, layout, shape, stored_shape,
// bits_per_weight, scale_dtype, global_scale). Block linears and a quantized embedding / head use it.
nlohmann::ordered_json quantized_entries(const model::QuantizedLinear& q, const std::string& name,
                                         std::vector<SafetensorsEntry>& entries);
// The inverse: the layer a record's common fields describe, from the tensors named `name`.*.
std::shared_ptr<model::QuantizedLinear> quantized_from_record(const nlohmann::json& rec, const std::string& name,
                                                              const std::map<std::string, StoredTensor>& tensors,
                                                              std::set<std::string>& claimed, const std::string& src);

// The tensors of `lin` as safetensors entries, and (for a quantized linear) its record (without
// "diagnostics"). Entries point into the linear's tensors or into buffers appended to `scratch`, which
// must outlive the write. `other_params` counts the stored F32 values that are not quantized weights
// (biases, a float linear), for the totals.
void linear_entries(const model::Linear& lin, int layer, model::Proj proj, std::vector<SafetensorsEntry>& entries,
                    std::list<std::vector<uint8_t>>& scratch, nlohmann::ordered_json& rec, int64_t& other_params);

// The layer a record describes, from the stored tensors by name; marks the tensors it reads in
// `claimed`. Throws naming `src` on a missing tensor, a wrong shape or dtype, or an inconsistent record.
std::shared_ptr<model::Linear> linear_from_record(const nlohmann::json& rec,
                                                  const std::map<std::string, StoredTensor>& tensors,
                                                  std::set<std::string>& claimed, const std::string& src);

// The float weight [m, n] that computes what `lin` computes when its activation quantizer is dropped:
// (W_q + B A^T) diag(s)^-1 for an ActQuantLinear, times M^T for an online Hadamard around it, W_q for
// a plain quantized linear. For convert / inspect of a .hessq (a float checkpoint cannot express Q_x).
Tensor float_equivalent_weight(const model::Linear& lin, const std::string& name);

}  // namespace hessq::io
