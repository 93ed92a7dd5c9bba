#pragma once
// Alerts to syslog: the local socket (/dev/log), or a receiver over UDP or TCP (the spec forms
// are in output_spec.h). One message per alert line: <PRI>1 TIMESTAMP HOSTNAME scanwatch PID - - {alert JSON}
// (RFC 5424) over the network; <PRI>Mmm dd hh:mm:ss scanwatch[PID]: {alert JSON} on a local
// socket, because rsyslog's imuxsock (its default "special parser") and journald read the
// syslog(3) format there and would take an RFC 5424 header for message text.

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/outputs/output_spec.h"
#include "agent/outputs/output.h"

namespace scanwatch::agent {

/// The syslog severity of an Elastic rule severity: low -> 5 (notice), medium -> 4 (warning),
/// high -> 3 (err), critical -> 2 (crit); anything else -> 4 (warning).
int syslog_severity(std::string_view rule_severity);

/// The value of "kibana.alert.rule.severity" in an alert line, or "" when it has none. A JSON
/// string value cannot fake the key: its quotes would be escaped. The view points into `line`.
std::string_view alert_rule_severity(std::string_view line);

/// PRI = facility * 8 + severity (RFC 5424 section 6.2.1).
constexpr int syslog_pri(int facility, int severity) {
    return facility * 8 + severity;
}

/// "<PRI>1 TIMESTAMP HOSTNAME scanwatch PID - - MSG": TIMESTAMP in UTC with microseconds,
/// HOSTNAME "-" when empty, any byte outside printable ASCII in it replaced with '_'.
std::string format_rfc5424(int pri, std::chrono::system_clock::time_point time,
                           std::string_view hostname, long pid, std::string_view msg);

/// "<PRI>Mmm dd hh:mm:ss scanwatch[PID]: MSG" in local time, as glibc's syslog(3) writes to
/// /dev/log (no hostname: the receiver adds its own).
std::string format_local(int pri, std::chrono::system_clock::time_point time, long pid,
                         std::string_view msg);

/// RFC 6587 octet counting: "LEN SP MSG", LEN the decimal byte count of MSG.
std::string frame_octet_counted(std::string_view msg);

/// One syslog destination. Connects on the first write and again after any failure; write()
/// fails (the caller keeps the line and retries) when the receiver is down, and waits at most
/// a few seconds for a connection or a stalled receiver. UDP has no acknowledgement: a
/// port-unreachable that comes back for a datagram already counted written holds that datagram
/// for a resend (flush(), or first at the next write). Not thread-safe; one writer thread.
class SyslogOutput final : public Output {
public:
    /// Nothing is opened yet. `hostname` and `pid` go into each message's header.
    SyslogOutput(OutputSpec target, std::string hostname, long pid);
    ~SyslogOutput() override;

    /// Sends `line` as one message stamped `time`, connecting first if needed (TCP: again if
    /// the receiver closed the connection). Failed when the receiver is down or stalls.
    WriteResult write(std::string_view line, std::chrono::system_clock::time_point time,
                      std::string& error) override;
    /// UDP: sends again a datagram the receiver refused after the fact (a port-unreachable
    /// for it came back later). False, with why in `error`, while it cannot.
    bool flush(std::string& error) override;
    /// UDP: 1 while a refused datagram waits to be sent again.
    std::size_t unwritten_lines() const override { return refused_.empty() ? 0 : 1; }
    void stop_by(std::chrono::steady_clock::time_point deadline) override;

private:
    bool connect(std::string& error);
    void disconnect();
    bool peer_closed();
    WriteResult send_message(const std::string& message, std::string& error);
    int connect_within(int fd, const sockaddr* addr, socklen_t len) const;
    bool wait_writable(int fd, std::chrono::steady_clock::time_point until) const;
    bool refused(std::string& error);
    bool resend_refused(std::string& error);
    std::string format(std::string_view line, std::chrono::system_clock::time_point time) const;

    OutputSpec target_;
    std::string hostname_;
    long pid_;
    int fd_ = -1;
    // stop_by()'s deadline, steady clock ticks; the maximum while the agent runs.
    std::atomic<std::chrono::steady_clock::rep> stop_by_{
        std::chrono::steady_clock::time_point::max().time_since_epoch().count()};
    std::string last_sent_;  // UDP: the datagram sent last, until a later check finds it refused
    std::string refused_;    // UDP: a refused datagram, sent again before anything else
};

}  // namespace scanwatch::agent
