#include "agent/metrics/metrics_address.h"

#include <charconv>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>

namespace scanwatch::agent {

std::optional<MetricsAddress> parse_metrics_address(const std::string& text, std::string& error) {
    const auto colon = text.rfind(':');
    const auto bad = [&](std::string_view why) {
        error = fmt::format("{}: {} (expected ADDR:PORT, e.g. 127.0.0.1:9477 or [::1]:9477)",
                            text, why);
        return std::nullopt;
    };
    if (colon == std::string::npos) return bad("no port");
    std::string host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string::npos) {
        return bad("an IPv6 address goes in brackets");
    }
    if (host.empty()) host = "127.0.0.1";
    boost::system::error_code ec;
    boost::asio::ip::make_address(host, ec);
    if (ec) return bad("not a numeric IP address");
    const std::string port_text = text.substr(colon + 1);
    unsigned port = 0;
    const auto [end, parse_error] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || parse_error != std::errc() || end != port_text.data() + port_text.size() ||
        port > 65535) {
        return bad("not a port number");
    }
    return MetricsAddress{host, static_cast<unsigned short>(port)};
}

std::string to_string(const MetricsAddress& address) {
    const bool v6 = address.host.find(':') != std::string::npos;
    return v6 ? fmt::format("[{}]:{}", address.host, address.port)
              : fmt::format("{}:{}", address.host, address.port);
}

}  // namespace scanwatch::agent
