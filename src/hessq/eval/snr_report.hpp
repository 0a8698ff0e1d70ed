// Writers for the layer-wise SNR study (eval/layer_snr.hpp): the records as a JSON list, a JSON
// report with provenance, CSV, Markdown tables (means per rank, ARHQ vs SVDQuant per projection
// type, means per projection type and rank, the extras against plain ARHQ, time per linear, and the
// full per layer x projection table) and an SVG chart of mean SNR vs rank per method.
//
// Means at a rank are taken over the linears that have low-rank records at that rank (a rank >=
// min(m, n) skips a linear), and baseline / SmoothQuant are averaged over the same linears.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hessq/eval/layer_snr.hpp"

namespace hessq::eval {

nlohmann::ordered_json snr_record_json(const SnrRecord& r);
std::string snr_records_json(const std::vector<SnrRecord>& records);  // [ {...}, ... ]
std::string snr_report_json(const std::vector<SnrRecord>& records, const nlohmann::ordered_json& meta);
std::string snr_csv(const std::vector<SnrRecord>& records);

std::vector<std::string> snr_formats(const std::vector<SnrRecord>& records);  // in first-seen order

// The summary tables for every format (what `hessq snr` prints on stdout).
std::string snr_summary_markdown(const std::vector<SnrRecord>& records);
// The full table: one row per layer x projection x rank.
std::string snr_per_linear_markdown(const std::vector<SnrRecord>& records);
// A whole document: title, the command, summary and per-linear tables.
std::string snr_markdown(const std::vector<SnrRecord>& records, const std::string& title, const std::string& command);

// Mean held-out SNR vs rank per method/setting for one format (baseline and SmoothQuant dashed).
std::string snr_chart_svg(const std::vector<SnrRecord>& records, const std::string& format);

}  // namespace hessq::eval
