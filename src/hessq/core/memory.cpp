#include "hessq/core/memory.hpp"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace hessq {

// The value in kB of the line starting with `key` in `file`, in bytes; 0 if absent.
static int64_t proc_kb(const char* file, const std::string& key) {
  std::ifstream f(file);
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) {
      std::istringstream in(line.substr(key.size()));
      int64_t kb = 0;
      in >> kb;
      return kb * 1024;
    }
  return 0;
}

int64_t current_rss_bytes() { return proc_kb("/proc/self/status", "VmRSS:"); }
int64_t peak_rss_bytes() { return proc_kb("/proc/self/status", "VmHWM:"); }
int64_t available_memory_bytes() { return proc_kb("/proc/meminfo", "MemAvailable:"); }

std::string gib_str(int64_t bytes) { return fmt::format("{:.2f} GiB", static_cast<double>(bytes) / (1 << 30)); }

}  // namespace hessq
