#include "hessq/pipeline/dump.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "hessq/io/npy.hpp"

namespace hessq::pipeline {

Dumper::Dumper(const std::string& dir) : out_(std::make_unique<AtomicDir>(dir)) {}

void Dumper::add(const LinearDump& d, const formats::QuantSpec& spec) {
  const std::filesystem::path tmp(out_->tmp_path());
  auto write = [&](const std::string& file, const methods::MatF& M) {
    io::write_npy((tmp / file).string(), M.data(), {M.rows(), M.cols()});
    return file;
  };
  const std::string stem = fmt::format("blk{}.{}", d.layer, model::proj_name(d.proj));
  const std::string key = fmt::format("{}/{}", d.layer, model::input_name(d.input));
  if (!x_files_.count(key)) x_files_[key] = write(fmt::format("blk{}.{}.x.npy", d.layer, model::input_name(d.input)), d.X);
  nlohmann::ordered_json e;
  e["layer"] = d.layer;
  e["proj"] = model::proj_name(d.proj);
  e["name"] = model::linear_name(d.layer, d.proj);
  e["format"] = spec.name();
  e["w"] = write(stem + ".w.npy", d.W);
  e["x_calib"] = x_files_[key];
  e["w_q"] = write(stem + ".w_q.npy", d.W_q);
  linears_.push_back(std::move(e));
}

void Dumper::commit() {
  const std::filesystem::path tmp(out_->tmp_path());
  nlohmann::ordered_json j;
  j["linears"] = linears_;
  write_file_atomic((tmp / "manifest.json").string(), j.dump(2) + "\n");
  out_->commit();
}

}  // namespace hessq::pipeline
