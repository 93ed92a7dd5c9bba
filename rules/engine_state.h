#pragma once
// Internal to rules/: helpers for the engines' save_state() / restore_state() JSON.

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

}  // namespace scanwatch::rules::detail
