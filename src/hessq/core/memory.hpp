// This process's memory, read from /proc (Linux): for progress lines, reports, and checking that a
// configured buffer fits before long work starts.
#pragma once
#include <cstdint>
#include <string>

namespace hessq {

int64_t current_rss_bytes();    // VmRSS (0 if unknown)
int64_t peak_rss_bytes();       // VmHWM (0 if unknown)
int64_t available_memory_bytes();  // MemAvailable of /proc/meminfo (0 if unknown)
std::string gib_str(int64_t bytes);  // "3.21 GiB"

}  // namespace hessq
