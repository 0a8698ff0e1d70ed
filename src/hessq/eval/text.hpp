// Evaluation and calibration text: a plain text file, or JSON lines (one object per line with a
// "text" field, as the C4 sample) joined by blank lines.
#pragma once
#include <string>

namespace hessq::eval {

// Throws hessq::Error naming the file when it is missing, unreadable, malformed JSONL or empty.
std::string read_text(const std::string& path);

}  // namespace hessq::eval
