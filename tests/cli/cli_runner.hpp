// Runs the hessq binary as a user would and captures stdout, stderr and the exit code.
#pragma once
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "test_util.hpp"

namespace hessq::test {

struct CliResult {
  int code = -1;
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// `args` is appended to the binary path as shell words (callers quote paths that need it); `env`
// ("NAME=value ...") is set for the command alone. A command killed by signal s exits with 128 + s.
inline CliResult run_hessq_env(const std::string& env, const std::string& args) {
  const TempDir dir("hessq_cli");  // holds the captured stdout / stderr; removed on return
  const std::string out = (dir / "out").string(), err = (dir / "err").string();
  const std::string cmd = env + " " + std::string(HESSQ_BINARY) + " " + args + " >" + out + " 2>" + err + " </dev/null";
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

inline CliResult run_hessq(const std::string& args) { return run_hessq_env("", args); }

// Every file of a .hessq output directory by name, with hessq.json's measured seconds and memory
// (its "timing" object and the rotation's "seconds") removed: what must be identical between two
// runs of the same command at any --threads.
inline std::map<std::string, std::string> output_files(const std::filesystem::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    files[e.path().filename().string()] = slurp(e.path().string());
  auto j = nlohmann::ordered_json::parse(files.at("hessq.json"));
  j.erase("timing");
  if (j["summary"].contains("rotation") && j["summary"]["rotation"].is_object()) j["summary"]["rotation"].erase("seconds");
  files["hessq.json"] = j.dump();
  return files;
}

}  // namespace hessq::test
