#include "agent/outputs/output_spec.h"

#include <sys/un.h>

#include <array>
#include <charconv>

#include <fmt/format.h>

namespace scanwatch::agent {
namespace {

constexpr std::size_t kMaxBacklogOption = 10'000'000;

struct FacilityName {
    std::string_view name;
    int code;
};

constexpr std::array<FacilityName, 20> kFacilities{{
    {"kern", 0},      {"user", 1},    {"mail", 2},    {"daemon", 3},  {"auth", 4},
    {"syslog", 5},    {"lpr", 6},     {"news", 7},    {"uucp", 8},    {"cron", 9},
    {"authpriv", 10}, {"ftp", 11},    {"local0", 16}, {"local1", 17}, {"local2", 18},
    {"local3", 19},   {"local4", 20}, {"local5", 21}, {"local6", 22}, {"local7", 23},
}};

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

bool is_syslog_text(std::string_view text) {
    return text == "syslog" || starts_with(text, "syslog:") || starts_with(text, "syslog?");
}

template <typename T>
bool parse_number(std::string_view text, T& out) {
    if (text.empty()) return false;
    const auto res = std::from_chars(text.data(), text.data() + text.size(), out);
    return res.ec == std::errc() && res.ptr == text.data() + text.size();
}

bool parse_host_port(std::string_view text, OutputSpec& t, std::string& error) {
    std::string_view host;
    std::string_view port;
    if (starts_with(text, "[")) {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            error = fmt::format("'{}' is not [IPV6]:PORT", text);
            return false;
        }
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            error = fmt::format("'{}' has no port (HOST:PORT)", text);
            return false;
        }
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) {
            error = fmt::format("'{}': an IPv6 address goes in brackets, [ADDR]:PORT", text);
            return false;
        }
    }
    unsigned long n = 0;
    if (host.empty()) {
        error = fmt::format("'{}' has no host", text);
        return false;
    }
    if (!parse_number(port, n) || n == 0 || n > 65535) {
        error = fmt::format("'{}' is not a port (1-65535)", port);
        return false;
    }
    t.host = std::string(host);
    t.port = static_cast<std::uint16_t>(n);
    return true;
}

bool parse_options(std::string_view query, OutputSpec& t, std::string& error) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        const auto eq = item.find('=');
        const std::string_view key = item.substr(0, eq);
        const std::string_view value =
            eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
        if (key == "facility") {
            const auto code = syslog_facility(value);
            if (!code) {
                error = fmt::format(
                    "unknown syslog facility '{}' (kern, user, mail, daemon, auth, "
                    "syslog, lpr, news, uucp, cron, authpriv, ftp, local0-local7)",
                    value);
                return false;
            }
            t.facility = *code;
        } else if (key == "backlog") {
            std::size_t n = 0;
            if (!parse_number(value, n) || n > kMaxBacklogOption) {
                error = fmt::format("backlog must be a number of lines, 0-{}, not '{}'",
                                    kMaxBacklogOption, value);
                return false;
            }
            t.backlog = n;
        } else {
            error = fmt::format("unknown syslog option '{}' (facility, backlog)", key);
            return false;
        }
    }
    return true;
}

std::optional<OutputSpec> parse_syslog(std::string_view spec, std::string& error) {
    OutputSpec t;
    t.text = std::string(spec);
    t.kind = OutputKind::syslog_local;
    t.path = "/dev/log";
    std::string_view rest = spec.substr(6);
    const auto q = rest.find('?');
    const std::string_view base = rest.substr(0, q);
    if (q != std::string_view::npos && !parse_options(rest.substr(q + 1), t, error))
        return std::nullopt;
    if (base.empty()) return t;
    if (starts_with(base, ":unix://")) {
        const std::string_view path = base.substr(8);
        if (path.empty() || path[0] != '/' || path.size() >= sizeof(sockaddr_un::sun_path)) {
            error = fmt::format(
                "'{}': syslog:unix:// takes an absolute socket path shorter than {} bytes", spec,
                sizeof(sockaddr_un::sun_path));
            return std::nullopt;
        }
        t.path = std::string(path);
        return t;
    }
    if (starts_with(base, ":udp://") || starts_with(base, ":tcp://")) {
        t.kind = base[1] == 'u' ? OutputKind::syslog_udp : OutputKind::syslog_tcp;
        t.path.clear();
        if (!parse_host_port(base.substr(7), t, error)) {
            error = fmt::format("'{}': {}", spec, error);
            return std::nullopt;
        }
        return t;
    }
    error =
        fmt::format("'{}': syslog takes :udp://HOST:PORT, :tcp://HOST:PORT or :unix://PATH", spec);
    return std::nullopt;
}

std::optional<OutputSpec> parse_relp(std::string_view spec, std::string& error) {
    OutputSpec t;
    t.text = std::string(spec);
    t.kind = OutputKind::relp;
    std::string_view rest = spec.substr(7);
    const auto q = rest.find('?');
    if (q != std::string_view::npos && !parse_options(rest.substr(q + 1), t, error))
        return std::nullopt;
    if (!parse_host_port(rest.substr(0, q), t, error)) {
        error = fmt::format("'{}': {}", spec, error);
        return std::nullopt;
    }
    return t;
}

OutputSpec file_spec(std::string_view text, std::string_view path) {
    OutputSpec t;
    t.kind = OutputKind::file;
    t.text = std::string(text);
    t.path = std::string(path);
    return t;
}

}  // namespace

std::optional<int> syslog_facility(std::string_view name) {
    for (const auto& f : kFacilities) {
        if (f.name == name) return f.code;
    }
    return std::nullopt;
}

std::optional<OutputSpec> parse_output_spec(std::string_view text, std::string& error) {
    if (text == "-") return OutputSpec{};
    if (starts_with(text, "file:")) {
        if (text.size() > 5) return file_spec(text, text.substr(5));
        error = "file: needs a path (file:PATH)";
        return std::nullopt;
    }
    if (is_syslog_text(text)) return parse_syslog(text, error);
    if (starts_with(text, "relp://")) return parse_relp(text, error);
    error = fmt::format(
        "output must be -, file:PATH, syslog, syslog:udp://HOST:PORT, syslog:tcp://HOST:PORT, "
        "syslog:unix://PATH or relp://HOST:PORT (syslog and relp optionally followed by "
        "?facility=NAME&backlog=N), not '{}'",
        text);
    return std::nullopt;
}

std::optional<OutputSpec> parse_events_spec(std::string_view text, std::string& error) {
    if (is_syslog_text(text) || starts_with(text, "relp://")) {
        error = fmt::format(
            "events go to - or a file, not {}: syslog carries alerts only (a file named "
            "syslog is ./syslog)",
            text);
        return std::nullopt;
    }
    if (text == "-") return OutputSpec{};
    const std::string_view path = starts_with(text, "file:") ? text.substr(5) : text;
    if (path.empty()) {
        error = fmt::format("--events needs a path (-, file:PATH or PATH), not '{}'", text);
        return std::nullopt;
    }
    return file_spec(text, path);
}

}  // namespace scanwatch::agent
