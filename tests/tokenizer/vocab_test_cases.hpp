// llama.cpp tokenizer test vectors (shared/vocab/*/ggml-vocab-*.gguf.inp/.out): the .inp file holds
// the cases, each followed by "\n__ggml_vocab_test__\n"; the .out file has one line per case with
// the expected ids (no BOS), space-separated.
#pragma once
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace hessq::test {

struct VocabCase {
  std::string text;
  std::vector<int> ids;
};

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<VocabCase> read_vocab_cases(const std::string& gguf_path) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::string inp = read_all(gguf_path + ".inp"), out = read_all(gguf_path + ".out");
  std::vector<VocabCase> cases;
  for (size_t pos = 0, end; (end = inp.find(sep, pos)) != std::string::npos; pos = end + sep.size())
    cases.push_back({inp.substr(pos, end - pos), {}});
  std::istringstream lines(out);
  std::string line;
  for (VocabCase& c : cases) {
    EXPECT_TRUE(std::getline(lines, line)) << "fewer .out lines than .inp cases";
    std::istringstream ids(line);
    for (int id; ids >> id;) c.ids.push_back(id);
  }
  EXPECT_FALSE(std::getline(lines, line)) << "more .out lines than .inp cases";
  return cases;
}

}  // namespace hessq::test
