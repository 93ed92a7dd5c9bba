#include "rules/engine_state.h"

#include "parsers/hex.h"

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
    for (const auto& item : items) out.push_back(unhex(item.get<std::string>()));
    return out;
}

}  // namespace scanwatch::rules::detail
