#include "agent/runner.h"

#include <signal.h>

#include <chrono>

#include <fmt/format.h>

#include "agent/privilege.h"

namespace scanwatch::agent {
namespace {

// auparse_feed_age_events() on a 1 s timer completes events whose last record came a while ago.
constexpr auto kAgeInterval = std::chrono::seconds(1);

}  // namespace

Runner::Runner(const Settings& settings, Input input, int argc, const char* const* argv)
    : settings_(settings),
      argc_(argc),
      argv_(argv),
      session_(settings, input),
      signals_(io_, SIGTERM, SIGINT, SIGHUP),
      age_timer_(io_) {
    signals_.add(SIGUSR1);
}

Runner::~Runner() = default;

int Runner::run() {
    wait_signal();
    arm_age_timer();
    start();
    // The input and the outputs are open: the rest of the run needs no root (docs/operations.md).
    if (!settings_.user.empty()) {
        drop_privileges(settings_.user, kept_capability(settings_.mode == Mode::tail));
    }
    io_.run();

    finish_input();
    session_.close();
    if (settings_.stats || !settings_.stats_file.empty()) session_.report_stats(settings_.stats);
    int code = input_failed_ ? 1 : 0;
    if (session_.output_failures()) {
        session_.diagnostics().warn("an output failed or lost alerts; see the stats");
        code = 1;
    }
    return code;
}

void Runner::stop() {
    if (stopping_) return;
    stopping_ = true;
    boost::system::error_code ignored;
    signals_.cancel(ignored);
    age_timer_.cancel();
    stop_source();
}

void Runner::input_failed(const std::string& message) {
    session_.diagnostics().warn(message);
    input_failed_ = true;
}

void Runner::wait_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
        if (ec) return;
        switch (signo) {
            case SIGHUP:
                reload();
                break;
            case SIGUSR1:
                session_.report_stats(true);
                break;
            default:
                stop();
                return;
        }
        wait_signal();
    });
}

void Runner::arm_age_timer() {
    age_timer_.expires_after(kAgeInterval);
    age_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopping_) return;
        session_.pipeline().age();
        arm_age_timer();
    });
}

void Runner::reload() {
    std::string error;
    auto fresh = reparse_settings(argc_, argv_, error);
    if (!fresh) {
        session_.diagnostics().warn(
            fmt::format("reload failed, keeping the running configuration: {}", error));
        return;
    }
    if (session_.reload(*fresh)) session_.diagnostics().warn("configuration reloaded");
}

}  // namespace scanwatch::agent
