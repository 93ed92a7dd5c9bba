#include "parsers/event_key.h"

#include <fmt/format.h>

namespace scanwatch::parsers {
namespace {

// A decimal number as the kernel prints it: no sign, no leading zero, at most `max_digits`.
bool canonical_number(std::string_view s, std::size_t max_digits) {
    if (s.empty() || s.size() > max_digits || (s.size() > 1 && s[0] == '0')) return false;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

}  // namespace

std::string_view audit_stamp(std::string_view record) {
    constexpr std::string_view kMsg = "msg=audit(";
    const std::size_t at = record.find(kMsg);
    if (at == std::string_view::npos) return {};
    const std::string_view stamp = record.substr(at + kMsg.size());
    const std::size_t close = stamp.find(')');
    if (close == std::string_view::npos) return {};
    const std::string_view inner = stamp.substr(0, close);
    const std::size_t dot = inner.find('.');
    // Milliseconds: exactly three digits (canonical_number would refuse "005").
    if (dot == std::string_view::npos || inner.size() < dot + 5 || inner[dot + 4] != ':') return {};
    for (std::size_t i = dot + 1; i < dot + 4; ++i) {
        if (inner[i] < '0' || inner[i] > '9') return {};
    }
    if (!canonical_number(inner.substr(0, dot), 12) ||
        !canonical_number(inner.substr(dot + 5), 19)) {
        return {};
    }
    return inner;
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
