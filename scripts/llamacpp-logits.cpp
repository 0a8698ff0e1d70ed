// A peer's forward pass for scripts/check-gguf-llamacpp: llama.cpp (built outside this repository)
// loads a GGUF file and evaluates the token ids hessq evaluated, in one batch, and the result is
// compared with hessq's logits:
//   llamacpp-logits MODEL.gguf TOKENS.npy LOGITS.npy TEXT
// TOKENS.npy / LOGITS.npy: `hessq eval --tokens-out / --logits-out` of the same model and TEXT
// (int32 [n], float32 [n, vocab]). Prints one JSON object: tokens, vocab, whether llama.cpp's own
// tokenization of TEXT starts with hessq's ids, max |hessq - llama.cpp| over every position and
// logit, that over the range of llama.cpp's logits, the share of positions whose argmax agrees, and
// both mean NLLs of the next token. Compiled by the script against llama.cpp; not part of hessq.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "llama.h"

static std::vector<char> slurp(const char* path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "llamacpp-logits: cannot read %s\n", path);
    std::exit(1);
  }
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// The data of a version 1 .npy file (magic, version, u16 header length, header, data).
template <class T>
static std::vector<T> npy_data(const char* path) {
  const std::vector<char> b = slurp(path);
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0) {
    std::fprintf(stderr, "llamacpp-logits: %s is not a .npy file\n", path);
    std::exit(1);
  }
  const size_t header = 10 + static_cast<uint8_t>(b[8]) + 256 * static_cast<uint8_t>(b[9]);
  std::vector<T> v((b.size() - header) / sizeof(T));
  std::memcpy(v.data(), b.data() + header, v.size() * sizeof(T));
  return v;
}

static double nll(const float* l, int vocab, int next) {
  const float mx = *std::max_element(l, l + vocab);
  double s = 0;
  for (int i = 0; i < vocab; ++i) s += std::exp(static_cast<double>(l[i]) - mx);
  return std::log(s) + mx - l[next];
}

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: llamacpp-logits MODEL.gguf TOKENS.npy LOGITS.npy TEXT\n");
    return 2;
  }
  const std::vector<int32_t> toks = npy_data<int32_t>(argv[2]);
  const std::vector<float> ours = npy_data<float>(argv[3]);
  const std::vector<char> text = slurp(argv[4]);
  const int n = static_cast<int>(toks.size());

  llama_backend_init();
  llama_model* model = llama_model_load_from_file(argv[1], llama_model_default_params());
  if (!model) {
    std::fprintf(stderr, "llamacpp-logits: llama.cpp could not load %s\n", argv[1]);
    return 1;
  }
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = cp.n_batch = cp.n_ubatch = static_cast<uint32_t>(std::max(n, 32));
  // llama.cpp keeps K and V in F16 by default and its flash attention rounds Q to F16; F32 and plain
  // attention make the comparison one of the forward passes alone.
  cp.type_k = cp.type_v = GGML_TYPE_F32;
  cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;  // its CPU kernel rounds Q to F16
  llama_context* ctx = llama_init_from_model(model, cp);
  const llama_vocab* vocab = llama_model_get_vocab(model);
  const int n_vocab = llama_vocab_n_tokens(vocab);
  if (ours.size() != static_cast<size_t>(n) * n_vocab) {
    std::fprintf(stderr, "llamacpp-logits: %s holds %zu values, expected %d tokens x %d\n", argv[3], ours.size(), n,
                 n_vocab);
    return 1;
  }

  std::vector<llama_token> own(text.size() + 8);
  const int n_own = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), own.data(),
                                   static_cast<int32_t>(own.size()), true, false);
  bool same_tokens = n_own >= n;
  for (int i = 0; same_tokens && i < n; ++i) same_tokens = own[i] == toks[i];

  llama_batch batch = llama_batch_init(n, 0, 1);
  for (int i = 0; i < n; ++i) {
    batch.token[i] = toks[i];
    batch.pos[i] = i;
    batch.n_seq_id[i] = 1;
    batch.seq_id[i][0] = 0;
    batch.logits[i] = 1;
  }
  batch.n_tokens = n;
  if (llama_decode(ctx, batch) != 0) {
    std::fprintf(stderr, "llamacpp-logits: llama_decode failed\n");
    return 1;
  }
  double max_diff = 0, lo = 1e30, hi = -1e30, nll_ours = 0, nll_peer = 0;
  int agree = 0;
  for (int i = 0; i < n; ++i) {
    const float* p = llama_get_logits_ith(ctx, i);
    const float* q = ours.data() + static_cast<size_t>(i) * n_vocab;
    for (int v = 0; v < n_vocab; ++v) {
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(p[v]) - q[v]));
      lo = std::min(lo, static_cast<double>(p[v]));
      hi = std::max(hi, static_cast<double>(p[v]));
    }
    agree += std::max_element(p, p + n_vocab) - p == std::max_element(q, q + n_vocab) - q;
    if (i + 1 < n) nll_ours += nll(q, n_vocab, toks[i + 1]), nll_peer += nll(p, n_vocab, toks[i + 1]);
  }
  std::printf("{\"tokens\": %d, \"vocab\": %d, \"same_tokenization\": %s, \"max_abs_diff\": %.6g, "
              "\"logit_range\": %.6g, \"max_rel_diff\": %.3g, \"argmax_agree\": %.4f, \"nll_hessq\": %.6f, "
              "\"nll_llamacpp\": %.6f}\n",
              n, n_vocab, same_tokens ? "true" : "false", max_diff, hi - lo, max_diff / (hi - lo),
              static_cast<double>(agree) / n, nll_ours / std::max(1, n - 1), nll_peer / std::max(1, n - 1));
  llama_batch_free(batch);
  llama_free(ctx);
  llama_model_free(model);
  return 0;
}
