#pragma once
// The kernel's audit state through libaudit's netlink calls (audit_request_status,
// audit_request_rules_list_data, audit_get_reply): what `auditctl -s` and `auditctl -l` show,
// as values. Needs CAP_AUDIT_CONTROL (root).

#include <cstdint>
#include <string>
#include <vector>

#include "agent/doctor/audit_rules.h"

namespace scanwatch::agent::doctor {

/// struct audit_status as the kernel reports it.
struct KernelAuditStatus {
    std::uint32_t enabled = 0;  ///< 0 off, 1 on, 2 on and locked
    std::uint32_t failure = 0;  ///< 0 silent, 1 printk, 2 panic
    std::uint32_t pid = 0;      ///< the registered audit daemon, 0 when none
    std::uint32_t rate_limit = 0;
    std::uint32_t backlog_limit = 0;
    std::uint32_t lost = 0;     ///< records dropped since boot
    std::uint32_t backlog = 0;  ///< records waiting for the daemon now
};

/// Reads the status; false with `error` ("cannot talk to the kernel's audit: ...") when it cannot.
bool read_audit_status(KernelAuditStatus& status, std::string& error);

/// Reads the rules the kernel holds, in the order it evaluates them; false with `error`.
bool read_audit_rules(std::vector<LoadedAuditRule>& rules, std::string& error);

}  // namespace scanwatch::agent::doctor
