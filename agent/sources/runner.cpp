#include "agent/sources/runner.h"

#include <signal.h>

#include <chrono>
#include <limits>

#include <fmt/format.h>

#include "agent/metrics/metrics_page.h"
#include "agent/metrics/metrics_server.h"
#include "agent/privilege.h"
#include "agent/sandbox/seccomp_filter.h"

#ifndef SCANWATCH_VERSION
#define SCANWATCH_VERSION "0.0.0"
#endif

namespace scanwatch::agent {
namespace {

// Pipeline::age() on a 1 s timer completes the events of nodes whose records stopped coming.
constexpr auto kAgeInterval = std::chrono::seconds(1);
// How far event time trails the clock for scheduled runs: an event without an EOE record is
// completed by aging after auparse's 2 s end-of-event timeout, checked every kAgeInterval.
constexpr std::int64_t kEventLagMs = 3000;

std::int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

Runner::Runner(const Settings& settings, Input input, int argc, const char* const* argv)
    : settings_(settings),
      argc_(argc),
      argv_(argv),
      session_(settings, input),
      signals_(io_, SIGTERM, SIGINT, SIGHUP),
      age_timer_(io_),
      event_clock_(kEventLagMs) {
    signals_.add(SIGUSR1);
}

Runner::~Runner() = default;

int Runner::run() {
    wait_signal();
    arm_age_timer();
    start();
    // Listening may need root (a port below 1024); connections are served once the loop runs,
    // after the privileges are dropped.
    // A source that ended inside start() (stdin from a regular file) has nothing to serve for.
    if (settings_.metrics && !stopping_) open_metrics();
    // The input and the outputs are open: the rest of the run needs no root (docs/operations.md).
    if (!settings_.user.empty()) {
        drop_privileges(settings_.user, kept_capability(settings_.mode == Mode::tail));
    }
    // Then only the system calls the rest of the run makes (agent/sandbox/seccomp_filter.h).
    if (settings_.seccomp) {
        install_seccomp_filter();
    } else {
        session_.diagnostics().warn("system call filter off (--no-seccomp / seccomp = false)");
    }
    if (const int error = seccomp_test_trigger(); error != 0) {
        session_.diagnostics().warn(fmt::format("test trigger: the forbidden call returned errno {}", error));
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
    if (metrics_) metrics_->stop();
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
        advance_event_time();
        arm_age_timer();
    });
}

std::int64_t EventClock::now(std::int64_t latest_event_ms, std::int64_t steady) {
    if (latest_event_ms == 0) return std::numeric_limits<std::int64_t>::min();
    if (latest_event_ms != latest_ms_) {
        latest_ms_ = latest_event_ms;
        anchor_ms_ = steady;
    }
    return latest_ms_ + (steady - anchor_ms_) - lag_ms_;
}

// A scheduled run is due when event time passes it; on a quiet host no event comes to pass it,
// so the timer moves event time on (docs/rules.md, "Evaluation").
void Runner::advance_event_time() {
    Pipeline& pipeline = session_.pipeline();
    if (pipeline.collector()) {
        if (pipeline.advance_nodes(kEventLagMs) > 0) session_.flush_outputs();
        return;
    }
    const std::int64_t now = event_clock_.now(pipeline.last_event_ms(), steady_ms());
    if (now == std::numeric_limits<std::int64_t>::min()) return;
    if (pipeline.advance(now) > 0) session_.flush_outputs();
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

namespace scanwatch::agent {

// A port in use is said and the run goes on without metrics: detection matters more.
void Runner::open_metrics() {
    metrics_ = std::make_unique<MetricsServer>(io_, [this] { return metrics_page(); });
    if (const std::string error = metrics_->listen(*settings_.metrics); !error.empty()) {
        session_.diagnostics().warn(error + "; running without metrics");
        metrics_.reset();
        return;
    }
    session_.add_stats_fields([server = metrics_.get()](JsonWriter& w) {
        w.key("metrics");
        w.begin_object();
        parsers::for_each_counter(server->counters(), kMetricsServerCounterFields,
                                  [&w](std::string_view name, std::uint64_t value) {
                                      w.field(name, value);
                                  });
        w.end_object();
    });
    metrics_->start();
}

std::string Runner::metrics_page() const {
    MetricsProcess process;
    process.version = SCANWATCH_VERSION;
    process.start_time_s =
        std::chrono::duration<double>(started_.time_since_epoch()).count();
    process.uptime_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_steady_).count();
    return render_metrics(nlohmann::json::parse(session_.stats_json()), process);
}

}  // namespace scanwatch::agent
