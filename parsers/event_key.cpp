#include "parsers/event_key.h"

#include <fmt/format.h>

namespace scanwatch::parsers {

std::string record_event_key(std::string_view record) {
    std::string_view node;
    if (record.rfind("node=", 0) == 0) {
        const std::size_t sp = record.find(' ');
        node = record.substr(5, sp == std::string_view::npos ? sp : sp - 5);
    }
    constexpr std::string_view kMsg = "msg=audit(";
    const std::size_t at = record.find(kMsg);
    if (at == std::string_view::npos) return {};
    const std::size_t begin = at + kMsg.size();
    const std::size_t end = record.find(')', begin);
    if (end == std::string_view::npos) return {};
    std::string key(node);
    key += ' ';
    key.append(record.substr(begin, end - begin));
    return key;
}

std::string event_key(auparse_state_t* au) {
    const au_event_t* e = auparse_get_timestamp(au);
    if (e == nullptr) return {};
    return fmt::format("{} {}.{:03}:{}", e->host == nullptr ? "" : e->host,
                       static_cast<long long>(e->sec), e->milli, e->serial);
}

}  // namespace scanwatch::parsers
