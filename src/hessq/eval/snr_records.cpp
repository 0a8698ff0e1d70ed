// JSON and CSV forms of the SNR study's records (eval/snr_report.hpp).
#include <cmath>

#include <fmt/format.h>

#include "hessq/eval/snr_report.hpp"

namespace hessq::eval {

nlohmann::ordered_json snr_record_json(const SnrRecord& r) {
  nlohmann::ordered_json j = {{"layer", r.layer},
                              {"proj", r.proj},
                              {"method", r.method},
                              {"setting", r.setting},
                              {"rank", r.rank},
                              {"format", r.format},
                              {"snr_db", r.snr_db},
                              {"gain_db", r.gain_db},
                              {"m", r.m},
                              {"n", r.n},
                              {"extra_params", r.extra_params},
                              {"extra_params_pct", r.extra_params_pct}};
  j["alpha"] = std::isfinite(r.alpha) ? nlohmann::ordered_json(r.alpha) : nlohmann::ordered_json(nullptr);
  j["time_s"] = r.time_s;
  if (!r.svd.empty()) {
    j["svd"] = r.svd;
    j["eigh_s"] = r.eigh_s;
    j["svd_s"] = r.svd_s;
    j["rest_s"] = r.rest_s;
  }
  if (r.budget_rank >= 0) j["budget_rank"] = r.budget_rank;
  for (const auto& [k, v] : r.extra) j[k] = v;
  return j;
}

std::string snr_records_json(const std::vector<SnrRecord>& records) {
  nlohmann::ordered_json a = nlohmann::ordered_json::array();
  for (const SnrRecord& r : records) a.push_back(snr_record_json(r));
  return a.dump(1) + "\n";
}

std::string snr_report_json(const std::vector<SnrRecord>& records, const nlohmann::ordered_json& meta) {
  nlohmann::ordered_json j = meta;
  j["records"] = nlohmann::ordered_json::array();
  for (const SnrRecord& r : records) j["records"].push_back(snr_record_json(r));
  return j.dump(1) + "\n";
}

std::string snr_csv(const std::vector<SnrRecord>& records) {
  std::string o =
      "layer,proj,method,setting,rank,format,snr_db,gain_db,m,n,extra_params,extra_params_pct,alpha,time_s,svd,"
      "eigh_s,svd_s,rest_s,budget_rank\n";
  for (const SnrRecord& r : records)
    o += fmt::format("{},{},{},{},{},{},{:.6f},{:.6f},{},{},{},{:.4f},{},{:.6f},{},{:.6f},{:.6f},{:.6f},{}\n", r.layer,
                     r.proj, r.method, r.setting, r.rank, r.format, r.snr_db, r.gain_db, r.m, r.n, r.extra_params,
                     r.extra_params_pct, std::isfinite(r.alpha) ? fmt::format("{:.2f}", r.alpha) : "", r.time_s, r.svd,
                     r.eigh_s, r.svd_s, r.rest_s, r.budget_rank >= 0 ? std::to_string(r.budget_rank) : "");
  return o;
}

std::vector<std::string> snr_formats(const std::vector<SnrRecord>& records) {
  std::vector<std::string> f;
  for (const SnrRecord& r : records)
    if (std::find(f.begin(), f.end(), r.format) == f.end()) f.push_back(r.format);
  return f;
}

}  // namespace hessq::eval
