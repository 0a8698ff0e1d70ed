// Typed fields of the JSON files hessq reads (hessq.json manifests and their records): a missing
// field, a value of another JSON type, or an integer field holding a float or an out-of-range
// number is a hessq::Error naming the source and key. (nlohmann's get<int>() converts 1e125 to int
// without a check: undefined behaviour, found by fuzz_hessq_manifest.)
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "hessq/core/error.hpp"

namespace hessq::io {

namespace detail {

template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};

// An integer field (not bool) must be a JSON integer within T's range.
template <class T>
void check_integer(const nlohmann::json& v, const std::string& source, const char* key) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    const bool in_range =
        (v.is_number_unsigned() && v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max())) ||
        (v.is_number_integer() && !v.is_number_unsigned() &&
         v.get<int64_t>() >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
         (std::is_unsigned_v<T> ? v.get<int64_t>() >= 0
                                : v.get<int64_t>() <= static_cast<int64_t>(std::numeric_limits<T>::max())));
    HESSQ_CHECK(in_range, "{}: field \"{}\" must hold integers in [{}, {}], got {}", source, key,
                std::numeric_limits<T>::min(), std::numeric_limits<T>::max(), v.dump());
  }
}

}  // namespace detail

template <class T>
T json_field(const nlohmann::json& j, const char* key, const std::string& source) {
  HESSQ_CHECK(j.is_object() && j.contains(key), "{}: missing field \"{}\"", source, key);
  const nlohmann::json& v = j.at(key);
  if constexpr (detail::IsVector<T>::value) {
    HESSQ_CHECK(v.is_array(), "{}: field \"{}\" must be an array, got {}", source, key, v.dump());
    for (const nlohmann::json& e : v) detail::check_integer<typename T::value_type>(e, source, key);
  } else {
    detail::check_integer<T>(v, source, key);
  }
  try {
    return v.get<T>();
  } catch (const nlohmann::json::exception&) {
    HESSQ_FAIL("{}: field \"{}\" has the wrong type ({})", source, key, v.dump());
  }
}

}  // namespace hessq::io
