#include "hessq/export/gptq.hpp"

#include "hessq/core/error.hpp"
#include "hessq/export/gptq_pack.hpp"
#include "hessq/export/int_codes.hpp"

namespace hessq::exporting {

using formats::Granularity;

namespace {

struct GptqScheme {
  int bits;
  int group_size;  // -1: per channel
  bool sym;
  bool operator==(const GptqScheme&) const = default;
};

GptqScheme scheme_of(const formats::QuantSpec& s) {
  return {s.bits, s.granularity == Granularity::PerGroup ? s.group : -1, s.symmetric};
}

}  // namespace

HfQuantTarget gptq_target() {
  HfQuantTarget t;
  t.name = "gptq";
  t.check = [](const model::QuantizedLinear& q, const std::string& name) {
    const formats::QuantSpec& s = q.spec();
    HESSQ_CHECK(s.format == formats::Format::Int,
                "{}: weight format {} is not INT; the GPTQ format holds INT2/3/4/8 weights per channel or per group "
                "(compressed-tensors takes NVFP4: --to compressed-tensors)",
                name, s.name());
    check_gptq_shape(s.bits, q.out_features(), q.in_features(), name);
  };
  t.config = [](const std::vector<HfLinear>& linears) {
    HESSQ_CHECK(!linears.empty(), "gptq export: the model has no block linears");
    const GptqScheme first = scheme_of(linears.front().weight->spec());
    for (const HfLinear& h : linears)
      HESSQ_CHECK(scheme_of(h.weight->spec()) == first,
                  "{}: weight format {} differs from {}'s {}: the GPTQ config has one bits / group_size / sym for "
                  "every linear",
                  h.name, h.weight->spec().name(), linears.front().name, linears.front().weight->spec().name());
    return nlohmann::ordered_json{{"quant_method", "gptq"},
                                  {"bits", first.bits},
                                  {"group_size", first.group_size},
                                  {"desc_act", false},
                                  {"sym", first.sym},
                                  {"checkpoint_format", "gptq"},
                                  {"pack_dtype", "int32"},
                                  {"lm_head", false},
                                  {"meta", {{"quantizer", {std::string("hessq:") + HESSQ_VERSION}}}}};
  };
  t.tensors = [](const HfLinear& h) {
    const GptqTensors g = gptq_tensors(int_codes(*h.weight, h.name), h.row_order, h.name);
    std::vector<OwnedTensor> out;
    out.push_back(owned_tensor(h.name + ".qweight", io::DType::I32, g.qweight_shape, g.qweight));
    out.push_back(owned_tensor(h.name + ".qzeros", io::DType::I32, g.qzeros_shape, g.qzeros));
    out.push_back(owned_tensor(h.name + ".scales", io::DType::F16, g.scales_shape, g.scales));
    out.push_back(owned_tensor(h.name + ".g_idx", io::DType::I32, g.g_idx_shape, g.g_idx));
    return out;
  };
  return t;
}

void write_gptq(const HfExportOptions& opt) { write_hf_quantized(opt, gptq_target()); }

}  // namespace hessq::exporting
