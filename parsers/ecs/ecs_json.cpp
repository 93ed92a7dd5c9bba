#include "parsers/ecs/ecs_json.h"

#include "parsers/ecs/json_writer.h"

namespace scanwatch {
namespace {

void write_id_name(JsonWriter& w, const IdName& who) {
    if (!who.id.empty()) w.field("id", who.id);
    if (!who.name.empty()) w.field("name", who.name);
}

void write_non_empty(JsonWriter& w, std::string_view key, std::string_view value) {
    if (!value.empty()) w.field(key, value);
}

// host.*: the same in every event.
void write_host(JsonWriter& w, const ProcessEvent& e) {
    w.key("host");
    w.begin_object();
    write_non_empty(w, "id", e.host_id);
    write_non_empty(w, "name", e.host_name);
    w.key("os");
    w.begin_object();
    w.field("type", "linux");
    w.end_object();
    w.end_object();
}

// Opens the process object with what every event has of the process: pid, entity id, name, exe.
void begin_process(JsonWriter& w, const ProcessEvent& e) {
    w.key("process");
    w.begin_object();
    if (e.pid >= 0) w.field("pid", e.pid);
    write_non_empty(w, "entity_id", e.entity_id);
    write_non_empty(w, "name", e.name);
    write_non_empty(w, "executable", e.executable);
}

void write_users(JsonWriter& w, const ProcessEvent& e) {
    w.key("user");
    w.begin_object();
    write_id_name(w, e.user);
    w.key("effective");
    w.begin_object();
    write_id_name(w, e.effective_user);
    w.key("group");
    w.begin_object();
    write_id_name(w, e.effective_group);
    w.end_object();
    w.end_object();
    w.key("audit");
    w.begin_object();
    write_id_name(w, e.audit_user);
    w.end_object();
    w.end_object();

    w.key("group");
    w.begin_object();
    write_id_name(w, e.group);
    w.end_object();
}

// A connect or socket() event, shaped as Auditbeat's (docs/events.md).
void append_network_json(JsonWriter& w, const ProcessEvent& e) {
    const NetworkFields& n = e.network;
    const bool connect = e.kind == EventKind::connect;
    w.begin_object();
    w.field("@timestamp", format_timestamp(e.time_ms));
    w.key("event");
    w.begin_object();
    w.field("kind", "event");
    w.key("category");
    w.begin_array();
    w.value("network");
    w.end_array();
    w.key("type");
    w.begin_array();
    if (connect) {
        w.value("connection");
        w.value("start");
    } else {
        w.value("info");
    }
    w.end_array();
    w.field("action", connect ? "connected-to" : "created-socket");
    w.field("outcome", n.outcome);
    w.field("module", "auditd");
    w.field("sequence", e.serial);
    w.end_object();

    write_host(w, e);

    begin_process(w, e);
    if (!e.args.empty()) {  // from the exec that started the process, when it was seen
        w.key("args");
        w.value(e.args);
        w.field("args_count", e.args_count);
    }
    write_non_empty(w, "title", e.title);
    w.key("parent");
    w.begin_object();
    if (e.ppid >= 0) w.field("pid", e.ppid);
    write_non_empty(w, "entity_id", e.parent_entity_id);
    write_non_empty(w, "executable", e.parent_executable);
    if (e.parent_exec_seen) write_non_empty(w, "name", e.parent_name);
    w.end_object();
    w.end_object();

    write_users(w, e);

    if (connect) {
        w.key("destination");
        w.begin_object();
        write_non_empty(w, "ip", n.destination_ip);
        if (n.destination_port >= 0) w.field("port", n.destination_port);
        w.end_object();
    }
    w.key("network");
    w.begin_object();
    if (connect) w.field("direction", "egress");
    write_non_empty(w, "type", n.type);
    write_non_empty(w, "transport", n.transport);
    w.end_object();

    w.key("auditd");
    w.begin_object();
    w.field("syscall", e.syscall);
    write_non_empty(w, "arch", e.arch);
    write_non_empty(w, "session", e.session);
    w.key("data");
    w.begin_object();
    w.field("exit", n.exit);
    if (!n.socket_family.empty() || !n.socket_type.empty()) {
        w.key("socket");
        w.begin_object();
        write_non_empty(w, "family", n.socket_family);
        write_non_empty(w, "type", n.socket_type);
        w.end_object();
    }
    w.end_object();
    w.end_object();

    if (!e.tags.empty()) {
        w.key("tags");
        w.value(e.tags);
    }
    w.end_object();
}

}  // namespace

void append_event_json(std::string& out, const ProcessEvent& e) {
    JsonWriter w(out);
    if (e.kind != EventKind::exec) {
        append_network_json(w, e);
        return;
    }
    w.begin_object();
    w.field("@timestamp", format_timestamp(e.time_ms));
    w.key("event");
    w.begin_object();
    w.field("kind", "event");
    w.key("category");
    w.begin_array();
    w.value("process");
    w.end_array();
    w.key("type");
    w.begin_array();
    w.value("start");
    w.end_array();
    w.field("action", "executed");
    w.field("outcome", e.success ? "success" : "failure");
    w.field("module", "auditd");
    w.field("sequence", e.serial);
    w.end_object();

    write_host(w, e);

    begin_process(w, e);
    w.key("args");
    w.value(e.args);
    w.field("args_count", e.args_count);
    w.field("command_line", e.command_line());
    write_non_empty(w, "title", e.title);
    write_non_empty(w, "working_directory", e.working_directory);
    w.key("parent");
    w.begin_object();
    if (e.ppid >= 0) w.field("pid", e.ppid);
    write_non_empty(w, "entity_id", e.parent_entity_id);
    write_non_empty(w, "executable", e.parent_executable);
    if (e.parent_exec_seen) {  // else unknown: left out rather than written empty
        write_non_empty(w, "name", e.parent_name);
        w.key("args");
        w.begin_array();
        for_each_packed(e.parent_args, [&w](std::string_view arg) {
            w.value(arg);
            return false;
        });
        w.end_array();
        w.field("args_count", e.parent_args_count);
        w.field("command_line", e.parent_command_line());
    }
    if (!e.grandparent_entity_id.empty()) {  // execs without a login session only
        w.key("parent");
        w.begin_object();
        w.field("pid", e.grandparent_pid);
        w.field("entity_id", e.grandparent_entity_id);
        write_non_empty(w, "executable", e.grandparent_executable);
        w.end_object();
    }
    w.end_object();
    w.end_object();

    write_users(w, e);

    w.key("auditd");
    w.begin_object();
    w.field("syscall", e.syscall);
    write_non_empty(w, "arch", e.arch);
    write_non_empty(w, "session", e.session);
    w.end_object();

    if (!e.tags.empty()) {
        w.key("tags");
        w.value(e.tags);
    }
    w.end_object();
}

}  // namespace scanwatch
