#pragma once
// Which kernel audit rules the loaded scanwatch rules need, and whether the rules the kernel
// holds give them (docs/operations.md, "scanwatch doctor"). Pure: the kernel's rule list comes
// in as values (agent/doctor/kernel_audit.h reads it with libaudit).

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <linux/audit.h>

#include "agent/doctor/findings.h"
#include "rules/rule.h"

namespace scanwatch::agent::doctor {

/// One rule as the kernel lists it (struct audit_rule_data), reduced to what doctor reads.
struct LoadedAuditRule {
    std::uint32_t list = 0;    ///< AUDIT_FILTER_EXIT, AUDIT_FILTER_TASK, ... (flags)
    std::uint32_t action = 0;  ///< AUDIT_ALWAYS or AUDIT_NEVER
    bool has_arch = false;     ///< an `arch=` field; without one the rule counts for the native arch
    std::uint32_t arch = 0;    ///< AUDIT_ARCH_* (ELF machine) when has_arch
    std::array<std::uint32_t, AUDIT_BITMASK_SIZE> mask{};  ///< syscall bit mask
    /// The other fields as auditctl writes them ("a2!=110", "auid=4343"), the key left out.
    std::vector<std::string> conditions;
    std::string key;  ///< -k, empty if none

    bool has_syscall(int number) const;
};

/// Reduces the kernel's struct audit_rule_data (its string fields in `buf`); `size` is the bytes
/// the kernel sent, so a short message reads no further.
LoadedAuditRule loaded_rule_from(const audit_rule_data& data, std::size_t size);

/// One audit rule scanwatch needs: a line of packaging/scanwatch.rules.
struct AuditNeed {
    std::string check;                  ///< finding id, e.g. "audit.rules.exec.b64"
    int machine = 0;                    ///< libaudit machine (MACH_86_64, MACH_X86, ...)
    std::string arch;                   ///< "b64" or "b32"
    std::vector<std::string> syscalls;  ///< every one must be audited
    bool required = true;               ///< missing: a problem; else a warning (32-bit programs)
    std::string purpose;                ///< what goes unseen without it
    std::string rule;                   ///< the auditctl rule that gives it ("-a always,exit ...")
};

/// What a loaded rule set needs: exec rules want execve and execveat, network rules (those the
/// pipeline routes network events to, agent/detection.h) connect and socket, on the native arch
/// and, on x86_64, as 32-bit calls too (socketcall for old 32-bit programs); `machine` is
/// libaudit's (audit_detect_machine()).
std::vector<AuditNeed> audit_needs(bool exec_rules, bool network_rules, int machine);

/// Which kinds of event the rules are given: {exec, network}.
std::pair<bool, bool> rule_event_kinds(
    const std::vector<std::shared_ptr<const rules::RuleDefinition>>& rules);

/// One finding per need: ok (with the conditions that narrow it), missing (the auditctl line to
/// add and how to keep it), or cut off by a `never` rule listed before it; and a problem for a
/// `-a never,task` rule without conditions, which turns syscall auditing off for every process.
void check_audit_rules(const std::vector<AuditNeed>& needs,
                       const std::vector<LoadedAuditRule>& loaded, int machine, Report& report);

}  // namespace scanwatch::agent::doctor
