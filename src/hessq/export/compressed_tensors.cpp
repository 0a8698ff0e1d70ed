#include "hessq/export/compressed_tensors.hpp"

#include "hessq/core/error.hpp"
#include "hessq/export/nvfp4_ct.hpp"

namespace hessq::exporting {

HfQuantTarget compressed_tensors_target() {
  HfQuantTarget t;
  t.name = "compressed-tensors";
  t.act_note =
      "compressed-tensors' W4A4 NVFP4 needs a static, calibrated input_global_scale per layer, while hessq takes "
      "each token's own global scale and stores none; export the weight-only model instead";
  t.check = [](const model::QuantizedLinear& q, const std::string& name) { check_ct_nvfp4_expressible(q, name); };
  t.config = [](const std::vector<HfLinear>&) {
    using nlohmann::ordered_json;
    const ordered_json weights = {{"num_bits", 4},          {"type", "float"},        {"symmetric", true},
                                  {"group_size", 16},       {"strategy", "tensor_group"}, {"block_structure", nullptr},
                                  {"dynamic", false},       {"actorder", nullptr},    {"observer", "minmax"},
                                  {"observer_kwargs", ordered_json::object()}};
    const ordered_json group = {{"targets", {"Linear"}},
                                {"weights", weights},
                                {"input_activations", nullptr},
                                {"output_activations", nullptr},
                                {"format", "nvfp4-pack-quantized"}};
    return ordered_json{{"quant_method", "compressed-tensors"},
                        {"format", "nvfp4-pack-quantized"},
                        {"quantization_status", "compressed"},
                        {"config_groups", {{"group_0", group}}},
                        {"ignore", {"lm_head"}},
                        {"kv_cache_scheme", nullptr},
                        {"global_compression_ratio", nullptr}};
  };
  t.tensors = [](const HfLinear& h) {
    const Nvfp4CtTensors c = ct_nvfp4_tensors(*h.weight, h.row_order, h.name);
    std::vector<OwnedTensor> out;
    out.push_back(owned_tensor(h.name + ".weight_packed", io::DType::U8, c.packed_shape, c.weight_packed));
    out.push_back(owned_tensor(h.name + ".weight_scale", io::DType::F8_E4M3, c.scale_shape, c.weight_scale));
    out.push_back(owned_tensor(h.name + ".weight_global_scale", io::DType::F32, {1},
                               std::vector<float>{c.weight_global_scale}));
    return out;
  };
  return t;
}

void write_compressed_tensors(const HfExportOptions& opt) { write_hf_quantized(opt, compressed_tensors_target()); }

}  // namespace hessq::exporting
