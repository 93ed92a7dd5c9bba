#pragma once
// Alerts to a RELP receiver (rsyslog's imrelp): relp://HOST:PORT. RELP acknowledges every
// message, so a line the receiver took is known to be taken; docs/outputs.md ("RELP") says what
// that guarantees when the receiver is killed: at least once, never lost while scanwatch runs.

#include <chrono>
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>

#include "agent/outputs/output.h"
#include "agent/outputs/output_spec.h"

struct relpEngine_s;
struct relpClt_s;

namespace scanwatch::agent {

/// Messages in flight without an acknowledgement, at most (librelp's window). After a send
/// returns, every message but the last kRelpWindow sent has been acknowledged.
constexpr std::size_t kRelpWindow = 32;

/// One RELP destination (librelp client). Each line goes as one RFC 5424 message (the header of
/// syslog_output.h). Connects on the first write and again after any failure; after a
/// reconnect it first sends again the last kRelpWindow messages of the broken session, whose
/// acknowledgements may have been lost (so a message can arrive twice, never zero times).
/// Waits at most a few seconds for a connection or an acknowledgement. One writer thread.
class RelpOutput final : public Output {
public:
    /// Nothing is opened yet. `hostname` and `pid` go into each message's header.
    RelpOutput(OutputSpec target, std::string hostname, long pid);
    /// Closes the session gracefully (librelp waits for the outstanding acknowledgements).
    ~RelpOutput() override;

    /// Sends `line` as one message stamped `time`; failed (kept and retried by the caller) when
    /// the receiver is down, refuses the session or does not acknowledge in time.
    WriteResult write(std::string_view line, std::chrono::system_clock::time_point time,
                      std::string& error) override;

private:
    bool connect(std::string& error);
    void disconnect();
    bool send(const std::string& message, std::string& error);

    OutputSpec target_;
    std::string hostname_;
    long pid_;
    relpEngine_s* engine_ = nullptr;
    relpClt_s* client_ = nullptr;
    std::deque<std::string> unconfirmed_;  // the last kRelpWindow messages sent
};

}  // namespace scanwatch::agent
