// Format names: parse_spec and QuantSpec::name (grammar in quant_spec.hpp). name() writes the
// modifiers in canonical order, so name(parse_spec(s)) == s for canonical s.
#include <cctype>
#include <string>
#include <vector>

#include "hessq/core/error.hpp"
#include "hessq/formats/ggml_types.hpp"
#include "hessq/formats/mx.hpp"
#include "hessq/formats/nvfp4.hpp"
#include "hessq/formats/quant_spec.hpp"

namespace hessq::formats {
namespace {

constexpr const char* kAccepted =
    "int<b>[-asym][-tensor|-tok|-g<N>][-clip] (b = 2..8), fp4[-tensor|-tok|-g<N>][-clip], "
    "fp8-e4m3|fp8-e5m2[-tensor|-tok|-g<N>], nvfp4, nvfp4-2d, nvfp4-ref (16x16 weight tiles), nvfp4-ref-1d, "
    "mxfp4, mxfp8, q4_0, q4_1, q5_0, q5_1, q8_0, q2_k, q3_k, q4_k, q5_k, q6_k (ggml's block types)";

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == '-') out.emplace_back();
    else out.back() += c;
  }
  return out;
}

bool all_digits(const std::string& s) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

[[noreturn]] void unknown(const std::string& name, const std::string& why) {
  HESSQ_FAIL("unknown quantization format '{}' ({}); accepted: {}", name, why, kAccepted);
}

std::string granularity_suffix(const QuantSpec& s) {
  switch (s.granularity) {
    case Granularity::PerTensor: return "-tensor";
    case Granularity::PerToken: return "-tok";
    case Granularity::PerGroup: return "-g" + std::to_string(s.group);
    default: return "";
  }
}

}  // namespace

QuantSpec parse_spec(const std::string& name) {
  // ggml's block types: their names in lower case ("q4_k"); they have no modifiers.
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (auto id = ggml_type_from_name(upper); id && name.size() > 1 && name[0] == 'q') {
    QuantSpec g;
    g.format = Format::Ggml;
    g.ggml_type = *id;
    g.granularity = Granularity::PerGroup;
    g.group = static_cast<int>(ggml_block_size(*id));
    HESSQ_CHECK(ggml_has_block_codec(*id), "quantization format '{}': ggml type {} is not one hessq quantizes; accepted: {}",
                name, upper, kAccepted);
    g.bits = name[1] - '0';  // nominal code width (q4_k: 4), for reports; bits_per_element counts the bytes
    validate(g);
    return g;
  }
  std::vector<std::string> tok = split(name);
  QuantSpec s;
  size_t i = 1;
  const std::string& base = tok[0];
  if (base.size() > 3 && base.compare(0, 3, "int") == 0 && all_digits(base.substr(3))) {
    s.format = Format::Int;
    s.bits = std::stoi(base.substr(3));
    HESSQ_CHECK(s.bits >= 2 && s.bits <= 8, "quantization format '{}': INT bits = {} out of range 2..8; accepted: {}",
                name, s.bits, kAccepted);
  } else if (base == "fp4") {
    s.format = Format::Fp4E2M1;
  } else if (base == "fp8" && tok.size() > 1 && (tok[1] == "e4m3" || tok[1] == "e5m2")) {
    s.format = tok[1] == "e4m3" ? Format::Fp8E4M3 : Format::Fp8E5M2;
    i = 2;
  } else if (base == "nvfp4") {
    s.format = Format::NvFp4;
    s.granularity = Granularity::PerGroup;
    s.group = kNvfp4Block;
  } else if (base == "mxfp4" || base == "mxfp8") {
    s.format = base == "mxfp4" ? Format::MxFp4 : Format::MxFp8;
    s.granularity = Granularity::PerGroup;
    s.group = kMxBlock;
  } else {
    unknown(name, "unknown base '" + base + "'");
  }
  s.bits = s.element_bits();

  const bool grouped = s.format != Format::NvFp4 && s.format != Format::MxFp4 && s.format != Format::MxFp8;
  bool seen_gran = false, seen_asym = false, seen_clip = false, seen_ref = false, seen_dim = false;
  bool tile = false;
  for (; i < tok.size(); ++i) {
    const std::string& t = tok[i];
    if (grouped && (t == "tensor" || t == "tok" || (t.size() > 1 && t[0] == 'g' && all_digits(t.substr(1))))) {
      if (seen_gran) unknown(name, "two granularities");
      seen_gran = true;
      if (t == "tensor") s.granularity = Granularity::PerTensor;
      else if (t == "tok") s.granularity = Granularity::PerToken;
      else {
        s.granularity = Granularity::PerGroup;
        s.group = std::stoi(t.substr(1));
        if (s.group < 1) unknown(name, "group size must be >= 1");
      }
    } else if (t == "asym" && s.format == Format::Int && !seen_asym) {
      seen_asym = true;
      s.symmetric = false;
    } else if (t == "clip" && (s.format == Format::Int || s.format == Format::Fp4E2M1) && !seen_clip) {
      seen_clip = true;
      s.clip_search = true;
    } else if (t == "ref" && s.format == Format::NvFp4 && !seen_ref) {
      seen_ref = true;
      s.nvfp4_ref = true;
    } else if ((t == "1d" || t == "2d") && s.format == Format::NvFp4 && !seen_dim) {
      seen_dim = true;
      tile = t == "2d";
    } else {
      unknown(name, "unexpected '" + t + "'");
    }
  }
  if (s.format == Format::NvFp4) {
    // "nvfp4" is 1x16 unless -2d; "nvfp4-ref" is the weight side of the reference mode: tiles unless -1d.
    const bool use_tiles = seen_dim ? tile : s.nvfp4_ref;
    s.granularity = use_tiles ? Granularity::Tile2D : Granularity::PerGroup;
  }
  validate(s);
  return s;
}

std::string QuantSpec::name() const {
  validate(*this);
  switch (format) {
    case Format::Int:
      return "int" + std::to_string(bits) + (symmetric ? "" : "-asym") + granularity_suffix(*this) +
             (clip_search ? "-clip" : "");
    case Format::Fp4E2M1: return "fp4" + granularity_suffix(*this) + (clip_search ? "-clip" : "");
    case Format::Fp8E4M3: return "fp8-e4m3" + granularity_suffix(*this);
    case Format::Fp8E5M2: return "fp8-e5m2" + granularity_suffix(*this);
    case Format::NvFp4: {
      const bool tiles = granularity == Granularity::Tile2D;
      return nvfp4_ref ? (tiles ? "nvfp4-ref" : "nvfp4-ref-1d") : (tiles ? "nvfp4-2d" : "nvfp4");
    }
    case Format::MxFp4: return "mxfp4";
    case Format::MxFp8: return "mxfp8";
    case Format::Ggml: {
      std::string n = ggml_type_name(ggml_type);
      for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return n;
    }
  }
  HESSQ_FAIL("unknown numeric format id {}", static_cast<int>(format));
}

}  // namespace hessq::formats
