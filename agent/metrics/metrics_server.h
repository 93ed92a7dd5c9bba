#pragma once
// The /metrics endpoint (docs/operations.md, "Metrics"): a small HTTP/1.1 server (Boost.Beast) on
// the agent's own io_context. It never blocks the input: every step is asynchronous, each
// connection has one deadline for the whole exchange, requests are bounded in size, connections
// over the cap are closed at once, and one request is answered per connection.

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "agent/metrics/metrics_address.h"
#include "parsers/ecs/counter_table.h"

namespace scanwatch::agent {

/// What the server saw; all monotonic (docs/operations.md, "Stats", metrics.*).
struct MetricsServerCounters {
    std::uint64_t connections = 0;   ///< accepted and served or refused
    std::uint64_t refused = 0;       ///< closed at once: kMaxConnections were open
    std::uint64_t requests = 0;      ///< pages served (200)
    std::uint64_t not_found = 0;     ///< another path (404)
    std::uint64_t bad_method = 0;    ///< /metrics with another method than GET (405)
    std::uint64_t bad_requests = 0;  ///< not HTTP (400)
    std::uint64_t too_large = 0;     ///< request head (431) or body (413) past the bound
    std::uint64_t timed_out = 0;     ///< closed at the deadline (slow or idle clients)
};

/// The stats keys of MetricsServerCounters (under "metrics"), in stats order.
inline constexpr parsers::CounterField<MetricsServerCounters> kMetricsServerCounterFields[] = {
    {"connections", &MetricsServerCounters::connections},
    {"refused", &MetricsServerCounters::refused},
    {"requests", &MetricsServerCounters::requests},
    {"not_found", &MetricsServerCounters::not_found},
    {"bad_method", &MetricsServerCounters::bad_method},
    {"bad_requests", &MetricsServerCounters::bad_requests},
    {"too_large", &MetricsServerCounters::too_large},
    {"timed_out", &MetricsServerCounters::timed_out},
};

/// The server's bounds (docs/operations.md, "Metrics").
struct MetricsServerLimits {
    std::size_t max_connections = 8;               ///< open at once; more are closed at once
    std::size_t max_request_bytes = 8 * 1024;      ///< request line and headers; and body
    std::chrono::milliseconds deadline{5000};      ///< whole exchange of one connection
};

class MetricsServer {
public:
    /// `page` makes the page body when a GET /metrics comes (on the io_context's thread).
    MetricsServer(boost::asio::io_context& io, std::function<std::string()> page,
                  MetricsServerLimits limits = {});
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    /// Binds and listens on `address` (do it before dropping privileges). Returns an error
    /// message naming the address, or empty.
    std::string listen(const MetricsAddress& address);
    /// Starts accepting: connections are served once the io_context runs.
    void start();
    /// Closes the listening socket and every connection (idempotent).
    void stop();
    /// The port bound (after listen(); tells the port picked for port 0).
    unsigned short port() const;

    const MetricsServerCounters& counters() const { return *counters_; }

    class Connection;

private:
    void accept();

    boost::asio::io_context& io_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::function<std::string()> page_;
    MetricsServerLimits limits_;
    // Shared with the connections, which may outlive the server until the io_context is gone.
    std::shared_ptr<MetricsServerCounters> counters_;
    std::list<std::weak_ptr<Connection>> open_;
    bool stopped_ = false;
};

}  // namespace scanwatch::agent
