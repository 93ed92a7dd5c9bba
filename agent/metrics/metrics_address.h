#pragma once
// Where the metrics server listens: `--metrics ADDR:PORT` parsed once where it enters.

#include <optional>
#include <string>

namespace scanwatch::agent {

/// An IP address and a TCP port (0: any free port).
struct MetricsAddress {
    std::string host;  ///< a numeric IPv4 or IPv6 address (no name is looked up)
    unsigned short port = 0;
};

/// Parses "127.0.0.1:9464", "[::1]:9464" or ":9464" (127.0.0.1). Returns nullopt and sets `error`
/// naming the value when it is none of these.
std::optional<MetricsAddress> parse_metrics_address(const std::string& text, std::string& error);

/// "ADDR:PORT", IPv6 in brackets.
std::string to_string(const MetricsAddress& address);

}  // namespace scanwatch::agent
