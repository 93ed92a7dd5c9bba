#include "parsers/event_key.h"

#include <fmt/format.h>

namespace scanwatch::parsers {
std::string_view audit_stamp(std::string_view record) {
    constexpr std::string_view kMsg = "msg=audit(";
    const std::size_t at = record.find(kMsg);
    if (at == std::string_view::npos) return {};
    // One pass over "SECONDS.MMM:SERIAL)": it runs on every line.
    const char* const begin = record.data() + at + kMsg.size();
    const char* const end = record.data() + record.size();
    const auto digits = [end](const char* p) {
        while (p < end && *p >= '0' && *p <= '9') ++p;
        return p;
    };
    // Seconds: 1 to 12 digits, no leading zero; then '.'.
    const char* const dot = digits(begin);
    const auto seconds = static_cast<std::size_t>(dot - begin);
    if (dot == end || *dot != '.' || seconds == 0 || seconds > 12 ||
        (seconds > 1 && *begin == '0')) {
        return {};
    }
    // Milliseconds: exactly three digits, then ':'.
    if (end - dot < 5 || digits(dot + 1) != dot + 4 || dot[4] != ':') return {};
    // Serial: 1 to 19 digits, no leading zero; then ')'.
    const char* const serial = dot + 5;
    const char* const close = digits(serial);
    const auto serial_digits = static_cast<std::size_t>(close - serial);
    if (close == end || *close != ')' || serial_digits == 0 || serial_digits > 19 ||
        (serial_digits > 1 && *serial == '0')) {
        return {};
    }
    return std::string_view(begin, static_cast<std::size_t>(close - begin));
}

std::string record_event_key(std::string_view record) {
    std::string_view node;
    if (record.rfind("node=", 0) == 0) {
        const std::size_t sp = record.find(' ');
        node = record.substr(5, sp == std::string_view::npos ? sp : sp - 5);
    }
    const std::string_view stamp = audit_stamp(record);
    if (stamp.empty()) return {};
    std::string key(node);
    key += ' ';
    key.append(stamp);
    return key;
}

std::string event_key(auparse_state_t* au) {
    const au_event_t* e = auparse_get_timestamp(au);
    if (e == nullptr) return {};
    return fmt::format("{} {}.{:03}:{}", e->host == nullptr ? "" : e->host,
                       static_cast<long long>(e->sec), e->milli, e->serial);
}

}  // namespace scanwatch::parsers
