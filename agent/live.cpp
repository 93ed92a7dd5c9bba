#include "agent/live.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include "agent/session.h"

namespace scanwatch::agent {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr auto kAgeInterval = 1s;
constexpr auto kMinBackoff = 100ms;
constexpr auto kMaxBackoff = 5s;

class LiveRunner {
public:
    LiveRunner(const Settings& settings, int argc, const char* const* argv)
        : settings_(settings),
          argc_(argc),
          argv_(argv),
          session_(settings, Input::dispatcher),
          signals_(io_, SIGTERM, SIGINT, SIGHUP),
          age_timer_(io_),
          reconnect_timer_(io_),
          stdin_(io_),
          socket_(io_) {}

    int run() {
        if (settings_.mode == Mode::plugin) session_.diagnostics().also_syslog();
        signals_.add(SIGUSR1);
        wait_signal();
        arm_age_timer();
        if (settings_.mode == Mode::plugin) {
            if (!start_stdin()) return read_stdin_file();
        } else {
            connect_socket();
        }
        io_.run();
        finish();
        return exit_code_;
    }

private:
    bool start_stdin() {
        struct stat st {};
        // epoll cannot wait on a regular file: stdin redirected from a file is read plainly.
        if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode)) return false;
        // auditd's dispatcher writes to a pipe: a larger one absorbs a burst while we work
        // instead of making auditd wait, and each read takes more at once. Best effort (the
        // size is capped by /proc/sys/fs/pipe-max-size for non-root).
        if (S_ISFIFO(st.st_mode)) (void)::fcntl(STDIN_FILENO, F_SETPIPE_SZ, kPipeSize);
        stdin_.assign(::dup(STDIN_FILENO));
        session_.pipeline().begin_source("<stdin>");
        read_stdin();
        return true;
    }

    int read_stdin_file() {
        session_.pipeline().begin_source("<stdin>");
        for (;;) {
            const ssize_t n = ::read(STDIN_FILENO, buffer_.data(), buffer_.size());
            if (n > 0) {
                session_.pipeline().feed(std::string_view(buffer_.data(), static_cast<std::size_t>(n)));
            } else if (n == 0 || errno != EINTR) {
                break;
            }
        }
        finish();
        return exit_code_;
    }

    void read_stdin() {
        stdin_.async_read_some(asio::buffer(buffer_), [this](const boost::system::error_code& ec,
                                                             std::size_t n) {
            if (n > 0) session_.pipeline().feed(std::string_view(buffer_.data(), n));
            if (!ec) {
                read_stdin();
                return;
            }
            if (ec != asio::error::eof && ec != asio::error::operation_aborted) {
                session_.diagnostics().warn(fmt::format("reading stdin: {}", ec.message()));
            }
            stop();  // auditd closed our stdin: it is stopping or restarting plugins
        });
    }

    void connect_socket() {
        boost::system::error_code ec;
        socket_ = asio::local::stream_protocol::socket(io_);
        socket_.connect(asio::local::stream_protocol::endpoint(settings_.socket_path), ec);
        if (ec) {
            if (!socket_down_reported_) {
                session_.diagnostics().warn(fmt::format("cannot connect to {}: {}; retrying",
                                                        settings_.socket_path, ec.message()));
                socket_down_reported_ = true;
            }
            schedule_reconnect();
            return;
        }
        if (socket_down_reported_) {
            session_.diagnostics().warn(fmt::format("connected to {}", settings_.socket_path));
        }
        socket_down_reported_ = false;
        backoff_ = kMinBackoff;
        session_.pipeline().begin_source(settings_.socket_path);
        read_socket();
    }

    void schedule_reconnect() {
        if (stopping_) return;
        reconnect_timer_.expires_after(backoff_);
        backoff_ = std::min<std::chrono::milliseconds>(backoff_ * 2, kMaxBackoff);
        reconnect_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec && !stopping_) connect_socket();
        });
    }

    void read_socket() {
        socket_.async_read_some(asio::buffer(buffer_), [this](const boost::system::error_code& ec,
                                                              std::size_t n) {
            if (n > 0) session_.pipeline().feed(std::string_view(buffer_.data(), n));
            if (!ec) {
                read_socket();
                return;
            }
            if (stopping_ || ec == asio::error::operation_aborted) return;
            session_.diagnostics().warn(fmt::format(
                "lost {}: {}; reconnecting", settings_.socket_path,
                ec == asio::error::eof ? std::string("auditd closed it") : ec.message()));
            socket_down_reported_ = true;
            boost::system::error_code ignored;
            socket_.close(ignored);
            schedule_reconnect();
        });
    }

    void arm_age_timer() {
        age_timer_.expires_after(kAgeInterval);
        age_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (ec || stopping_) return;
            session_.pipeline().age();
            arm_age_timer();
        });
    }

    void wait_signal() {
        signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
            if (ec) return;
            switch (signo) {
                case SIGHUP: reload(); break;
                case SIGUSR1: print_stats(); break;
                default: stop(); return;
            }
            wait_signal();
        });
    }

    void reload() {
        std::string error;
        auto fresh = reparse_settings(argc_, argv_, error);
        if (!fresh) {
            session_.diagnostics().warn(
                fmt::format("reload failed, keeping the running configuration: {}", error));
            return;
        }
        if (session_.reload(*fresh)) session_.diagnostics().warn("configuration reloaded");
    }

    void print_stats() { session_.report_stats(true); }

    void stop() {
        if (stopping_) return;
        stopping_ = true;
        boost::system::error_code ignored;
        signals_.cancel(ignored);
        age_timer_.cancel();
        reconnect_timer_.cancel();
        if (stdin_.is_open()) stdin_.close(ignored);
        if (socket_.is_open()) socket_.close(ignored);
    }

    void finish() {
        session_.pipeline().finish();
        session_.close();
        if (settings_.stats || !settings_.stats_file.empty()) session_.report_stats(settings_.stats);
        if (session_.output_failures()) {
            session_.diagnostics().warn("an output failed or lost alerts; see the stats");
        }
    }

    Settings settings_;
    int argc_;
    const char* const* argv_;
    asio::io_context io_;
    Session session_;
    asio::signal_set signals_;
    asio::steady_timer age_timer_;
    asio::steady_timer reconnect_timer_;
    asio::posix::stream_descriptor stdin_;
    asio::local::stream_protocol::socket socket_;
    static constexpr int kPipeSize = 1 << 20;
    std::vector<char> buffer_ = std::vector<char>(256 * 1024);  // fewer reads under load
    std::chrono::milliseconds backoff_ = kMinBackoff;
    bool socket_down_reported_ = false;
    bool stopping_ = false;
    int exit_code_ = 0;
};

}  // namespace

int run_live(const Settings& settings, int argc, const char* const* argv) {
    // A plugin whose reader went away must not die of SIGPIPE on an output.
    ::signal(SIGPIPE, SIG_IGN);
    LiveRunner runner(settings, argc, argv);
    return runner.run();
}

}  // namespace scanwatch::agent
