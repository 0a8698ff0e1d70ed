#include "hessq/io/hessq_w4a4.hpp"

#include <cblas.h>

#include <cstring>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"

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
  if (auto* a = dynamic_cast<const runtime::ActQuantLinear*>(l)) {
    s.act = a;
    l = a->residual().get();
  }
  s.residual = dynamic_cast<const runtime::QuantizedLinear*>(l);
  const bool dense = dynamic_cast<const model::DenseLinear*>(l) != nullptr;
  HESSQ_CHECK(s.residual != nullptr || (dense && !s.hadamard),
              "{}: a {} cannot be stored in .hessq (expected a float linear, a quantized linear, a W4A4 linear, or an "
              "online Hadamard around a quantized one)",
              name, s.hadamard ? "online Hadamard around a float linear" : "linear of an unknown kind");
  return s;
}

SafetensorsEntry f32_entry(const std::string& name, const Tensor& t) {
  return SafetensorsEntry{name, DType::F32, t.shape, t.ptr(), static_cast<size_t>(t.numel()) * sizeof(float)};
}

static SafetensorsEntry lowrank_entry(const std::string& name, const Tensor& t, const std::string& dtype,
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

void add_w4a4_tensors(const StoredLinear& s, const std::string& name, std::vector<SafetensorsEntry>& entries,
                      std::list<std::vector<uint8_t>>& scratch, json& rec) {
  if (s.act) {
    const runtime::ActQuantLinear& a = *s.act;
    rec["act_format"] = a.act_spec().name();
    rec["rank"] = a.rank();
    rec["smooth"] = a.smooth().has_value();
    rec["extra_params"] = a.extra_params();
    rec["residual_bits_per_weight"] = s.residual->bits_per_weight();
    if (a.lowrank()) {
      rec["lowrank_dtype"] = a.lowrank()->dtype;
      entries.push_back(lowrank_entry(name + ".lowrank_A", a.lowrank()->A, a.lowrank()->dtype, scratch));
      entries.push_back(lowrank_entry(name + ".lowrank_B", a.lowrank()->B, a.lowrank()->dtype, scratch));
    }
    if (a.smooth()) entries.push_back(f32_entry(name + ".smooth", *a.smooth()));
    rec["input_transform"] = nullptr;
  }
  if (s.hadamard) {
    rec["input_transform"] = {{"kind", "hadamard"},
                              {"log2_blocks", s.hadamard->log2_blocks()},
                              {"base_order", s.hadamard->base().rows()}};
    entries.push_back(f32_entry(name + ".hadamard_base", s.hadamard->base()));
  }
}

namespace {

Tensor read_tensor(const SafetensorsFile& f, const std::string& tensor, const Shape& shape, const std::string& dtype,
                   std::set<std::string>& claimed, const std::string& src) {
  const SafetensorsTensorInfo* info = f.find(tensor);
  HESSQ_CHECK(info != nullptr, "{}: tensor {} is missing from {}", src, tensor, f.path());
  HESSQ_CHECK(info->shape == shape, "{}: tensor {} is {}, expected {}", src, tensor, shape_str(info->shape),
              shape_str(shape));
  HESSQ_CHECK(dtype_name(info->dtype) == dtype, "{}: tensor {} is {}, expected {}", src, tensor,
              dtype_name(info->dtype), dtype);
  claimed.insert(tensor);
  return f.to_f32(tensor).clone();  // owned: the layer outlives nothing but itself
}

template <class T>
T field(const nlohmann::json& j, const char* key, const std::string& src) {
  HESSQ_CHECK(j.contains(key), "{}: missing field \"{}\"", src, key);
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    HESSQ_FAIL("{}: field \"{}\" has the wrong type ({})", src, key, j.at(key).dump());
  }
}

}  // namespace

std::shared_ptr<model::Linear> build_stored_linear(std::shared_ptr<runtime::QuantizedLinear> q, const nlohmann::json& rec,
                                                   const SafetensorsFile& f, std::set<std::string>& claimed,
                                                   const std::string& name, const std::string& src) {
  const int64_t m = q->out_features(), n = q->in_features();
  std::shared_ptr<model::Linear> out = q;
  if (rec.contains("act_format")) {
    const formats::QuantSpec x = formats::parse_spec(field<std::string>(rec, "act_format", src));
    const int r = field<int>(rec, "rank", src);
    HESSQ_CHECK(r >= 0 && r <= std::min(m, n), "{}: rank {} out of range for [{}, {}]", src, r, m, n);
    std::optional<runtime::LowRankBranch> lr;
    if (r > 0) {
      const std::string dtype = field<std::string>(rec, "lowrank_dtype", src);
      HESSQ_CHECK(dtype == "F16" || dtype == "F32", "{}: lowrank_dtype must be F16 or F32, got \"{}\"", src, dtype);
      lr = runtime::LowRankBranch{read_tensor(f, name + ".lowrank_A", {n, r}, dtype, claimed, src),
                                  read_tensor(f, name + ".lowrank_B", {m, r}, dtype, claimed, src), dtype};
    }
    std::optional<Tensor> s;
    if (field<bool>(rec, "smooth", src)) s = read_tensor(f, name + ".smooth", {n}, "F32", claimed, src);
    out = std::make_shared<runtime::ActQuantLinear>(q, x, std::move(s), std::move(lr), src);
  }
  if (rec.contains("input_transform") && !rec["input_transform"].is_null()) {
    const auto& t = rec["input_transform"];
    const std::string where = src + " input_transform";
    HESSQ_CHECK(field<std::string>(t, "kind", where) == "hadamard", "{}: kind must be \"hadamard\"", where);
    const int k = field<int>(t, "log2_blocks", where), b = field<int>(t, "base_order", where);
    HESSQ_CHECK(k >= 0 && k < 31 && b >= 1 && (int64_t{b} << k) == n,
                "{}: 2^{} x {} does not match the layer's {} inputs", where, k, b, n);
    out = std::make_shared<model::HadamardLinear>(out, k, read_tensor(f, name + ".hadamard_base", {b, b}, "F32", claimed, src));
  }
  return out;
}

Tensor float_equivalent_weight(const model::Linear& lin, const std::string& name) {
  const StoredLinear s = split_stored_linear(lin, name);
  if (!s.residual) return dynamic_cast<const model::DenseLinear&>(lin).weight().clone();
  const int64_t m = s.residual->out_features(), n = s.residual->in_features();
  Tensor W = s.residual->weight().clone();  // [m, n]
  if (s.act && s.act->lowrank()) {          // W_q + B A^T (fp32 GEMM: a float checkpoint's precision)
    const runtime::LowRankBranch& L = *s.act->lowrank();
    const int r = L.rank();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n), r, 1.0f, L.B.ptr(),
                r, L.A.ptr(), r, 1.0f, W.ptr(), static_cast<int>(n));
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
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n), static_cast<int>(n),
              1.0f, W.ptr(), static_cast<int>(n), M.data(), static_cast<int>(n), 0.0f, out.ptr(), static_cast<int>(n));
  return out;
}

}  // namespace hessq::io
