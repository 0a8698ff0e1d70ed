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

}  // namespace hessq::tokenizer
