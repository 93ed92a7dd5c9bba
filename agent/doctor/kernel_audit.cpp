#include "agent/doctor/kernel_audit.h"

#include <libaudit.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace scanwatch::agent::doctor {
namespace {

// An audit netlink socket, closed on every path.
class AuditSocket {
public:
    AuditSocket() {
        set_aumessage_mode(MSG_QUIET, DBG_NO);  // errors come back as values, not on stderr
        fd_ = audit_open();
        // The kernel answers at once; a bound keeps doctor from hanging on a confused socket.
        if (fd_ >= 0) {
            const timeval timeout{5, 0};
            (void)::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        }
    }
    ~AuditSocket() {
        if (fd_ >= 0) audit_close(fd_);
    }
    AuditSocket(const AuditSocket&) = delete;
    AuditSocket& operator=(const AuditSocket&) = delete;
    int fd() const { return fd_; }

private:
    int fd_ = -1;
};

std::string failure(const char* what, int rc) {
    const int error = rc < 0 ? -rc : errno;
    return fmt::format("cannot {} from the kernel's audit: {}", what, std::strerror(error));
}

// The replies to one request until NLMSG_DONE (or, for a single reply, `until_type`): `on_reply`
// sees each of type `type`. An acknowledgement (NLMSG_ERROR 0) is skipped; an error ends it.
template <typename OnReply>
bool replies(int fd, int type, bool until_done, OnReply on_reply, const char* what, std::string& error) {
    // A bound on the replies keeps a confused socket from looping forever.
    for (int i = 0; i < 1'000'000; ++i) {
        audit_reply reply{};
        const int rc = audit_get_reply(fd, &reply, GET_REPLY_BLOCKING, 0);
        if (rc <= 0) {
            error = failure(what, rc == 0 ? -EIO : rc);
            return false;
        }
        if (reply.type == NLMSG_DONE) return true;
        if (reply.type == NLMSG_ERROR) {
            if (reply.error != nullptr && reply.error->error != 0) {
                error = failure(what, reply.error->error);
                return false;
            }
            continue;
        }
        if (reply.type == type) {
            on_reply(reply);
            if (!until_done) return true;
        }
    }
    error = fmt::format("cannot {} from the kernel's audit: no end of the reply", what);
    return false;
}

}  // namespace

bool read_audit_status(KernelAuditStatus& status, std::string& error) {
    AuditSocket socket;
    if (socket.fd() < 0) {
        error = failure("open a socket", -errno);
        return false;
    }
    if (const int rc = audit_request_status(socket.fd()); rc < 0) {
        error = failure("request the status", rc);
        return false;
    }
    return replies(
        socket.fd(), AUDIT_GET, false,
        [&status](const audit_reply& reply) {
            const audit_status& s = *reply.status;
            status.enabled = s.enabled;
            status.failure = s.failure;
            status.pid = s.pid;
            status.rate_limit = s.rate_limit;
            status.backlog_limit = s.backlog_limit;
            status.lost = s.lost;
            status.backlog = s.backlog;
        },
        "read the status", error);
}

bool read_audit_rules(std::vector<LoadedAuditRule>& rules, std::string& error) {
    AuditSocket socket;
    if (socket.fd() < 0) {
        error = failure("open a socket", -errno);
        return false;
    }
    if (const int rc = audit_request_rules_list_data(socket.fd()); rc < 0) {
        error = failure("list the rules", rc);
        return false;
    }
    return replies(
        socket.fd(), AUDIT_LIST_RULES, true,
        [&rules](const audit_reply& reply) {
            // reply.len counts the netlink header too.
            const int size = reply.len - static_cast<int>(NLMSG_HDRLEN);
            if (reply.ruledata == nullptr || size < static_cast<int>(sizeof(audit_rule_data))) return;
            rules.push_back(loaded_rule_from(*reply.ruledata, static_cast<std::size_t>(size)));
        },
        "list the rules", error);
}

}  // namespace scanwatch::agent::doctor
