#include "agent/doctor/audit_rules.h"

#include <libaudit.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "agent/detection.h"

namespace scanwatch::agent::doctor {
namespace {

// Fields whose value is a string in `buf` (the kernel's audit_rule_data), not a number.
bool is_string_field(std::uint32_t field) {
    switch (field) {
        case AUDIT_WATCH:
        case AUDIT_DIR:
        case AUDIT_FILTERKEY:
        case AUDIT_EXE:
        case AUDIT_SUBJ_USER:
        case AUDIT_SUBJ_ROLE:
        case AUDIT_SUBJ_TYPE:
        case AUDIT_SUBJ_SEN:
        case AUDIT_SUBJ_CLR:
        case AUDIT_OBJ_USER:
        case AUDIT_OBJ_ROLE:
        case AUDIT_OBJ_TYPE:
        case AUDIT_OBJ_LEV_LOW:
        case AUDIT_OBJ_LEV_HIGH:
            return true;
        default:
            return false;
    }
}

// Conditions on the arguments (a0-a3) only shape which calls are kept, as the shipped rules do
// (`a2!=110`); any other condition (auid=, uid=, exe=) leaves whole processes unseen.
bool argument_condition(const std::string& condition) {
    return condition.size() > 2 && condition[0] == 'a' && condition[1] >= '0' && condition[1] <= '3' &&
           (condition[2] == '=' || condition[2] == '!' || condition[2] == '<' || condition[2] == '>' ||
            condition[2] == '&');
}

enum class Cover { audited, missing, suppressed };

struct Coverage {
    Cover cover = Cover::missing;
    std::vector<std::string> only_where;  // conditions of the always rules that match
    std::vector<std::string> conditions;  // the same, one by one
    std::vector<std::string> keys;
};

// How the exit list treats (arch, syscall): the kernel takes the first rule whose fields all
// match, so a `never` rule without conditions ends the search.
Coverage coverage(const std::vector<LoadedAuditRule>& loaded, std::uint32_t arch, bool native,
                  int number) {
    Coverage c;
    bool conditional_only = true;
    for (const LoadedAuditRule& r : loaded) {
        if ((r.list & ~AUDIT_FILTER_PREPEND) != AUDIT_FILTER_EXIT) continue;
        if (!(r.has_arch ? r.arch == arch : native) || !r.has_syscall(number)) continue;
        if (r.action == AUDIT_NEVER) {
            if (!r.conditions.empty()) continue;
            if (c.cover != Cover::audited) c.cover = Cover::suppressed;
            return c;
        }
        if (r.action != AUDIT_ALWAYS) continue;
        c.cover = Cover::audited;
        if (!r.key.empty() && std::find(c.keys.begin(), c.keys.end(), r.key) == c.keys.end()) {
            c.keys.push_back(r.key);
        }
        if (r.conditions.empty()) {
            conditional_only = false;
            break;
        }
        c.only_where.push_back(fmt::format("{}", fmt::join(r.conditions, " and ")));
        c.conditions.insert(c.conditions.end(), r.conditions.begin(), r.conditions.end());
    }
    if (!conditional_only) {
        c.only_where.clear();
        c.conditions.clear();
    }
    return c;
}

std::string join(const std::vector<std::string>& items, const char* separator) {
    return fmt::format("{}", fmt::join(items, separator));
}

constexpr const char* kKeepRules =
    "keep them across reboots: install -m 0640 /usr/share/scanwatch/scanwatch.rules "
    "/etc/audit/rules.d/scanwatch.rules && augenrules --load";

}  // namespace

bool LoadedAuditRule::has_syscall(int number) const {
    if (number < 0 || number >= AUDIT_BITMASK_SIZE * 32) return false;
    const auto n = static_cast<std::size_t>(number);
    return (mask[n / 32] & (1U << (n % 32))) != 0;
}

LoadedAuditRule loaded_rule_from(const audit_rule_data& data, std::size_t size) {
    LoadedAuditRule r;
    r.list = data.flags;
    r.action = data.action;
    std::copy(std::begin(data.mask), std::end(data.mask), r.mask.begin());
    const std::size_t fields = std::min<std::size_t>(data.field_count, AUDIT_MAX_FIELDS);
    const std::size_t buf_size =
        size > sizeof(audit_rule_data) ? std::min<std::size_t>(size - sizeof(audit_rule_data), data.buflen) : 0;
    std::size_t offset = 0;
    for (std::size_t i = 0; i < fields; ++i) {
        const std::uint32_t field = data.fields[i];
        const std::uint32_t op = data.fieldflags[i];
        const std::uint32_t value = data.values[i];
        if (field == AUDIT_ARCH && op == AUDIT_EQUAL) {
            r.has_arch = true;
            r.arch = value;
            continue;
        }
        const char* name = audit_field_to_name(static_cast<int>(field));
        const char* symbol = audit_operator_to_symbol(static_cast<int>(op));
        std::string text;
        if (is_string_field(field)) {
            const std::size_t length = offset < buf_size ? std::min<std::size_t>(value, buf_size - offset) : 0;
            text.assign(data.buf + offset, length);
            offset += value;
            if (field == AUDIT_FILTERKEY) {
                r.key = text;
                continue;
            }
        } else {
            text = std::to_string(value);
        }
        r.conditions.push_back(fmt::format("{}{}{}", name != nullptr ? name : std::to_string(field),
                                           symbol != nullptr ? symbol : "?", text));
    }
    return r;
}

std::vector<AuditNeed> audit_needs(bool exec_rules, bool network_rules, int machine) {
    // The lines of packaging/scanwatch.rules (docs/live.md, "Audit rules").
    std::vector<AuditNeed> needs;
    const bool compat = machine == MACH_86_64;  // 32-bit programs on a 64-bit x86 kernel
    if (exec_rules) {
        needs.push_back({"audit.rules.exec.b64", machine, "b64", {"execve", "execveat"}, true,
                         "exec rules see no program start",
                         "-a always,exit -F arch=b64 -S execve,execveat -k scanwatch-exec"});
        if (compat) {
            needs.push_back({"audit.rules.exec.b32", MACH_X86, "b32", {"execve", "execveat"}, false,
                             "exec rules miss 32-bit programs",
                             "-a always,exit -F arch=b32 -S execve,execveat -k scanwatch-exec"});
        }
    }
    if (network_rules) {
        needs.push_back({"audit.rules.connect.b64", machine, "b64", {"connect"}, true,
                         "network rules see no connection",
                         "-a always,exit -F arch=b64 -S connect -F a2!=110 -k scanwatch-net"});
        needs.push_back({"audit.rules.socket.b64", machine, "b64", {"socket"}, true,
                         "network rules see no socket (raw sockets, a connect's transport)",
                         "-a always,exit -F arch=b64 -S socket -F a0!=1 -F a0!=16 -k scanwatch-net"});
        if (compat) {
            needs.push_back({"audit.rules.connect.b32", MACH_X86, "b32", {"connect"}, false,
                             "network rules miss 32-bit programs",
                             "-a always,exit -F arch=b32 -S connect -F a2!=110 -k scanwatch-net"});
            needs.push_back({"audit.rules.socket.b32", MACH_X86, "b32", {"socket"}, false,
                             "network rules miss 32-bit programs",
                             "-a always,exit -F arch=b32 -S socket -F a0!=1 -F a0!=16 -k scanwatch-net"});
            needs.push_back({"audit.rules.socketcall.b32", MACH_X86, "b32", {"socketcall"}, false,
                             "network rules miss old 32-bit programs that use socketcall(2)",
                             "-a always,exit -F arch=b32 -S socketcall -F a0=3 -k scanwatch-net"});
        }
    }
    return needs;
}

std::pair<bool, bool> rule_event_kinds(
    const std::vector<std::shared_ptr<const rules::RuleDefinition>>& rules) {
    bool exec = false;
    bool network = false;
    for (const auto& rule : rules) {
        const RuleRoute route = route_rule(*rule);
        exec = exec || route.exec;
        network = network || route.network;
    }
    return {exec, network};
}

void check_audit_rules(const std::vector<AuditNeed>& needs,
                       const std::vector<LoadedAuditRule>& loaded, int machine, Report& report) {
    for (const LoadedAuditRule& r : loaded) {
        if ((r.list & ~AUDIT_FILTER_PREPEND) == AUDIT_FILTER_TASK && r.action == AUDIT_NEVER &&
            r.conditions.empty()) {
            report.add("audit.rules.task_never", Status::problem,
                       "a `-a never,task` rule turns syscall auditing off for every process",
                       {"auditctl -d never,task",
                        "remove it from /etc/audit/rules.d/*.rules, then augenrules --load"});
        }
    }
    for (const AuditNeed& need : needs) {
        const std::uint32_t arch = audit_machine_to_elf(need.machine);
        const bool native = need.machine == machine;
        std::vector<std::string> missing;
        std::vector<std::string> suppressed;
        std::vector<std::string> only_where;
        std::vector<std::string> keys;
        bool narrowed = false;
        for (const std::string& name : need.syscalls) {
            const int number = audit_name_to_syscall(name.c_str(), need.machine);
            const Coverage c = number < 0 ? Coverage{} : coverage(loaded, arch, native, number);
            if (c.cover == Cover::missing) missing.push_back(name);
            if (c.cover == Cover::suppressed) suppressed.push_back(name);
            for (const auto& w : c.only_where) {
                if (std::find(only_where.begin(), only_where.end(), w) == only_where.end()) only_where.push_back(w);
            }
            narrowed = narrowed || std::any_of(c.conditions.begin(), c.conditions.end(),
                                               [](const std::string& w) { return !argument_condition(w); });
            for (const auto& k : c.keys) {
                if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
            }
        }
        const Status absent = need.required ? Status::problem : Status::warning;
        const std::string calls = join(need.syscalls, ", ");
        if (!suppressed.empty()) {
            report.add(need.check, absent,
                       fmt::format("a `never` rule listed before any `always` rule drops {} ({}): {}",
                                   join(suppressed, ", "), need.arch, need.purpose),
                       {"find it in `auditctl -l`, remove it from /etc/audit/rules.d/*.rules, then "
                        "augenrules --load",
                        fmt::format("auditctl {}", need.rule)});
        } else if (!missing.empty()) {
            report.add(need.check, absent,
                       fmt::format("no audit rule for {} ({}): {}", join(missing, ", "), need.arch,
                                   need.purpose),
                       {fmt::format("auditctl {}", need.rule), kKeepRules});
        } else {
            std::string message = fmt::format("{} ({}) audited", calls, need.arch);
            if (!keys.empty()) message += fmt::format(" (key {})", join(keys, ", "));
            if (!only_where.empty()) message += fmt::format(" only where {}", join(only_where, " or "));
            if (narrowed) {
                report.add(need.check, Status::warning,
                           message + ": programs outside those conditions go unseen",
                           {fmt::format("auditctl {}", need.rule), kKeepRules});
            } else {
                report.add(need.check, Status::ok, message);
            }
        }
    }
}

}  // namespace scanwatch::agent::doctor
