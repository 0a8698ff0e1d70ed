// Running the pipeline in tests: a recipe from a method name and flags (as `hessq quantize --method`
// builds it), and a run into an in-memory model.
#pragma once
#include <string>

#include "hessq/io/tensor_store.hpp"
#include "hessq/pipeline/driver.hpp"
#include "hessq/pipeline/recipe.hpp"

namespace hessq::test {

// `method` ("arhq+gptq"), an optional layer `format` (nvfp4, int4, ...), the branch rank, SmoothQuant
// first; without a format the weights are `weight` (a formats name, e.g. int4-asym-g32).
inline pipeline::Recipe recipe(const std::string& method, const std::string& format = "", int rank = 0,
                               bool smooth = false, const std::string& weight = "") {
  pipeline::Recipe r = pipeline::recipe_for_method(smooth ? "smoothquant+" + method : method);
  for (pipeline::Pass& p : r.passes)
    if (pipeline::find_pass(p.name)->scope == pipeline::PassScope::Branch)
      pipeline::set_param(p, "rank", pipeline::ParamValue(int64_t{rank}), "test");
  pipeline::set_formats(r, format, weight, "", "test");
  pipeline::validate_recipe(r);
  return r;
}

struct Run {
  pipeline::QuantizeReport report;
  model::Model model;
  std::map<std::string, nlohmann::ordered_json> diagnostics;
};

inline Run run_pipeline(const model::Model& m, const pipeline::Recipe& r, const calib::Windows& w) {
  const io::TensorStore src = io::tensor_store_of(m);
  pipeline::ModelSink sink(m.cfg);
  pipeline::QuantizeOptions opt;
  opt.progress = false;
  Run out;
  out.report = pipeline::quantize(src, r, w, sink, opt);
  out.model = std::move(sink.model);
  out.model.source = m.source;
  out.diagnostics = std::move(sink.diagnostics);
  return out;
}

}  // namespace hessq::test
