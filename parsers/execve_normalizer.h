#pragma once
// Turns one complete audit event (positioned in an auparse state) into an ECS process event
// when it is an execve or execveat. Handles, e.g.:
//   type=SYSCALL msg=audit(1615150974.493:21028): arch=c000003e syscall=59 success=yes exit=0 ...
//     ppid=10881 pid=8832 auid=1000 uid=1000 ... comm="echo" exe="/usr/bin/echo" key=(null)
//   type=EXECVE msg=audit(1615150974.493:21028): argc=2 a0="echo" a1_len=16384 a1[0]=4141...
//   type=CWD msg=audit(1615150974.493:21028): cwd="/home/user"
//   type=PROCTITLE msg=audit(1615150974.493:21028): proctitle=6563686F...

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <auparse.h>

#include "parsers/ecs/counter_table.h"
#include "parsers/ecs/ecs_event.h"
#include "parsers/interpretation_cache.h"
#include "parsers/process_table.h"

namespace scanwatch::parsers {

struct Digest;  // a streaming XXH3-128 state

/// A file's identity as stat gives it: st_dev, st_ino.
struct FileIdentity {
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    bool operator==(const FileIdentity& o) const { return device == o.device && inode == o.inode; }
};
struct FileIdentityHash {
    std::size_t operator()(const FileIdentity& f) const {
        return std::hash<std::uint64_t>()(f.inode * 0x9E3779B97F4A7C15ULL ^ f.device);
    }
};
/// The files of the rules' tools on this machine: identity -> tool name (agent/tool_inodes.h).
using ToolInodes = std::unordered_map<FileIdentity, std::string, FileIdentityHash>;

/// Where host identity and user names come from.
struct NormalizerOptions {
    std::string host_id;    ///< used when a record has no node=
    std::string host_name;  ///< used when a record has no node=
    /// Look up user and group names on this machine when the log is RAW (live modes only:
    /// names of another host's ids would be wrong in a replay).
    bool lookup_names = false;
    std::size_t max_processes = 65536;  ///< bound of the entity-id table
    /// Execs without a login session get ProcessEvent::grandparent_* and parent_untraced (the
    /// hardened profile's grouping; docs/detection.md). Off: those stay empty / false.
    bool lineage = true;
};

/// What the normalizer saw; all monotonic.
struct NormalizerCounters {
    std::uint64_t execs = 0;                   ///< exec events produced
    std::uint64_t failed_execs = 0;            ///< of those, success=no
    std::uint64_t execveat = 0;                ///< of those, execveat
    std::uint64_t execve_without_syscall = 0;  ///< EXECVE with its SYSCALL missing
    std::uint64_t syscall_without_execve = 0;  ///< successful exec SYSCALL, its EXECVE missing
    std::uint64_t args_missing = 0;            ///< argc said more than the records held
    std::uint64_t bad_fields = 0;              ///< a numeric field that did not parse
    std::uint64_t bad_arg_index = 0;   ///< aN out of order, repeated, or past argc (ignored)
    std::uint64_t args_dropped = 0;    ///< arguments past kMaxArgs (argc still says how many)
    std::uint64_t args_truncated = 0;  ///< arguments kept as a prefix and a digest
    std::uint64_t titles_truncated = 0;  ///< process.title kept as a prefix and a digest
    std::uint64_t bad_proctitle = 0;   ///< proctitle= neither quoted nor hex (title left empty)
    std::uint64_t bad_timestamp = 0;   ///< seconds too large for ms since the epoch (event dropped)
    std::uint64_t connects = 0;        ///< connect events produced (inet and inet6 addresses)
    /// connect SYSCALL without an inet / inet6 SOCKADDR (unix, netlink, lost record): no event
    std::uint64_t connects_without_address = 0;
    std::uint64_t raw_sockets = 0;     ///< socket events produced: SOCK_RAW or AF_PACKET
    std::uint64_t sockets_tracked = 0;  ///< socket() results kept for network.transport
    std::uint64_t sockets_evicted = 0;  ///< of those, forgotten at the kMaxSockets bound
};

/// The stats keys of NormalizerCounters, in stats order.
inline constexpr CounterField<NormalizerCounters> kNormalizerCounterFields[] = {
    {"execs", &NormalizerCounters::execs},
    {"failed_execs", &NormalizerCounters::failed_execs},
    {"execveat", &NormalizerCounters::execveat},
    {"execve_without_syscall", &NormalizerCounters::execve_without_syscall},
    {"syscall_without_execve", &NormalizerCounters::syscall_without_execve},
    {"args_missing", &NormalizerCounters::args_missing},
    {"bad_fields", &NormalizerCounters::bad_fields},
    {"bad_arg_index", &NormalizerCounters::bad_arg_index},
    {"args_dropped", &NormalizerCounters::args_dropped},
    {"args_truncated", &NormalizerCounters::args_truncated},
    {"titles_truncated", &NormalizerCounters::titles_truncated},
    {"bad_proctitle", &NormalizerCounters::bad_proctitle},
    {"bad_timestamp", &NormalizerCounters::bad_timestamp},
    {"connects", &NormalizerCounters::connects},
    {"connects_without_address", &NormalizerCounters::connects_without_address},
    {"raw_sockets", &NormalizerCounters::raw_sockets},
    {"sockets_tracked", &NormalizerCounters::sockets_tracked},
    {"sockets_evicted", &NormalizerCounters::sockets_evicted},
};

/// Sockets whose family, type and protocol are remembered (by host, pid and fd) from their
/// socket() call for a later connect's network.transport; the oldest is forgotten first.
inline constexpr std::size_t kMaxSockets = 16384;

/// What one event may hold (docs/events.md): the bound on its memory whatever the input.
inline constexpr std::size_t kMaxArgs = 65536;          ///< arguments kept per event
inline constexpr std::size_t kMaxArgBytes = 4096;       ///< bytes kept of one argument or title
inline constexpr std::size_t kMaxArgsBytes = 1U << 20U;  ///< bytes kept of all arguments

/// Stateful across events (entity ids, sockets). Reuses one ProcessEvent; the sink must copy
/// what it keeps. Also turns connect and socket() into network events (docs/events.md):
///   type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=42 success=no exit=-111
///     a0=3 a1=7ffd... a2=10 ... ppid=10 pid=11 auid=1000 ... comm="nc" exe="/usr/bin/nc.openbsd"
///   type=SOCKADDR msg=audit(1700000000.123:42): saddr=02000016 7F000001 0000000000000000
class ExecveNormalizer {
public:
    using Sink = std::function<void(const ProcessEvent& event)>;

