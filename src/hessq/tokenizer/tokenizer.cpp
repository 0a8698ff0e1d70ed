#include "hessq/tokenizer/tokenizer.hpp"

#include <filesystem>

#include "hessq/core/error.hpp"
#include "hessq/tokenizer/gguf_tokenizer.hpp"
#include "hessq/tokenizer/hf_tokenizer.hpp"
#include "hessq/tokenizer/llama2c_tokenizer.hpp"
#include "hessq/tokenizer/sentencepiece_tokenizer.hpp"

namespace hessq::tokenizer {

namespace fs = std::filesystem;

std::string Tokenizer::decode(const std::vector<int>& ids) const {
  std::string out;
  int prev = -1;
  for (int id : ids) {
    out += decode_piece(prev, id);
    prev = id;
  }
  return out;
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  HESSQ_CHECK(fs::exists(path), "{}: no such file", path);
  if (fs::is_directory(path)) {
    // HF model directory: a byte-level tokenizer.json, else SentencePiece's tokenizer.model (Llama-2
    // style directories ship both, with a tokenizer.json that is not byte-level).
    std::string json = (fs::path(path) / "tokenizer.json").string();
    std::string model = (fs::path(path) / "tokenizer.model").string();
    bool has_json = fs::exists(json), has_model = fs::exists(model);
    if (has_json && (!has_model || is_byte_level_bpe(json))) return load_hf_tokenizer(json);
    if (has_model) return SentencePieceTokenizer::load(model);
    HESSQ_FAIL("{}: directory has neither tokenizer.json nor tokenizer.model", path);
  }
  std::string ext = fs::path(path).extension().string();
  if (ext == ".bin") return Llama2cTokenizer::load(path);
  if (ext == ".model") return SentencePieceTokenizer::load(path);
  if (ext == ".json") return load_hf_tokenizer(path);
  if (ext == ".gguf") return load_gguf_tokenizer(path);
  HESSQ_FAIL("{}: unknown tokenizer file type '{}' (expected .bin, .model, .json, .gguf or a directory)", path, ext);
}

std::unique_ptr<Tokenizer> load_tokenizer_for_model(const std::string& path, int model_vocab_size) {
  HESSQ_CHECK(model_vocab_size > 0, "{}: model vocab_size must be > 0, got {}", path, model_vocab_size);
  HESSQ_CHECK(fs::exists(path), "{}: no such file", path);
  if (!fs::is_directory(path) && fs::path(path).extension() == ".bin")
    return Llama2cTokenizer::load(path, model_vocab_size);  // exact count, checked while reading
  std::unique_ptr<Tokenizer> tok = load_tokenizer(path);
  HESSQ_CHECK(tok->vocab_size() <= model_vocab_size,
              "{}: the tokenizer's vocabulary size {} is larger than the model's vocab_size {}: ids {}..{} have no "
              "embedding row (a tokenizer for another model?)",
              path, tok->vocab_size(), model_vocab_size, model_vocab_size, tok->vocab_size() - 1);
  return tok;
}

}  // namespace hessq::tokenizer
