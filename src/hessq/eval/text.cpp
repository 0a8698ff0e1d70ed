#include "hessq/eval/text.hpp"

#include <fstream>
#include <iterator>
#include <sstream>

#include <nlohmann/json.hpp>

#include "hessq/core/error.hpp"

namespace hessq::eval {

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  HESSQ_CHECK(f.good(), "{}: cannot open text file", path);
  std::string raw((std::istreambuf_iterator<char>(f)), {});
  std::string text;
  if (path.ends_with(".jsonl")) {
    std::istringstream lines(raw);
    std::string line;
    for (int lineno = 1; std::getline(lines, line); ++lineno) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto j = nlohmann::json::parse(line, nullptr, false);
      HESSQ_CHECK(!j.is_discarded() && j.is_object() && j.contains("text") && j["text"].is_string(),
                  "{}:{}: expected a JSON object with a string field \"text\"", path, lineno);
      if (!text.empty()) text += "\n\n";
      text += j["text"].get<std::string>();
    }
  } else {
    text = std::move(raw);
  }
  HESSQ_CHECK(!text.empty(), "{}: the text is empty", path);
  return text;
}

}  // namespace hessq::eval
