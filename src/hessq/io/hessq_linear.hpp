// W4A4 block linears in a .hessq directory (io/hessq_format.hpp): a runtime::ActQuantLinear (residual
// weight packed as any quantized linear, activation quantizer, smoothing vector, low-rank branch),
// optionally inside a model::HadamardLinear (online rotation of down_proj's input, QuaRot).
// Tensors, beside the residual's `<name>.qweight/.scales/.zeros/.bias`:
//   <name>.lowrank_A      [n, r]  F16 or F32 (the values the layer runs with, bit for bit)
//   <name>.lowrank_B      [m, r]  same dtype
//   <name>.smooth         [n]     F32, the input is divided by it
//   <name>.hadamard_base  [b, b]  F32, B of M = (H_{2^k} / 2^(k/2)) ⊗ B
// Manifest record fields (absent for a weight-only linear, so older files read unchanged):
//   "act_format": formats name of Q_x, "rank": r, "lowrank_dtype": "F16" | "F32" (when r > 0),
//   "smooth": bool, "input_transform": {"kind": "hadamard", "log2_blocks": k, "base_order": b} or null,
//   "residual_bits_per_weight"; "bits_per_weight" is then the effective cost (residual + branch +
//   smoothing, runtime::ActQuantLinear::bits_per_weight) and "extra_params" r (m + n) (+ n).
#pragma once
#include <list>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hessq/io/safetensors.hpp"
#include "hessq/model/hadamard_linear.hpp"
#include "hessq/runtime/act_quant_linear.hpp"
#include "hessq/runtime/quantized_linear.hpp"

namespace hessq::io {

// A stored block linear taken apart. `residual` is null for a float linear (DenseLinear).
struct StoredLinear {
  const runtime::QuantizedLinear* residual = nullptr;
  const runtime::ActQuantLinear* act = nullptr;       // W4A4 wrapper, if any
  const model::HadamardLinear* hadamard = nullptr;    // online rotation around it, if any
  double bits_per_weight() const;  // effective (ActQuantLinear's) or the residual's
};

// A safetensors entry pointing at t's F32 data (t must outlive the write).
SafetensorsEntry f32_entry(const std::string& name, const Tensor& t);

// Throws naming `name` for a linear .hessq cannot store (e.g. a HadamardLinear around a float linear).
StoredLinear split_stored_linear(const model::Linear& lin, const std::string& name);

// Appends the W4A4 tensors of `s` (none for a weight-only linear) and their record fields. Entries
// point into `s`'s tensors or into buffers appended to `scratch`, which must outlive the write.
void add_w4a4_tensors(const StoredLinear& s, const std::string& name, std::vector<SafetensorsEntry>& entries,
                      std::list<std::vector<uint8_t>>& scratch, nlohmann::ordered_json& rec);

// The layer a record describes around its decoded residual `q`: q itself, an ActQuantLinear, and/or a
// HadamardLinear around it. Marks the tensors it reads in `claimed`. Throws naming `src` on a missing
// tensor, a wrong shape or dtype, or an inconsistent record.
std::shared_ptr<model::Linear> build_stored_linear(std::shared_ptr<runtime::QuantizedLinear> q,
                                                   const nlohmann::json& rec, const SafetensorsFile& f,
                                                   std::set<std::string>& claimed, const std::string& name,
                                                   const std::string& src);

// The float weight [m, n] that computes what `lin` computes when its activation quantizer is dropped:
// (W_q + B A^T) diag(s)^-1 for an ActQuantLinear, times M^T for an online Hadamard around it, W_q for
// a plain quantized linear. For convert / inspect of a .hessq (a float checkpoint cannot express Q_x).
Tensor float_equivalent_weight(const model::Linear& lin, const std::string& name);

}  // namespace hessq::io
