#include "agent/privilege.h"

#include <cap-ng.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace scanwatch::agent {
namespace {

struct Ids {
    uid_t uid = 0;
    gid_t gid = 0;
};

// A name, or a number for a uid without a passwd entry (its group is then the same number).
Ids look_up(const std::string& user) {
    errno = 0;
    if (const passwd* pw = ::getpwnam(user.c_str()); pw != nullptr) return {pw->pw_uid, pw->pw_gid};
    unsigned long number = 0;
    const char* end = user.data() + user.size();
    if (!user.empty() && std::from_chars(user.data(), end, number).ptr == end &&
        number < 0xffffffffUL) {
        const auto id = static_cast<uid_t>(number);
        if (const passwd* pw = ::getpwuid(id); pw != nullptr) return {pw->pw_uid, pw->pw_gid};
        return {id, static_cast<gid_t>(id)};
    }
    throw std::runtime_error(fmt::format("cannot switch to user {}: {}", user,
                                         errno != 0 ? std::strerror(errno) : "no such user"));
}

}  // namespace

std::pair<uid_t, gid_t> user_ids(const std::string& user) {
    const Ids ids = look_up(user);
    return {ids.uid, ids.gid};
}

KeptCapability kept_capability(bool tail_mode) {
    return tail_mode ? KeptCapability::read_search : KeptCapability::none;
}

void drop_privileges(const std::string& user, KeptCapability keep) {
    const Ids ids = look_up(user);
    capng_clear(CAPNG_SELECT_BOTH);  // capabilities and the bounding set
    if (keep == KeptCapability::read_search) {
        capng_update(CAPNG_ADD, static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED),
                     CAP_DAC_READ_SEARCH);
    }
    int rc = 0;
    if (::geteuid() == ids.uid && ::getuid() == ids.uid) {
        // Already that user (systemd's User=): only the capabilities to trim.
        rc = capng_apply(CAPNG_SELECT_CAPS);
    } else {
        // libcap-ng keeps the capabilities across setresuid (PR_SET_KEEPCAPS) and clears the
        // bounding set while it still may; setresuid/setresgid reach every thread (glibc).
        rc = capng_change_id(static_cast<int>(ids.uid), static_cast<int>(ids.gid),
                             static_cast<capng_flags_t>(CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING));
    }
    if (rc != 0) {
        throw std::runtime_error(fmt::format("cannot switch to user {} (uid {}, gid {}): {}", user,
                                             ids.uid, ids.gid,
                                             errno != 0 ? std::strerror(errno) : "libcap-ng failed"));
    }
    // Nothing this process runs later may gain privileges back.
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        throw std::runtime_error(
            fmt::format("cannot set no_new_privs after switching to {}: {}", user, std::strerror(errno)));
    }
}

}  // namespace scanwatch::agent