    ExecveNormalizer(NormalizerOptions options, Sink sink);
    ~ExecveNormalizer();
    ExecveNormalizer(const ExecveNormalizer&) = delete;
    ExecveNormalizer& operator=(const ExecveNormalizer&) = delete;

    /// Handles the event `au` is positioned on; calls the sink once if it is an exec.
    void on_event(auparse_state_t* au);

    const NormalizerCounters& counters() const { return counters_; }
    const ProcessTable& processes() const { return processes_; }
    /// For saving and restoring entity ids across restarts (tail mode).
    ProcessTable& processes() { return processes_; }
    /// The tool files an exec's PATH identity is looked up in (ProcessEvent::inode_tool); null:
    /// none. Live and tail modes only: a replayed log's inodes are another host's.
    void set_tool_inodes(std::shared_ptr<const ToolInodes> tools) { tools_ = std::move(tools); }

private:
    enum class SyscallKind { other, exec, connect, socket };
    SyscallKind read_syscall(auparse_state_t* au);
    bool read_sockaddr(auparse_state_t* au);
    void read_socketcall(auparse_state_t* au);
    bool stamp_event(auparse_state_t* au);
    void link_processes(bool exec);
    void finish_network(auparse_state_t* au, SyscallKind kind, bool have_address);
    void remember_socket();
    void socket_of_connect();
    void read_execve(auparse_state_t* au);
    void read_proctitle(std::string_view raw);
    void read_path(auparse_state_t* au);
    void add_arg_bytes(std::string_view value);
    void add_grandparent(std::int64_t pid);
    void end_arg();
    enum class IdKind { user, group };
    enum class IdSlot : std::uint8_t { user, effective_user, group, effective_group, audit_user };
    static constexpr std::size_t kIdSlots = 5;
    IdName& id_of(IdSlot slot);
    void read_id(auparse_state_t* au, std::string_view field, IdSlot slot, IdKind kind,
                 std::string_view names);
    const std::string& local_name(IdKind kind, const std::string& id);
    void recycle(std::vector<std::string>& strings);
    void add_string(std::vector<std::string>& strings, std::string_view text);

    NormalizerOptions options_;
    Sink sink_;
    ProcessTable processes_;
    ProcessEvent event_;
    std::string event_ref_;
    NormalizerCounters counters_;
    InterpretationCache interpretations_;
    // The argument being built (aN[i] chunks): its full length, and the digest of all of it
    // once it outgrew what is kept.
    std::size_t arg_limit_ = 0;
    std::uint64_t arg_length_ = 0;
    bool arg_hashing_ = false;
    std::size_t args_bytes_ = 0;  // kept bytes of this event's finished arguments
    std::unique_ptr<Digest> digest_;
    // Emptied argument and tag strings whose buffers the next event reuses (at most
    // kSpareStrings of at most kMaxSpareStringBytes: 64 KiB).
    static constexpr std::size_t kSpareStrings = 64;
    static constexpr std::size_t kMaxSpareStringBytes = 1024;
    std::vector<std::string> spare_strings_;
    // Each id as last read, and the last SYSCALL's ENRICHED name list: an id whose raw value
    // and list are the same again is not interpreted again (read_id).
    struct LastId {
        std::string id;
        std::string name;
        bool named = false;  // the reading set the name (else it left it alone)
        bool valid = false;
    };
    std::array<LastId, kIdSlots> last_ids_;
    std::string previous_names_;
    bool same_names_ = false;
    std::unordered_map<std::string, std::string> user_names_;  // id -> name ("" unknown)
    std::unordered_map<std::string, std::string> group_names_;
    std::shared_ptr<const ToolInodes> tools_;
    // The network syscall's arguments a0-a2 (logged in hex) and exit, from its SYSCALL record.
    std::uint64_t args_[3] = {0, 0, 0};
    bool have_args_[3] = {false, false, false};
    std::int64_t exit_ = 0;
    bool have_exit_ = false;
    bool socketcall_ = false;  // the event is an i386 socketcall(2)
    // socket() results: "host\0pid\0fd" -> (family, type, protocol); FIFO-bounded.
    struct SocketInfo {
        int family = 0;
        int type = 0;
        int protocol = 0;
    };
    std::unordered_map<std::string, SocketInfo> sockets_;
    std::vector<std::string> socket_order_;
    std::size_t next_socket_ = 0;
    std::string socket_key_;
};

}  // namespace scanwatch::parsers
