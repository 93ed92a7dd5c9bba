#pragma once
// What doctor checks on the host itself: whether the configured user can write where scanwatch
// writes after the privilege drop, and who reads auditd's af_unix socket.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/settings.h"

namespace scanwatch::agent::doctor {

/// One access the run needs after the switch to its user (docs/operations.md, "Privileges"):
/// file outputs, the stats file and the state file are reopened or replaced as that user.
struct AccessNeed {
    std::string path;
    int mode = 0;      ///< access(2) mode: W_OK, or W_OK | X_OK for a folder
    std::string what;  ///< "alerts output file:/var/log/scanwatch/alerts.ndjson", ...
};

/// The accesses `s` needs: each file's folder (write and search: a reopen after rotation creates
/// the file, the state file is replaced by a rename) and the file itself where `exists` says it
/// is there.
std::vector<AccessNeed> access_needs(const Settings& s,
                                     const std::function<bool(const std::string&)>& exists);

/// errno of faccessat(AT_EACCESS) for each need, 0 when allowed, checked as `uid`/`gid` with no
/// supplementary groups in a forked child (as root; uid 0: in this process). Throws
/// std::runtime_error when the child cannot be made.
std::vector<int> check_access_as(uid_t uid, gid_t gid, const std::vector<AccessNeed>& needs);

/// A process connected to a listening unix socket.
struct SocketReader {
    int pid = 0;
    std::string comm;
    std::string exe;
};

/// The processes connected to the unix socket bound at `path` (sock_diag: the peers of the
/// listener's accepted sockets, found in /proc/PID/fd). false with `error` when sock_diag is not
/// there (no unix_diag module): then see connected_unix_sockets().
bool unix_socket_readers(const std::string& path, std::vector<SocketReader>& readers,
                         std::string& error);

/// How many connected (state 03) sockets /proc/net/unix lists with this path: the listener's
/// accepted ends, one per reader. `text` is the file's content.
int connected_unix_sockets(std::string_view proc_net_unix, std::string_view path);

}  // namespace scanwatch::agent::doctor
