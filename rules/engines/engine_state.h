#pragma once
// Internal to rules/: helpers for the engines' save_state() / restore_state() JSON.

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace scanwatch::rules::detail {

/// Lowercase hex of `bytes`. Group-by values, arguments and command lines are bytes, not
/// necessarily UTF-8: hex keeps the JSON valid.
std::string hex(std::string_view bytes);

/// The bytes of hex `text`; throws std::invalid_argument on a non-hex digit (restore_state()
/// catches it and starts empty).
std::string unhex(const std::string& text);

/// hex() of each item, as a JSON array.
nlohmann::json hex_list(const std::vector<std::string>& items);

/// unhex() of each item of a JSON array of strings.
std::vector<std::string> unhex_list(const nlohmann::json& items);

/// `j` as an int64; throws std::invalid_argument unless it is a JSON integer in range (a float,
/// or a number over INT64_MAX, would be undefined behaviour through nlohmann's conversion).
std::int64_t get_int64(const nlohmann::json& j);

/// `j` as a uint64; throws std::invalid_argument unless it is a non-negative JSON integer.
std::uint64_t get_uint64(const nlohmann::json& j);

/// An engine's restore_state(): runs `apply` (reads its fields from `state` and sets them, or
/// returns false when they do not fit) on a state saved by engine `engine`. False for another
/// engine's state, and when reading throws (a state from another version, or damaged).
template <typename Apply>
bool restore_engine(const nlohmann::json& state, const char* engine, Apply apply) {
    try {
        if (!state.is_object() || state.at("engine") != engine) return false;
        return apply();
    } catch (const std::exception&) {
        return false;  // start empty
    }
}

}  // namespace scanwatch::rules::detail
