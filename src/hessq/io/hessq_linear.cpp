#include "hessq/io/hessq_linear.hpp"

#include <cstring>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "hessq/io/json_field.hpp"
#include "hessq/kernels/gemm_f32.hpp"
#include "hessq/model/layout.hpp"

namespace hessq::io {

using json = nlohmann::ordered_json;

double StoredLinear::bits_per_weight() const {
  if (act) return act->bits_per_weight();
  return residual ? residual->bits_per_weight() : 32.0;
}

StoredLinear split_stored_linear(const model::Linear& lin, const std::string& name) {
  StoredLinear s;
  const model::Linear* l = &lin;
  if (auto* h = dynamic_cast<const model::HadamardLinear*>(l)) {
    s.hadamard = h;
    l = h->inner().get();
  }
  if (auto* a = dynamic_cast<const model::ActQuantLinear*>(l)) {
    s.act = a;
    l = a->residual().get();
  }
  s.residual = dynamic_cast<const model::QuantizedLinear*>(l);
  s.dense = dynamic_cast<const model::DenseLinear*>(l);
  HESSQ_CHECK(s.residual != nullptr || (s.dense && !s.hadamard),
              "{}: a {} cannot be stored in .hessq (expected a float linear, a quantized linear, a W4A4 linear, or an "
              "online Hadamard around a quantized one)",
              name, s.hadamard ? "online Hadamard around a float linear" : "linear of an unknown kind");
  return s;
}

namespace {

SafetensorsEntry f32_entry(const std::string& name, const Tensor& t) {
  return SafetensorsEntry{name, DType::F32, t.shape, t.ptr(), static_cast<size_t>(t.numel()) * sizeof(float)};
}

SafetensorsEntry bytes_entry(const std::string& name, DType dtype, const std::vector<uint8_t>& bytes) {
  const size_t es = dtype_size(dtype);
  HESSQ_CHECK(bytes.size() % es == 0, "{}: {} bytes is not a whole number of {} values", name, bytes.size(),
              dtype_name(dtype));
  return SafetensorsEntry{name, dtype, {static_cast<int64_t>(bytes.size() / es)}, bytes.data(), bytes.size()};
}

DType scale_storage_dtype(const std::string& scale_dtype, const std::string& name) {
  if (scale_dtype == "F32") return DType::F32;
  if (scale_dtype == "F16") return DType::F16;
  if (scale_dtype == "F8_E4M3") return DType::F8_E4M3;
  if (scale_dtype == "E8M0") return DType::U8;  // power-of-two exponents, one byte each
  HESSQ_FAIL("{}: unknown scale storage type \"{}\"", name, scale_dtype);
}

SafetensorsEntry lowrank_entry(const std::string& name, const Tensor& t, const std::string& dtype,
                               std::list<std::vector<uint8_t>>& scratch) {
  if (dtype == "F32") return f32_entry(name, t);
  std::vector<uint8_t>& bytes = scratch.emplace_back(static_cast<size_t>(t.numel()) * 2);
  for (int64_t i = 0; i < t.numel(); ++i) {
    const uint16_t h = f32_to_f16(t.ptr()[i]);
    bytes[2 * i] = static_cast<uint8_t>(h & 0xff);
    bytes[2 * i + 1] = static_cast<uint8_t>(h >> 8);
  }
  return SafetensorsEntry{name, DType::F16, t.shape, bytes.data(), bytes.size()};
}

const StoredTensor& claim(const std::map<std::string, StoredTensor>& tensors, const std::string& tensor,
                          std::set<std::string>& claimed, const std::string& src) {
  auto it = tensors.find(tensor);
  HESSQ_CHECK(it != tensors.end(), "{}: tensor {} is missing", src, tensor);
  claimed.insert(tensor);
  return it->second;
}

// An fp32 tensor of the given shape and dtype, owned (the layer keeps nothing of the file).
Tensor read_tensor(const std::map<std::string, StoredTensor>& tensors, const std::string& tensor, const Shape& shape,
                   const std::string& dtype, std::set<std::string>& claimed, const std::string& src) {
  const StoredTensor& t = claim(tensors, tensor, claimed, src);
  HESSQ_CHECK(t.shape == shape, "{}: tensor {} is {}, expected {}", src, tensor, shape_str(t.shape), shape_str(shape));
  HESSQ_CHECK(dtype_name(t.dtype) == dtype, "{}: tensor {} is {}, expected {}", src, tensor, dtype_name(t.dtype), dtype);
  return t.to_f32().clone();
}

std::vector<uint8_t> read_bytes(const std::map<std::string, StoredTensor>& tensors, const std::string& tensor,
                                std::set<std::string>& claimed, const std::string& src) {
  const StoredTensor& t = claim(tensors, tensor, claimed, src);
  std::vector<uint8_t> bytes(t.data, t.data + t.nbytes);
  t.release();  // the copy is what stays resident, not the file's pages too
  return bytes;
}

// A planar record's codes / scales / zeros, checked against the sizes pack() makes, decoded once.
std::shared_ptr<model::QuantizedLinear> read_planar(const nlohmann::json& rec, const std::string& name,
                                                    const formats::QuantSpec& spec, int64_t m, int64_t n, int64_t ns,
                                                    std::optional<Tensor> bias,
                                                    const std::map<std::string, StoredTensor>& tensors,
                                                    std::set<std::string>& claimed, const std::string& src) {
  formats::Packed packed;
  packed.scale_dtype = json_field<std::string>(rec, "scale_dtype", src);
  packed.global_scale = json_field<float>(rec, "global_scale", src);
  packed.codes = read_bytes(tensors, name + ".qweight", claimed, src);
  if (packed.scale_dtype != "ggml") packed.scales = read_bytes(tensors, name + ".scales", claimed, src);
  if (tensors.count(name + ".zeros")) packed.zeros = read_bytes(tensors, name + ".zeros", claimed, src);
  // Sizes must be exactly what this format packs for [m, n'] before anything is decoded.
  const std::vector<float> zero(static_cast<size_t>(m * ns), 0.0f);
  const formats::Packed ref = formats::pack(spec, zero.data(), m, ns);
  HESSQ_CHECK(packed.codes.size() == ref.codes.size() && packed.scales.size() == ref.scales.size() &&
                  packed.zeros.size() == ref.zeros.size() && packed.scale_dtype == ref.scale_dtype,
              "{}: stored codes/scales/zeros have {}/{}/{} bytes ({}), expected {}/{}/{} ({}) for {} [{}, {}]", src,
              packed.codes.size(), packed.scales.size(), packed.zeros.size(), packed.scale_dtype, ref.codes.size(),
              ref.scales.size(), ref.zeros.size(), ref.scale_dtype, spec.name(), m, ns);
  std::vector<float> decoded(static_cast<size_t>(m * ns));
  formats::unpack(spec, packed, m, ns, decoded.data());
  Tensor W_q = Tensor::zeros({m, n});
  for (int64_t r = 0; r < m; ++r)
    std::copy(decoded.begin() + r * ns, decoded.begin() + r * ns + n, W_q.ptr() + r * n);
  return std::make_shared<model::QuantizedLinear>(spec, std::move(packed), std::move(W_q), std::move(bias), ns);
}

model::Proj proj_from_name(const std::string& s, const std::string& source) {
  for (model::Proj p : model::kAllProjs)
    if (s == model::proj_name(p)) return p;
  HESSQ_FAIL("{}: unknown projection \"{}\"", source, s);
}

}  // namespace

json quantized_entries(const model::QuantizedLinear& q, const std::string& name, std::vector<SafetensorsEntry>& entries) {
  const formats::Packed& pk = q.packed();
  entries.push_back(bytes_entry(name + ".qweight", DType::U8, pk.codes));
  // ggml's block types keep their scales inside the blocks: no .scales tensor.
  if (q.layout() == model::WeightLayout::Planar && pk.scale_dtype != "ggml")
    entries.push_back(bytes_entry(name + ".scales", scale_storage_dtype(pk.scale_dtype, name), pk.scales));
  if (!pk.zeros.empty()) entries.push_back(bytes_entry(name + ".zeros", DType::U8, pk.zeros));
  if (q.bias()) entries.push_back(f32_entry(name + ".bias", *q.bias()));
  json rec = json::object();
  rec["name"] = name;
  rec["format"] = q.spec().name();
  rec["layout"] = model::layout_name(q.layout());
  rec["shape"] = {q.out_features(), q.in_features()};
  rec["stored_shape"] = {q.out_features(), q.stored_in_features()};  // zero-padded inputs when wider
  rec["bits_per_weight"] = q.bits_per_weight();
  rec["scale_dtype"] = pk.scale_dtype;
  rec["global_scale"] = pk.global_scale;
  return rec;
}

std::shared_ptr<model::QuantizedLinear> quantized_from_record(const nlohmann::json& rec, const std::string& name,
                                                              const std::map<std::string, StoredTensor>& tensors,
                                                              std::set<std::string>& claimed, const std::string& src) {
  const formats::QuantSpec spec =
      with_context(src, [&] { return formats::parse_spec(json_field<std::string>(rec, "format", src)); });
  const auto shape = json_field<std::vector<int64_t>>(rec, "shape", src);
  HESSQ_CHECK(shape.size() == 2 && shape[0] > 0 && shape[1] > 0, "{}: shape must be [out, in]", src);
  const int64_t m = shape[0], n = shape[1];
  const auto stored = rec.contains("stored_shape") ? json_field<std::vector<int64_t>>(rec, "stored_shape", src) : shape;
  HESSQ_CHECK(stored.size() == 2 && stored[0] == m && stored[1] >= n, "{}: stored_shape must be [{}, >= {}]", src, m,
              n);
  const int64_t ns = stored[1];
  std::optional<Tensor> bias;
  if (tensors.count(name + ".bias")) bias = read_tensor(tensors, name + ".bias", {m}, "F32", claimed, src);
  const std::string layout = rec.contains("layout") ? json_field<std::string>(rec, "layout", src) : "planar";
  HESSQ_CHECK(layout == "planar" || layout == "int-blocks", "{}: layout must be \"planar\" or \"int-blocks\", got \"{}\"",
              src, layout);
  if (layout == "planar") return read_planar(rec, name, spec, m, n, ns, std::move(bias), tensors, claimed, src);
  // int-blocks: the packed bytes as stored, nothing decoded (the constructor checks spec and size)
  return std::make_shared<model::QuantizedLinear>(spec, read_bytes(tensors, name + ".qweight", claimed, src), m, n, ns,
                                                  std::move(bias), src);
}

void linear_entries(const model::Linear& lin, int layer, model::Proj proj, std::vector<SafetensorsEntry>& entries,
                    std::list<std::vector<uint8_t>>& scratch, json& rec, int64_t& other_params) {
  const std::string name = model::linear_name(layer, proj);
  const StoredLinear s = split_stored_linear(lin, name);
  auto add_f32 = [&](const std::string& tensor, const Tensor& t) {
    entries.push_back(f32_entry(tensor, t));
    other_params += t.numel();
  };
  if (!s.residual) {  // a float linear: under its HF names, no record
    add_f32(name + ".weight", s.dense->weight());
    if (s.dense->bias()) add_f32(name + ".bias", *s.dense->bias());
    rec = nullptr;
    return;
  }
  const model::QuantizedLinear& q = *s.residual;
  other_params += q.bias() ? q.bias()->numel() : 0;
  rec = quantized_entries(q, name, entries);
  rec["layer"] = layer;
  rec["proj"] = model::proj_name(proj);
  rec["bits_per_weight"] = s.bits_per_weight();
  if (s.act) {
    const model::ActQuantLinear& a = *s.act;
    if (a.act_spec()) rec["act_format"] = a.act_spec()->name();
    rec["rank"] = a.rank();
    rec["smooth"] = a.smooth().has_value();
    rec["extra_params"] = a.extra_params();
    rec["residual_bits_per_weight"] = q.bits_per_weight();
    if (a.lowrank()) {
      rec["lowrank_dtype"] = a.lowrank()->dtype;
      entries.push_back(lowrank_entry(name + ".lowrank_A", a.lowrank()->A, a.lowrank()->dtype, scratch));
      entries.push_back(lowrank_entry(name + ".lowrank_B", a.lowrank()->B, a.lowrank()->dtype, scratch));
    }
    if (a.smooth()) entries.push_back(f32_entry(name + ".smooth", *a.smooth()));
  }
  rec["input_transform"] = nullptr;
  if (s.hadamard) {
    rec["input_transform"] = {{"kind", "hadamard"},
                              {"log2_blocks", s.hadamard->log2_blocks()},
                              {"base_order", s.hadamard->base().rows()}};
    entries.push_back(f32_entry(name + ".hadamard_base", s.hadamard->base()));
  }
}

std::shared_ptr<model::Linear> linear_from_record(const nlohmann::json& rec,
                                                  const std::map<std::string, StoredTensor>& tensors,
                                                  std::set<std::string>& claimed, const std::string& manifest) {
  const std::string name = json_field<std::string>(rec, "name", manifest + " linear");
  const std::string src = manifest + " linear " + name;
  const int layer = json_field<int>(rec, "layer", src);
  const model::Proj proj = proj_from_name(json_field<std::string>(rec, "proj", src), src);
  HESSQ_CHECK(name == model::linear_name(layer, proj), "{}: layer/proj do not match the name", src);
  const std::shared_ptr<model::QuantizedLinear> q = quantized_from_record(rec, name, tensors, claimed, src);
  const int64_t m = q->out_features(), n = q->in_features();
  std::shared_ptr<model::Linear> out = q;
  if (rec.contains("rank") || rec.contains("act_format")) {  // an ActQuantLinear
    std::optional<formats::QuantSpec> x;
    if (rec.contains("act_format"))
      x = with_context(src, [&] { return formats::parse_spec(json_field<std::string>(rec, "act_format", src)); });
    const int r = rec.contains("rank") ? json_field<int>(rec, "rank", src) : 0;
    HESSQ_CHECK(r >= 0 && r <= std::min(m, n), "{}: rank {} out of range for [{}, {}]", src, r, m, n);
    std::optional<model::LowRankBranch> lr;
    if (r > 0) {
      const std::string dtype = json_field<std::string>(rec, "lowrank_dtype", src);
      HESSQ_CHECK(dtype == "F16" || dtype == "F32", "{}: lowrank_dtype must be F16 or F32, got \"{}\"", src, dtype);
      lr = model::LowRankBranch{read_tensor(tensors, name + ".lowrank_A", {n, r}, dtype, claimed, src),
                                read_tensor(tensors, name + ".lowrank_B", {m, r}, dtype, claimed, src), dtype};
    }
    std::optional<Tensor> s;
    if (rec.contains("smooth") && json_field<bool>(rec, "smooth", src))
      s = read_tensor(tensors, name + ".smooth", {n}, "F32", claimed, src);
    out = std::make_shared<model::ActQuantLinear>(q, x, std::move(s), std::move(lr), src);
  }
  if (rec.contains("input_transform") && !rec["input_transform"].is_null()) {
    const auto& t = rec["input_transform"];
    const std::string where = src + " input_transform";
    HESSQ_CHECK(json_field<std::string>(t, "kind", where) == "hadamard", "{}: kind must be \"hadamard\"", where);
    const int k = json_field<int>(t, "log2_blocks", where), b = json_field<int>(t, "base_order", where);
    HESSQ_CHECK(k >= 0 && k < 31 && b >= 1 && (int64_t{b} << k) == n,
                "{}: 2^{} x {} does not match the layer's {} inputs", where, k, b, n);
    out = std::make_shared<model::HadamardLinear>(out, k,
                                                  read_tensor(tensors, name + ".hadamard_base", {b, b}, "F32", claimed, src));
  }
  return out;
}

Tensor float_equivalent_weight(const model::Linear& lin, const std::string& name) {
  const StoredLinear s = split_stored_linear(lin, name);
  if (!s.residual) return s.dense->weight().clone();
  const int64_t m = s.residual->out_features(), n = s.residual->in_features();
  Tensor W = s.residual->dequantized();  // [m, n]
  if (s.act && s.act->lowrank()) {          // W_q + B A^T (fp32 GEMM: a float checkpoint's precision)
    const model::LowRankBranch& L = *s.act->lowrank();
    const int r = L.rank();
    kernels::gemm_f32_rows(false, true, m, n, r, 1.0f, L.B.ptr(), r, L.A.ptr(), r, 1.0f, W.ptr(), n);
  }
  if (s.act && s.act->smooth())  // the layer sees x / s
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) W.ptr()[i * n + j] /= s.act->smooth()->ptr()[j];
  if (!s.hadamard) return W;
  // y = (x M) W'^T = x (W' M^T)^T, with M = rotate_input(I) taken densely (n x n floats).
  std::vector<float> I(static_cast<size_t>(n * n), 0.0f), M(static_cast<size_t>(n * n));
  for (int64_t j = 0; j < n; ++j) I[j * n + j] = 1.0f;
  s.hadamard->rotate_input(I.data(), static_cast<int>(n), M.data());
  Tensor out = Tensor::zeros({m, n});
  kernels::gemm_f32_rows(false, true, m, n, n, 1.0f, W.ptr(), n, M.data(), n, 0.0f, out.ptr(), n);
  return out;
}

}  // namespace hessq::io
