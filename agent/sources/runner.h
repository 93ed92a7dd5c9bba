#pragma once
// The event loop every live mode (plugin, socket, tail) shares: one Boost.Asio io_context, a
// signal_set (TERM/INT: stop, HUP: reload, USR1: stats), a 1 s timer that ages events in flight and
// moves event time on for scheduled rules when the input is quiet, and one exit code.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "agent/session.h"
#include "agent/settings.h"

namespace scanwatch::agent {

class MetricsServer;

/// Event time on a live input that may go quiet (docs/rules.md, "Evaluation"): the latest
/// event's time plus the steady time elapsed since that event was first seen, less `lag_ms` for
/// events still in flight. Follows the input's own clock, so a backlog or an old log piped in
/// is not overtaken by the wall clock.
class EventClock {
public:
    explicit EventClock(std::int64_t lag_ms) : lag_ms_(lag_ms) {}
    /// `latest_event_ms` is the latest event time the pipeline has seen (0: none yet), observed
    /// at `steady_ms` (any monotonic clock in ms). Returns the event time reached, or INT64_MIN
    /// before the first event.
    std::int64_t now(std::int64_t latest_event_ms, std::int64_t steady_ms);

private:
    std::int64_t lag_ms_;
    std::int64_t latest_ms_ = 0;
    std::int64_t anchor_ms_ = 0;  // steady time when latest_ms_ was first observed
};

/// Base of the live runners: a derived class starts its source in start(), cancels it in
/// stop_source() and ends its input in finish_input(); the base does the rest.
class Runner {
public:
    /// `argc`/`argv` are parsed again on SIGHUP. Throws std::runtime_error naming an output that
    /// cannot be opened.
    Runner(const Settings& settings, Input input, int argc, const char* const* argv);
    virtual ~Runner();
    Runner(const Runner&) = delete;
    Runner& operator=(const Runner&) = delete;

    /// Runs until the source ends or SIGTERM/SIGINT. Returns 0, or 1 when an input failed while
    /// running or an output failed or lost alerts (README.md, "Exit status").
    int run();

protected:
    /// Starts reading (from inside run(), signals and aging already armed).
    virtual void start() = 0;
    /// Cancels the source's pending I/O and timers; called once, on stop().
    virtual void stop_source() {}
    /// Ends the input after the loop: live modes process what is in flight, tail checkpoints.
    virtual void finish_input() = 0;

    /// Stops the loop (idempotent).
    void stop();
    /// An input failed while running: reported, and the exit code becomes 1.
    void input_failed(const std::string& message);

    boost::asio::io_context& io() { return io_; }
    Session& session() { return session_; }
    const Settings& settings() const { return settings_; }
    bool stopping() const { return stopping_; }

private:
    void wait_signal();
    void arm_age_timer();
    void advance_event_time();
    void reload();
    void open_metrics();
    std::string metrics_page() const;

    Settings settings_;
    int argc_;
    const char* const* argv_;
    boost::asio::io_context io_;
    Session session_;
    boost::asio::signal_set signals_;
    boost::asio::steady_timer age_timer_;
    EventClock event_clock_;
    bool stopping_ = false;
    bool input_failed_ = false;
    std::unique_ptr<MetricsServer> metrics_;  // --metrics; after io_: gone before it
    std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
    std::chrono::steady_clock::time_point started_steady_ = std::chrono::steady_clock::now();
};

}  // namespace scanwatch::agent
