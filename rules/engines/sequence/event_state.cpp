#include "rules/engines/sequence/event_state.h"

#include <stdexcept>
#include <string>

#include "rules/engines/engine_state.h"

namespace scanwatch::rules::detail {
namespace {

// The event's byte strings, by name.
template <typename Visit>
void strings(ProcessEvent& e, Visit visit) {
    visit("host_id", e.host_id);
    visit("host_name", e.host_name);
    visit("syscall", e.syscall);
    visit("arch", e.arch);
    visit("name", e.name);
    visit("executable", e.executable);
    visit("title", e.title);
    visit("working_directory", e.working_directory);
    visit("entity_id", e.entity_id);
    visit("parent_entity_id", e.parent_entity_id);
    visit("parent_executable", e.parent_executable);
    visit("parent_name", e.parent_name);
    visit("parent_args", e.parent_args);
    visit("grandparent_entity_id", e.grandparent_entity_id);
    visit("grandparent_executable", e.grandparent_executable);
    visit("user_id", e.user.id);
    visit("user_name", e.user.name);
    visit("euser_id", e.effective_user.id);
    visit("euser_name", e.effective_user.name);
    visit("group_id", e.group.id);
    visit("group_name", e.group.name);
    visit("egroup_id", e.effective_group.id);
    visit("egroup_name", e.effective_group.name);
    visit("audit_user_id", e.audit_user.id);
    visit("audit_user_name", e.audit_user.name);
    visit("session", e.session);
    visit("inode_tool", e.inode_tool);
    visit("destination_ip", e.network.destination_ip);
    visit("transport", e.network.transport);
    visit("network_type", e.network.type);
    visit("socket_family", e.network.socket_family);
    visit("socket_type", e.network.socket_type);
    visit("outcome", e.network.outcome);
}

template <typename Visit>
void integers(ProcessEvent& e, Visit visit) {
    visit("time_ms", e.time_ms);
    visit("pid", e.pid);
    visit("ppid", e.ppid);
    visit("grandparent_pid", e.grandparent_pid);
    visit("destination_port", e.network.destination_port);
    visit("exit", e.network.exit);
}

template <typename Visit>
void unsigned_integers(ProcessEvent& e, Visit visit) {
    visit("serial", e.serial);
    visit("args_count", e.args_count);
    visit("parent_args_count", e.parent_args_count);
    visit("inode", e.inode);
    visit("device", e.device);
}

template <typename Visit>
void flags(ProcessEvent& e, Visit visit) {
    visit("success", e.success);
    visit("parent_exec_seen", e.parent_exec_seen);
    visit("parent_untraced", e.parent_untraced);
    visit("has_inode", e.has_inode);
}

}  // namespace

std::size_t event_bytes(const ProcessEvent& event) {
    ProcessEvent& e = const_cast<ProcessEvent&>(event);  // the visitor only reads here
    std::size_t n = sizeof(ProcessEvent);
    strings(e, [&](const char*, const std::string& v) { n += v.size(); });
    for (const auto& a : e.args) n += a.size() + sizeof(std::string);
    for (const auto& t : e.tags) n += t.size() + sizeof(std::string);
    return n;
}

nlohmann::json event_to_state(const ProcessEvent& event) {
    ProcessEvent& e = const_cast<ProcessEvent&>(event);  // the visitors only read here
    nlohmann::json out = nlohmann::json::object();
    out["kind"] = static_cast<int>(e.kind);
    strings(e, [&](const char* name, const std::string& v) { out[name] = hex(v); });
    integers(e, [&](const char* name, std::int64_t v) { out[name] = v; });
    unsigned_integers(e, [&](const char* name, std::uint64_t v) { out[name] = v; });
    flags(e, [&](const char* name, bool v) { out[name] = v; });
    out["args"] = hex_list(e.args);
    out["tags"] = hex_list(e.tags);
    return out;
}

ProcessEvent event_from_state(const nlohmann::json& state) {
    ProcessEvent e;
    const std::int64_t kind = get_int64(state.at("kind"));
    if (kind < 0 || kind > static_cast<int>(EventKind::socket)) {
        throw std::invalid_argument("event kind");
    }
    e.kind = static_cast<EventKind>(kind);
    strings(e, [&](const char* name, std::string& v) { v = unhex(state.at(name).get<std::string>()); });
    integers(e, [&](const char* name, std::int64_t& v) { v = get_int64(state.at(name)); });
    unsigned_integers(e, [&](const char* name, std::uint64_t& v) { v = get_uint64(state.at(name)); });
    flags(e, [&](const char* name, bool& v) { v = state.at(name).get<bool>(); });
    e.args = unhex_list(state.at("args"));
    e.tags = unhex_list(state.at("tags"));
    return e;
}

}  // namespace scanwatch::rules::detail
