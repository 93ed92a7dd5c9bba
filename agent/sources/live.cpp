#include "agent/sources/live.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include <fmt/format.h>
#include <boost/asio.hpp>

#include "agent/sources/runner.h"

namespace scanwatch::agent {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class LiveRunner final : public Runner {
public:
    LiveRunner(const Settings& settings, int argc, const char* const* argv)
        : Runner(settings, Input::dispatcher, argc, argv),
          reconnect_timer_(io()),
          stdin_(io()),
          socket_(io()) {
        if (settings.mode == Mode::plugin) session().diagnostics().also_syslog();
    }

private:
    void start() override {
        if (settings().mode == Mode::socket) {
            connect_socket();
            return;
        }
        session().pipeline().begin_source("<stdin>");
        struct stat st {};
        // epoll cannot wait on a regular file: stdin redirected from a file is read plainly.
        if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode)) {
            read_stdin_file();
            stop();
            return;
        }
        // auditd's dispatcher writes to a pipe: a larger one absorbs a burst while we work
        // instead of making auditd wait, and each read takes more at once. Best effort (the
        // size is capped by /proc/sys/fs/pipe-max-size for non-root).
        if (S_ISFIFO(st.st_mode)) (void)::fcntl(STDIN_FILENO, F_SETPIPE_SZ, kPipeSize);
        stdin_.assign(::dup(STDIN_FILENO));
        read_stdin();
    }

    void stop_source() override {
        boost::system::error_code ignored;
        reconnect_timer_.cancel();
        if (stdin_.is_open()) stdin_.close(ignored);
        if (socket_.is_open()) socket_.close(ignored);
    }

    void finish_input() override { session().pipeline().finish(); }

    void read_stdin_file() {
        for (;;) {
            const ssize_t n = ::read(STDIN_FILENO, buffer_.data(), buffer_.size());
            if (n > 0) {
                session().pipeline().feed(
                    std::string_view(buffer_.data(), static_cast<std::size_t>(n)));
            } else if (n == 0) {
                return;
            } else if (errno != EINTR) {
                input_failed(fmt::format("cannot read stdin: {}", std::strerror(errno)));
                return;
            }
        }
    }

    // Feeds what `stream` gives to the pipeline until a read fails; then `ended(ec)`.
    template <typename Stream, typename Ended>
    void read_into_pipeline(Stream& stream, Ended ended) {
        stream.async_read_some(asio::buffer(buffer_), [this, &stream, ended](
                                                          const boost::system::error_code& ec,
                                                          std::size_t n) {
            if (n > 0) session().pipeline().feed(std::string_view(buffer_.data(), n));
            // Less than asked for: nothing more was waiting (a backlog fills every read).
            if (n < buffer_.size()) session().pipeline().input_drained();
            if (ec) {
                ended(ec);
            } else {
                read_into_pipeline(stream, ended);
            }
        });
    }

    void read_stdin() {
        read_into_pipeline(stdin_, [this](const boost::system::error_code& ec) {
            if (ec != asio::error::eof && ec != asio::error::operation_aborted) {
                input_failed(fmt::format("cannot read stdin: {}", ec.message()));
            }
            stop();  // auditd closed our stdin: it is stopping or restarting plugins
        });
    }

    void connect_socket() {
        boost::system::error_code ec;
        socket_ = asio::local::stream_protocol::socket(io());
        socket_.connect(asio::local::stream_protocol::endpoint(settings().socket_path), ec);
        if (ec) {
            if (!socket_down_reported_) {
                session().diagnostics().warn(fmt::format("cannot connect to {}: {}; retrying",
                                                         settings().socket_path, ec.message()));
                socket_down_reported_ = true;
            }
            schedule_reconnect();
            return;
        }
        if (socket_down_reported_) {
            session().diagnostics().warn(fmt::format("connected to {}", settings().socket_path));
        }
        socket_down_reported_ = false;
        backoff_ = kMinBackoff;
        session().pipeline().begin_source(settings().socket_path);
        read_socket();
    }

    void schedule_reconnect() {
        if (stopping()) return;
        reconnect_timer_.expires_after(backoff_);
        backoff_ = std::min<std::chrono::milliseconds>(backoff_ * 2, kMaxBackoff);
        reconnect_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec && !stopping()) connect_socket();
        });
    }

    void read_socket() {
        read_into_pipeline(socket_, [this](const boost::system::error_code& ec) {
            if (stopping() || ec == asio::error::operation_aborted) return;
            session().diagnostics().warn(fmt::format(
                "lost {}: {}; reconnecting", settings().socket_path,
                ec == asio::error::eof ? std::string("auditd closed it") : ec.message()));
            socket_down_reported_ = true;
            boost::system::error_code ignored;
            socket_.close(ignored);
            schedule_reconnect();
        });
    }

    static constexpr int kPipeSize = 1 << 20;
    static constexpr std::chrono::milliseconds kMinBackoff = 100ms;  // socket reconnects
    static constexpr std::chrono::milliseconds kMaxBackoff = 5s;
    asio::steady_timer reconnect_timer_;
    asio::posix::stream_descriptor stdin_;
    asio::local::stream_protocol::socket socket_;
    std::vector<char> buffer_ = std::vector<char>(256 * 1024);  // fewer reads under load
    std::chrono::milliseconds backoff_ = kMinBackoff;
    bool socket_down_reported_ = false;
};

}  // namespace

int run_live(const Settings& settings, int argc, const char* const* argv) {
    // A plugin whose reader went away must not die of SIGPIPE on an output.
    ::signal(SIGPIPE, SIG_IGN);
    LiveRunner runner(settings, argc, argv);
    return runner.run();
}

}  // namespace scanwatch::agent
