#include "rules/engines/engine_state.h"

#include <limits>
#include <stdexcept>

#include "parsers/ecs/hex.h"

namespace scanwatch::rules::detail {

std::string hex(std::string_view bytes) { return to_hex(bytes); }

std::string unhex(const std::string& text) { return from_hex(text); }

nlohmann::json hex_list(const std::vector<std::string>& items) {
    auto out = nlohmann::json::array();
    for (const auto& item : items) out.push_back(hex(item));
    return out;
}

std::vector<std::string> unhex_list(const nlohmann::json& items) {
    std::vector<std::string> out;
    if (!items.is_array()) throw std::invalid_argument("not an array");
    for (const auto& item : items) out.push_back(unhex(item.get<std::string>()));
    return out;
}

std::int64_t get_int64(const nlohmann::json& j) {
    if (j.is_number_unsigned()) {
        const auto v = j.get<std::uint64_t>();
        if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            throw std::invalid_argument("integer out of range");
        return static_cast<std::int64_t>(v);
    }
    if (!j.is_number_integer()) throw std::invalid_argument("not an integer");
    return j.get<std::int64_t>();
}

std::uint64_t get_uint64(const nlohmann::json& j) {
    if (!j.is_number_unsigned()) throw std::invalid_argument("not a non-negative integer");
    return j.get<std::uint64_t>();
}

}  // namespace scanwatch::rules::detail
