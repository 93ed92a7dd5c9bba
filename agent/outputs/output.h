#pragma once
// The one interface every output implements (stdout, file, syslog, RELP: one file per kind). An
// output only does the I/O; OutputChannel (output_channel.h) adds the backlog, retries and counters.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "agent/outputs/output_spec.h"

namespace scanwatch::agent {

/// What one attempt to write a line did.
enum class WriteResult {
    ok,        ///< taken: written, or buffered for a later flush, or lost to a full disk (which
               ///< take_lost() then counts)
    failed,    ///< not written (destination down or stalled): keep the line, retry later
    rejected,  ///< can never be written (too large for a datagram): count it lost
};

/// One destination for lines. Implementations only do the I/O; OutputChannel adds the backlog,
/// the retries and the counters. Used by one thread at a time.
class Output {
public:
    /// `spec` names the output in messages and stats; `max_backlog` bounds its backlog.
    explicit Output(std::string spec, std::size_t max_backlog = kDefaultBacklog)
        : spec_(std::move(spec)), max_backlog_(max_backlog) {}
    virtual ~Output() = default;
    Output(const Output&) = delete;
    Output& operator=(const Output&) = delete;

    /// Writes `line` (no newline) as one record; `time` is when it was handed to the writer
    /// (wall clock). On failed or rejected, `error` says why.
    virtual WriteResult write(std::string_view line, std::chrono::system_clock::time_point time,
                              std::string& error) = 0;
    /// Writes out what write() buffered (UDP: also checks that the last datagram was not
    /// refused). False, with the reason in `error`, when it could not; the unwritten lines are
    /// kept, whole, for the next flush.
    virtual bool flush(std::string& /*error*/) { return true; }
    /// Closes and opens the destination again (SIGHUP, after logrotate renamed the file). False,
    /// with the reason in `error`, when it cannot; the old destination is kept then.
    virtual bool reopen(std::string& /*error*/) { return true; }
    /// Lines write() took (counted written) that have not reached the destination yet: buffered,
    /// or (UDP) refused after the fact and held for a resend. Counted lost when given up.
    virtual std::size_t unwritten_lines() const { return 0; }
    /// Lines write() or flush() took (counted written) and then gave up on, because the disk is
    /// full: to be counted lost instead. Clears the count; `error` says why (path and errno).
    virtual std::size_t take_lost(std::string& /*error*/) { return 0; }

    /// From now on no write, flush or connect blocks past `deadline` (steady clock): set when the
    /// agent exits, so a stalled receiver cannot hold the exit longer than the grace
    /// (docs/outputs.md). May be called from any thread, also while a write blocks.
    virtual void stop_by(std::chrono::steady_clock::time_point /*deadline*/) {}

    /// The spec it was made from, as given on the command line.
    const std::string& spec() const { return spec_; }
    /// How many lines its backlog holds at most.
    std::size_t max_backlog() const { return max_backlog_; }

private:
    std::string spec_;
    std::size_t max_backlog_;
};

}  // namespace scanwatch::agent
