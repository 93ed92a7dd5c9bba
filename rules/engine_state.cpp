#include "rules/engine_state.h"

namespace scanwatch::rules::detail {

std::string hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        out += digits[u >> 4U];
        out += digits[u & 0xFU];
    }
    return out;
}

std::string unhex(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
        out += static_cast<char>(std::stoi(text.substr(i, 2), nullptr, 16));
    }
    return out;
}

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
