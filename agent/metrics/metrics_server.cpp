#include "agent/metrics/metrics_server.h"

#include <fcntl.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

namespace scanwatch::agent {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// One connection: read one request within the deadline, answer it, close. Holds what it needs
// by value or shared pointer: the server may be gone before the io_context drops its handlers.
class MetricsServer::Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(tcp::socket socket, const std::function<std::string()>& page,
               std::shared_ptr<MetricsServerCounters> counters, const MetricsServerLimits& limits)
        : stream_(std::move(socket)),
          buffer_(limits.max_request_bytes),
          page_(page),
          counters_(std::move(counters)) {
        parser_.header_limit(static_cast<std::uint32_t>(limits.max_request_bytes));
        parser_.body_limit(limits.max_request_bytes);
        stream_.expires_after(limits.deadline);  // for the read and the write together
    }

    void start() {
        http::async_read(stream_, buffer_, parser_,
                         [self = shared_from_this()](beast::error_code ec, std::size_t) {
                             self->on_read(ec);
                         });
    }

    void close() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.close();
    }

private:
    void on_read(beast::error_code ec) {
        if (ec == beast::error::timeout) {
            ++counters_->timed_out;
            return close();
        }
        if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
            ec == asio::error::connection_reset) {
            return close();  // gone before a request, or the server stopped
        }
        if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
            ++counters_->too_large;
            return reply(http::status::request_header_fields_too_large, "request too large\n");
        }
        if (ec == http::error::body_limit) {
            ++counters_->too_large;
            return reply(http::status::payload_too_large, "request body too large\n");
        }
        if (ec) {
            ++counters_->bad_requests;
            return reply(http::status::bad_request, "bad request\n");
        }
        const auto& request = parser_.get();
        const beast::string_view target = request.target();
        const beast::string_view path = target.substr(0, target.find('?'));
        if (path != "/metrics") {
            ++counters_->not_found;
            return reply(http::status::not_found, "not found: the metrics are at /metrics\n");
        }
        if (request.method() != http::verb::get) {
            ++counters_->bad_method;
            response_.set(http::field::allow, "GET");
            return reply(http::status::method_not_allowed, "method not allowed: GET /metrics\n");
        }
        ++counters_->requests;
        response_.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        reply(http::status::ok, page_());
    }

    void reply(http::status status, std::string body) {
        response_.result(status);
        response_.version(11);
        response_.keep_alive(false);
        response_.set(http::field::server, "scanwatch");
        if (!response_.count(http::field::content_type)) {
            response_.set(http::field::content_type, "text/plain; charset=utf-8");
        }
        response_.body() = std::move(body);
        response_.prepare_payload();
        http::async_write(stream_, response_,
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec == beast::error::timeout) ++self->counters_->timed_out;
                              self->close();
                          });
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    http::request_parser<http::string_body> parser_;  // a body is read (bounded) and ignored
    http::response<http::string_body> response_;
    std::function<std::string()> page_;
    std::shared_ptr<MetricsServerCounters> counters_;
};

MetricsServer::MetricsServer(asio::io_context& io, std::function<std::string()> page,
                             MetricsServerLimits limits)
    : io_(io),
      acceptor_(io),
      page_(std::move(page)),
      limits_(limits),
      counters_(std::make_shared<MetricsServerCounters>()) {}

MetricsServer::~MetricsServer() { stop(); }

std::string MetricsServer::listen(const MetricsAddress& address) {
    boost::system::error_code ec;
    const tcp::endpoint endpoint(asio::ip::make_address(address.host, ec), address.port);
    if (!ec) acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(16, ec);
    if (ec) {
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        return fmt::format("cannot listen on {} for --metrics: {}", to_string(address), ec.message());
    }
    (void)::fcntl(acceptor_.native_handle(), F_SETFD, FD_CLOEXEC);
    return {};
}

unsigned short MetricsServer::port() const {
    boost::system::error_code ec;
    const auto endpoint = acceptor_.local_endpoint(ec);
    return ec ? 0 : endpoint.port();
}

void MetricsServer::start() {
    if (acceptor_.is_open()) accept();
}

void MetricsServer::accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
        if (stopped_ || ec == asio::error::operation_aborted) return;
        if (ec) {
            // Out of file descriptors and the like: try again shortly, never in a tight loop.
            auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
            timer->async_wait([this, timer](boost::system::error_code wait_ec) {
                if (!wait_ec && !stopped_) accept();
            });
            return;
        }
        ++counters_->connections;
        open_.remove_if([](const std::weak_ptr<Connection>& c) { return c.expired(); });
        if (open_.size() >= limits_.max_connections) {
            ++counters_->refused;
            boost::system::error_code ignored;
            socket.set_option(tcp::socket::linger(true, 0), ignored);  // a reset, not a wait
            socket.close(ignored);
        } else {
            auto connection =
                std::make_shared<Connection>(std::move(socket), page_, counters_, limits_);
            open_.push_back(connection);
            connection->start();
        }
        accept();
    });
}

void MetricsServer::stop() {
    if (stopped_) return;
    stopped_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (const auto& weak : open_) {
        if (auto c = weak.lock()) c->close();
    }
    open_.clear();
}

}  // namespace scanwatch::agent
