#pragma once
// The ECS process event: what the normalizer produces from one execve/execveat audit event and
// what rules read. Plain data, no libauparse, so rules/ and its tests depend on this header only.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace scanwatch {

/// A user or group reference: the numeric id as audit logs it, and the name when known
/// (from ENRICHED fields, or a local lookup in live modes); empty name means unknown.
struct IdName {
    std::string id;
    std::string name;
};

/// What an event is (docs/events.md): an exec, or a network event of the process that made it.
enum class EventKind : std::uint8_t {
    exec,     ///< event.category process, event.type start, event.action executed
    connect,  ///< event.category network, event.type [connection, start], action connected-to
    socket,   ///< event.category network, event.type [info], action created-socket (socket())
};

/// The network part of a connect or socket event (empty for an exec).
struct NetworkFields {
    std::string destination_ip;    ///< connect: IPv4 dotted (v4-mapped IPv6 too) or IPv6 text
    std::int64_t destination_port = -1;  ///< connect: -1 unknown
    std::string transport;         ///< network.transport: tcp, udp, icmp, ipv6-icmp; empty unknown
    std::string type;              ///< network.type: ipv4, ipv6; empty unknown
    std::string socket_family;     ///< auditd.data.socket.family: inet, inet6, packet
    std::string socket_type;       ///< auditd.data.socket.type: stream, dgram, raw, seqpacket
    std::int64_t exit = 0;         ///< the syscall's exit (fd for socket, 0/-errno for connect)
    /// event.outcome: "success", "failure", or "unknown" (a non-blocking connect in progress)
    std::string outcome;

    void clear();
};

/// One exec event (`event.category: process`, `event.type: start`), or a network event
/// (EventKind). Strings hold exact bytes (arguments may be any bytes but NUL); JSON output
/// escapes what is not UTF-8.
struct ProcessEvent {
    EventKind kind = EventKind::exec;
    NetworkFields network;  ///< set for connect and socket events only
    std::int64_t time_ms = 0;  ///< event time from msg=audit(sec.ms:serial), ms since the epoch
    std::uint64_t serial = 0;  ///< audit serial (event.sequence)
    std::string host_id;       ///< node= name, or the configured / local machine id
    std::string host_name;     ///< node= name, or the configured / local hostname
    bool success = true;       ///< event.outcome success / failure
    std::string syscall;       ///< "execve" or "execveat"
    std::string arch;          ///< "x86_64", "i386", "aarch64"
    std::int64_t pid = -1;     ///< -1 when the record lacks it
    std::int64_t ppid = -1;
    std::string name;        ///< comm
    std::string executable;  ///< exe
    std::vector<std::string> args;
    std::uint64_t args_count = 0;  ///< argc as logged (may exceed args.size() when records are lost)
    std::string title;             ///< PROCTITLE, NULs turned into spaces
    std::string working_directory;
    std::string entity_id;
    std::string parent_entity_id;
    std::string parent_executable;  ///< exe of the parent's exec, when it was in the stream
    /// Whether the parent's exec was in the stream and its pid still in the process table
    /// (docs/events.md); when false the parent name, args and args_count are empty / 0.
    bool parent_exec_seen = false;
    std::string parent_name;  ///< comm of the parent's exec
    /// The parent's arguments, each followed by a NUL byte: whole arguments from the first while
    /// they fit in the process table's cap (parsers/process_table.h); see for_each_packed().
    std::string parent_args;
    std::uint64_t parent_args_count = 0;  ///< the parent's argc as logged
    /// Execs without a login session only (`session` unset or absent; docs/detection.md,
    /// "Profiles and grouping"; NormalizerOptions::lineage, off under the elastic profile):
    /// the parent's parent, as the parent's exec in the stream named
    /// it (ECS process.parent.parent.*). Empty / -1 when the parent's exec was not seen, or
    /// that ancestor is pid 1 or a service manager (systemd, init, runit, s6).
    std::string grandparent_entity_id;
    std::int64_t grandparent_pid = -1;
    std::string grandparent_executable;  ///< when its exec was in the stream
    /// Execs without a login session only: the parent was first met at this exec and its exec
    /// was never seen, a fork whose ancestry the stream does not tell (a backgrounded shell
    /// function, a forked worker).
    bool parent_untraced = false;
    IdName user;            ///< uid
    IdName effective_user;  ///< euid
    IdName group;           ///< gid
    IdName effective_group; ///< egid
    IdName audit_user;      ///< auid (unset: 4294967295 is kept as is)
    /// ses= (auditd.session): the audit login session, kept across fork, sudo and setsid;
    /// "4294967295" when unset (daemons started at boot), empty when the record lacks it.
    std::string session;
    /// Identity of the file run, from the exec's PATH item 0 (live and tail modes only: the
    /// record filter passes PATH records on only there); 0 / false when unknown.
    std::uint64_t inode = 0;
    std::uint64_t device = 0;  ///< makedev(major, minor) of PATH dev=MAJ:MIN, as stat's st_dev
    bool has_inode = false;
    /// The rule tool this (device, inode) is a hard link of (a live-mode lookup), or empty.
    std::string inode_tool;
    std::vector<std::string> tags;  ///< audit rule keys

    /// The audit event id "sec.milli:serial" this event came from.
    std::string event_id() const;
    /// The arguments joined by single spaces (ECS process.command_line).
    std::string command_line() const;
    /// The parent's kept arguments joined by single spaces (ECS process.parent.command_line).
    std::string parent_command_line() const;
    /// Resets every field, keeping allocated capacity for reuse on the next event.
    void clear();
};

/// The basename of a path ("/usr/bin/ping" -> "ping"); the whole string when it has no '/'.
std::string_view basename_of(std::string_view path);

/// Calls `visit(arg)` for each argument of a NUL-terminated list (ProcessEvent::parent_args)
/// until it returns true; returns whether one did.
template <typename Visit>
bool for_each_packed(std::string_view packed, Visit&& visit) {
    while (!packed.empty()) {
        const std::size_t end = packed.find('\0');
        if (end == std::string_view::npos) return visit(packed);
        if (visit(packed.substr(0, end))) return true;
        packed.remove_prefix(end + 1);
    }
    return false;
}

/// Formats ms since the epoch as RFC 3339 UTC with milliseconds ("2024-05-01T12:00:00.123Z");
/// a year outside 0000-9999 is written whole with its sign ("+10000-01-01T00:00:00.000Z").
std::string format_timestamp(std::int64_t time_ms);

}  // namespace scanwatch
