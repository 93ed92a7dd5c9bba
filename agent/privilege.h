#pragma once
// Least privilege for the live modes (docs/operations.md, "Privileges"): after a mode has opened
// what it needs as root, it switches to an unprivileged user and keeps at most one capability.

#include <sys/types.h>

#include <string>
#include <utility>

namespace scanwatch::agent {

/// What a mode keeps after the switch.
enum class KeptCapability {
    none,         ///< plugin, socket: nothing (stdin, the socket and the outputs are open)
    read_search,  ///< tail: CAP_DAC_READ_SEARCH, to reopen /var/log/audit/audit.log on rotation
};

/// Switches the process to `user` (a name or a numeric uid; its primary group, no supplementary
/// groups) and leaves only `keep` in the permitted and effective sets, nothing inheritable,
/// nothing ambient, an empty bounding set and no_new_privs. Looks the user up before switching.
/// Throws std::runtime_error naming the user and the reason when it cannot.
void drop_privileges(const std::string& user, KeptCapability keep);

/// The uid and primary gid of `user` (a name, or a number), as drop_privileges() would switch
/// to. Throws std::runtime_error naming the user when it is unknown.
std::pair<uid_t, gid_t> user_ids(const std::string& user);

/// The capability a mode keeps: read_search for tail, none otherwise.
KeptCapability kept_capability(bool tail_mode);

}  // namespace scanwatch::agent
