#pragma once
// An output spec (--output, --events), parsed once where it enters (settings) into a typed value
// that every user takes: the session makes outputs from it, tail cuts file outputs back with it.
//
//   -                                       stdout
//   file:PATH                               PATH, appended (--events also takes a plain PATH)
//   syslog                                  /dev/log, datagrams, as syslog(3) frames them
//   syslog:unix:///run/custom.sock          another local datagram socket, same framing
//   syslog:udp://127.0.0.1:514              RFC 5424, one message per datagram
//   syslog:tcp://[::1]:6514?facility=local3 RFC 5424 in RFC 6587 octet-counting frames
//   relp://127.0.0.1:2514                   RFC 5424 over RELP (acknowledged; rsyslog's imrelp)
//
// Syslog and RELP options after `?`, joined by `&`: facility=NAME (default authpriv), backlog=N (default
// 10000). docs/outputs.md describes each form.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace scanwatch::agent {

/// Lines an output keeps while it is down, unless its spec says otherwise (syslog `backlog=N`).
constexpr std::size_t kDefaultBacklog = 10000;

/// What kind of destination a spec names.
enum class OutputKind { stdout_, file, syslog_local, syslog_udp, syslog_tcp, relp };

/// A parsed output spec.
struct OutputSpec {
    OutputKind kind = OutputKind::stdout_;
    std::string text = "-";  ///< as given: names the output in messages and stats
    std::string path;        ///< file: the file; syslog_local: the socket ("/dev/log")
    std::string host;        ///< syslog_udp, syslog_tcp, relp: a name or an address (IPv6 without brackets)
    std::uint16_t port = 0;
    int facility = 10;  ///< syslog: authpriv, security messages kept out of world-readable logs
    std::size_t backlog = kDefaultBacklog;  ///< lines kept while the output is down

    /// True for the three syslog kinds.
    bool is_syslog() const {
        return kind == OutputKind::syslog_local || kind == OutputKind::syslog_udp ||
               kind == OutputKind::syslog_tcp;
    }
};

/// Parses an --output spec: "-", "file:PATH", a syslog form or relp://HOST:PORT. nullopt, with what is wrong
/// (naming the value) in `error`, when it is none of these.
std::optional<OutputSpec> parse_output_spec(std::string_view text, std::string& error);

/// Parses an --events spec: "-", "file:PATH" or a plain path. Syslog carries alerts only: a
/// syslog form is an error (a file named syslog is ./syslog).
std::optional<OutputSpec> parse_events_spec(std::string_view text, std::string& error);

/// The facility code of a name (kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron,
/// authpriv, ftp, local0..local7), or nullopt.
std::optional<int> syslog_facility(std::string_view name);

}  // namespace scanwatch::agent
