// Decode and prefill speed of one model file (fp32 checkpoint or .hessq), with the resident memory and
// the machine's read bandwidth measured in the same process:
//   bench_decode MODEL [--tokens N] [--prefill P] [--label TEXT] [--exact 1]
// (--exact 1: packed INT layers decode with fp32 activations, --int8-activations off)
// prints one JSON object:
//   read_Bps          streaming sum over a 1 GiB buffer on every thread (bytes read per second)
//   weight_bytes      bytes of weights one decode step reads: every block linear as stored (packed
//                     bytes for a quantized one, fp32 otherwise) plus the output head
//   decode_tok_s      tokens per second, one token per call through the KV cache (after a 16-token
//                     prompt), median of 5 runs of N tokens
//   roofline          weight_bytes x decode_tok_s / read_Bps: the fraction of the read bandwidth used
//   prefill_tok_s     P tokens per call, median of 3
//   rss_loaded / rss_peak  VmRSS after loading, VmHWM at the end (bytes)
//   decode_ms         wall milliseconds per decoded token by part (model/forward_profile.hpp), over all runs
// One model per process, so the memory figures are that model's. scripts/results-packed.sh runs it.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hessq/core/memory.hpp"
#include "memory_read.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/kernels/gemm_f32.hpp"
#include "hessq/model/forward_profile.hpp"
#include "hessq/model/quantized_linear.hpp"
#include "hessq/model/transformer.hpp"

namespace {

using namespace hessq;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Streaming read of a 1 GiB buffer on every thread (each its own slice), median of 5.
double read_bandwidth() {
  const std::vector<uint64_t> a((size_t{1} << 30) / sizeof(uint64_t), 1);
  std::vector<double> runs;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = Clock::now();
    const uint64_t s = bench::read_all(a);
    const double t = seconds_since(t0);
    if (s != a.size()) std::fprintf(stderr, "bad sum\n");
    runs.push_back(static_cast<double>(a.size() * sizeof(uint64_t)) / t);
  }
  std::sort(runs.begin(), runs.end());
  return runs[runs.size() / 2];
}

double linear_bytes(const model::Linear& lin) {
  if (auto* q = dynamic_cast<const model::QuantizedLinear*>(&lin)) return static_cast<double>(q->packed_bytes());
  return 4.0 * lin.in_features() * lin.out_features();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_decode MODEL [--tokens N] [--prefill P] [--label TEXT] [--exact 1]\n");
    return 2;
  }
  const std::string path = argv[1];
  int tokens = 128, prefill = 512;
  std::string label = path;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--tokens")) tokens = std::stoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--prefill")) prefill = std::stoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--label")) label = argv[i + 1];
    else if (!std::strcmp(argv[i], "--exact")) model::set_int8_activations(std::stoi(argv[i + 1]) ? model::Int8Activations::Off : model::Int8Activations::Auto);
  }
  const kernels::SerialBlas serial;  // as the CLI runs (kernels/gemm_f32.hpp)
  const model::Model m = io::load_model(path);
  const int64_t rss_loaded = current_rss_bytes();
  double weight_bytes = linear_bytes(*m.lm_head);
  for (const auto& L : m.layers)
    for (model::Proj p : model::kAllProjs) weight_bytes += linear_bytes(L.linear(p));

  model::Transformer tr(m, 16 + tokens + 1);
  std::vector<int> prompt(16);
  std::iota(prompt.begin(), prompt.end(), 1);
  std::vector<double> decode;
  model::ForwardProfile profile;
  for (int run = 0; run < 5; ++run) {
    tr.reset();
    tr.set_profile(nullptr);
    tr.forward(prompt.data(), static_cast<int>(prompt.size()), false);
    tr.set_profile(&profile);
    int tok = 100;
    const auto t0 = Clock::now();
    for (int t = 0; t < tokens; ++t) {
      const float* logits = tr.forward(&tok, 1, false);
      tok = static_cast<int>(std::max_element(logits, logits + m.cfg.vocab_size) - logits);
    }
    decode.push_back(tokens / seconds_since(t0));
  }
  std::vector<double> pre;
  if (prefill > 0) {
    model::Transformer tp(m, prefill);
    std::vector<int> toks(prefill);
    for (int i = 0; i < prefill; ++i) toks[i] = (i * 7919) % m.cfg.vocab_size;
    for (int run = 0; run < 3; ++run) {
      tp.reset();
      const auto t0 = Clock::now();
      tp.forward(toks.data(), prefill, false);
      pre.push_back(prefill / seconds_since(t0));
    }
  }
  const double dec = median(decode);
  const int64_t rss_peak = peak_rss_bytes();
  const double read_Bps = read_bandwidth();  // after the peak is read: its 1 GiB buffer is not the model's
  nlohmann::ordered_json j;
  j["label"] = label;
  j["model"] = path;
  j["read_Bps"] = read_Bps;
  j["weight_bytes"] = weight_bytes;
  j["decode_tok_s"] = dec;
  j["roofline"] = weight_bytes * dec / read_Bps;
  j["prefill_tok_s"] = pre.empty() ? 0.0 : median(pre);
  j["rss_loaded"] = rss_loaded;
  j["rss_peak"] = rss_peak;
  for (int part = 0; part < model::ForwardProfile::kParts; ++part)
    j["decode_ms"][model::ForwardProfile::kNames[part]] = 1e3 * profile.seconds[part] / (5.0 * tokens);
  std::printf("%s\n", j.dump().c_str());
  return 0;
}
