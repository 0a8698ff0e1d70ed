#include "hessq/pipeline/summary.hpp"

namespace hessq::pipeline {

using json = nlohmann::ordered_json;

json summarize_diagnostics(const std::map<std::string, json>& diag) {
  struct Acc {
    double sum = 0;
    int n = 0;
  };
  std::map<std::string, std::map<std::string, Acc>> acc;  // proj ("all" first) -> key -> mean
  int64_t params = 0, extra = 0;
  double bits = 0;
  for (const auto& [name, d] : diag) {
    const std::string proj = name.substr(name.rfind('.') + 1);
    auto add = [&](const std::string& key, const json& v) {
      if (!v.is_number() && !v.is_boolean()) return;
      const double x = v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>();
      for (const std::string& g : {std::string("all"), proj}) {
        acc[g][key].sum += x;
        acc[g][key].n += 1;
      }
    };
    for (const char* key : {"loss_rel", "loss_rel_heldout", "snr_db", "snr_rtn_db", "rank", "bits_per_weight"})
      if (d.contains(key)) add(key, d[key]);
    if (d.contains("osaq"))
      for (const char* key : {"K", "output_ratio", "maxabs_before", "maxabs_after", "row_maxabs_before",
                              "row_maxabs_after", "rejected"})
        add(std::string("osaq_") + key, d["osaq"][key]);
    if (d.contains("awq")) add("awq_alpha", d["awq"]["alpha"]);
    if (d.contains("smooth")) add("smooth_alpha", d["smooth"]["alpha"]);
    const int64_t mn = d.value("params", int64_t{0});
    params += mn;
    extra += d.value("extra_params", int64_t{0});
    bits += d.value("bits_per_weight", 0.0) * static_cast<double>(mn);
  }
  json s;
  s["linear_params"] = params;
  s["extra_params"] = extra;
  s["extra_params_pct"] = params > 0 ? 100.0 * static_cast<double>(extra) / static_cast<double>(params) : 0.0;
  s["bits_per_weight"] = params > 0 ? bits / static_cast<double>(params) : 0.0;
  s["mean"] = json::object();
  for (const auto& [g, keys] : acc)
    for (const auto& [key, a] : keys) s["mean"][g][key] = a.sum / a.n;
  return s;
}

}  // namespace hessq::pipeline
