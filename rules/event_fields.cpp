#include "rules/event_fields.h"

#include <array>

#include <fmt/format.h>

namespace scanwatch::rules {
namespace {

enum Field : int {
    kEventCategory,
    kEventType,
    kEventAction,
    kEventKind,
    kEventOutcome,
    kEventModule,
    kHostOsType,
    kHostId,
    kHostName,
    kProcessName,
    kProcessExecutable,
    kProcessArgs,
    kProcessArgsCount,
    kProcessCommandLine,
    kProcessTitle,
    kProcessWorkingDirectory,
    kProcessPid,
    kProcessEntityId,
    kProcessParentPid,
    kProcessParentEntityId,
    kProcessParentExecutable,
    kUserId,
    kUserName,
    kUserEffectiveId,
    kUserEffectiveName,
    kGroupId,
    kGroupName,
    kUserAuditId,
    kUserAuditName,
    kTags,
    kAuditdSession,
    kProcessParentName,
    kProcessParentArgs,
    kProcessParentArgsCount,
    kProcessParentCommandLine,
    kProcessParentParentPid,
    kProcessParentParentEntityId,
    kProcessParentParentExecutable,
    kDestinationIp,
    kDestinationPort,
    kNetworkTransport,
    kNetworkType,
    kNetworkDirection,
    kSocketFamily,
    kSocketType,
    kAuditdSyscall,
    kFieldCount
};

constexpr std::array<std::string_view, kFieldCount> kNames = {
    "event.category",
    "event.type",
    "event.action",
    "event.kind",
    "event.outcome",
    "event.module",
    "host.os.type",
    "host.id",
    "host.name",
    "process.name",
    "process.executable",
    "process.args",
    "process.args_count",
    "process.command_line",
    "process.title",
    "process.working_directory",
    "process.pid",
    "process.entity_id",
    "process.parent.pid",
    "process.parent.entity_id",
    "process.parent.executable",
    "user.id",
    "user.name",
    "user.effective.id",
    "user.effective.name",
    "group.id",
    "group.name",
    "user.audit.id",
    "user.audit.name",
    "tags",
    "auditd.session",
    "process.parent.name",
    "process.parent.args",
    "process.parent.args_count",
    "process.parent.command_line",
    "process.parent.parent.pid",
    "process.parent.parent.entity_id",
    "process.parent.parent.executable",
    "destination.ip",
    "destination.port",
    "network.transport",
    "network.type",
    "network.direction",
    "auditd.data.socket.family",
    "auditd.data.socket.type",
    "auditd.syscall",
};

bool is_multicall(std::string_view name) { return name == "busybox" || name == "toybox"; }

// The dynamic loader run as a program: ld-linux-x86-64.so.2, ld-linux-aarch64.so.1,
// ld-musl-x86_64.so.1, ld.so.
bool is_loader(std::string_view name) {
    return name == "ld.so" ||
           (name.substr(0, 3) == "ld-" && name.find(".so") != std::string_view::npos);
}

// The program a directly run loader runs: its first argument that is not a loader option
// (`ld.so [--library-path P] [--preload P] ... PROGRAM ARGS`); empty if none.
std::string_view loader_program(const std::vector<std::string>& args) {
    for (std::size_t i = 1; i < args.size(); ++i) {
        const std::string_view a = args[i];
        if (a.substr(0, 2) != "--") return a;
        if (a.find('=') != std::string_view::npos) continue;  // --option=value
        if (a == "--library-path" || a == "--inhibit-rpath" || a == "--audit" ||
            a == "--preload" || a == "--argv0" || a == "--glibc-hwcaps-prepend" ||
            a == "--glibc-hwcaps-mask") {
            ++i;  // its value
        }
    }
    return {};
}

bool visit_nonempty(std::string_view v, const std::function<bool(std::string_view)>& visit) {
    return !v.empty() && visit(v);
}

}  // namespace

bool parse_name_match(std::string_view text, NameMatch& out) {
    return parse_enum(text, kNameMatchNames, out);
}

int FieldCatalog::resolve(std::string_view name) {
    for (int i = 0; i < kFieldCount; ++i) {
        if (kNames[static_cast<std::size_t>(i)] == name) return i;
    }
    for (std::size_t i = 0; i < unknown_.size(); ++i) {
        if (unknown_[i] == name) return kFieldCount + static_cast<int>(i);
    }
    unknown_.emplace_back(name);
    return kFieldCount + static_cast<int>(unknown_.size() - 1);
}

int FieldCatalog::known_id(std::string_view name) {
    for (int i = 0; i < kFieldCount; ++i) {
        if (kNames[static_cast<std::size_t>(i)] == name) return i;
    }
    return -1;
}

bool FieldCatalog::is_known(int id) { return id >= 0 && id < kFieldCount; }

std::string_view FieldCatalog::name_of(int id) {
    return is_known(id) ? kNames[static_cast<std::size_t>(id)] : std::string_view{};
}

FieldResolver FieldCatalog::resolver() {
    return [this](std::string_view name) { return resolve(name); };
}

bool EventFields::any_value(int field_id,
                            const std::function<bool(std::string_view)>& visit) const {
    const ProcessEvent& e = event_;
    std::string scratch;
    switch (field_id) {
        case kProcessName: {
            if (visit_nonempty(e.name, visit)) return true;
            // A failed exec ran nothing new: argv[0] and the applet never executed.
            if (name_match_ == NameMatch::comm || !e.success) return false;
            const std::string_view exe_base = basename_of(e.executable);
            if (!exe_base.empty() && exe_base != e.name && visit(exe_base)) return true;
            const std::string_view argv0 =
                e.args.empty() ? std::string_view{} : basename_of(e.args.front());
            if (!argv0.empty() && argv0 != e.name && argv0 != exe_base && visit(argv0)) return true;
            if ((is_multicall(exe_base) || is_multicall(argv0)) && e.args.size() > 1 &&
                visit_nonempty(basename_of(e.args[1]), visit)) {
                return true;
            }
            if ((is_loader(exe_base) || is_loader(argv0)) &&
                visit_nonempty(basename_of(loader_program(e.args)), visit)) {
                return true;
            }
            // A hard link of a tool (same device and inode), found in live modes.
            return visit_nonempty(e.inode_tool, visit);
        }
        case kProcessArgs:
            for (const auto& arg : e.args) {
                if (visit(arg)) return true;
            }
            return false;
        case kTags:
            for (const auto& tag : e.tags) {
                if (visit(tag)) return true;
            }
            return false;
        case kProcessParentArgs:
            return for_each_packed(e.parent_args, visit);
        case kEventType:
            if (e.kind == EventKind::connect) return visit("connection") || visit("start");
            return visit(first_value(field_id, scratch));
        default: {
            const std::string_view v = first_value(field_id, scratch);
            return visit_nonempty(v, visit);
        }
    }
}

std::string_view EventFields::first_value(int field_id, std::string& scratch) const {
    const ProcessEvent& e = event_;
    const auto number = [&scratch](std::int64_t n) -> std::string_view {
        if (n < 0) return {};
        scratch = fmt::format("{}", n);
        return scratch;
    };
    switch (field_id) {
        case kEventCategory: return e.kind == EventKind::exec ? "process" : "network";
        case kEventType:
            return e.kind == EventKind::exec      ? "start"
                   : e.kind == EventKind::connect ? "connection"
                                                  : "info";
        case kEventAction:
            return e.kind == EventKind::exec      ? "executed"
                   : e.kind == EventKind::connect ? "connected-to"
                                                  : "created-socket";
        case kEventKind: return "event";
        case kEventOutcome:
            if (e.kind != EventKind::exec) return e.network.outcome;
            return e.success ? "success" : "failure";
        case kEventModule: return "auditd";
        case kHostOsType: return "linux";
        case kHostId: return e.host_id;
        case kHostName: return e.host_name;
        case kProcessName: return e.name;
        case kProcessExecutable: return e.executable;
        case kProcessArgs: return e.args.empty() ? std::string_view{} : e.args.front();
        case kProcessArgsCount: return number(static_cast<std::int64_t>(e.args_count));
        case kProcessCommandLine:
            scratch = e.command_line();
            return scratch;
        case kProcessTitle: return e.title;
        case kProcessWorkingDirectory: return e.working_directory;
        case kProcessPid: return number(e.pid);
        case kProcessEntityId: return e.entity_id;
        case kProcessParentPid: return number(e.ppid);
        case kProcessParentEntityId: return e.parent_entity_id;
        case kProcessParentExecutable: return e.parent_executable;
        case kUserId: return e.user.id;
        case kUserName: return e.user.name;
        case kUserEffectiveId: return e.effective_user.id;
        case kUserEffectiveName: return e.effective_user.name;
        case kGroupId: return e.group.id;
        case kGroupName: return e.group.name;
        case kUserAuditId: return e.audit_user.id;
        case kUserAuditName: return e.audit_user.name;
        case kTags: return e.tags.empty() ? std::string_view{} : e.tags.front();
        case kAuditdSession: return e.session;
        case kProcessParentName: return e.parent_name;
        case kProcessParentArgs: {
            const std::size_t end = e.parent_args.find('\0');
            return std::string_view(e.parent_args).substr(0, end);
        }
        case kProcessParentArgsCount:
            if (!e.parent_exec_seen) return {};
            return number(static_cast<std::int64_t>(e.parent_args_count));
        case kProcessParentCommandLine:
            if (!e.parent_exec_seen) return {};
            scratch = e.parent_command_line();
            return scratch;
        case kProcessParentParentPid: return number(e.grandparent_pid);
        case kProcessParentParentEntityId: return e.grandparent_entity_id;
        case kProcessParentParentExecutable: return e.grandparent_executable;
        case kDestinationIp: return e.network.destination_ip;
        case kDestinationPort: return number(e.network.destination_port);
        case kNetworkTransport: return e.network.transport;
        case kNetworkType: return e.network.type;
        case kNetworkDirection: return e.kind == EventKind::connect ? "egress" : "";
        case kSocketFamily: return e.network.socket_family;
        case kSocketType: return e.network.socket_type;
        case kAuditdSyscall: return e.syscall;
        default: return {};
    }
}

}  // namespace scanwatch::rules
