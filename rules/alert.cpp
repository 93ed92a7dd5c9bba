#include "rules/alert.h"

#include <algorithm>

#include <fmt/format.h>
#include <xxhash.h>

#include "parsers/ecs/json_writer.h"
#include "parsers/ecs/ecs_json.h"
#include "rules/alert_caps.h"
#include "rules/event_fields.h"

namespace scanwatch::rules {
namespace {

// Kibana's reason sentence for a process event: "process event with process P, parent process
// Q, by U on H created SEVERITY alert NAME." (parts without a value left out).
std::string event_reason(const Alert& alert) {
    const ProcessEvent& e = *alert.event;
    std::string out = "process event";
    if (!e.name.empty()) out += fmt::format(" with process {}", e.name);
    const std::string_view parent =
        !e.parent_name.empty() ? std::string_view(e.parent_name) : basename_of(e.parent_executable);
    if (!parent.empty()) {
        out += fmt::format("{} parent process {}", e.name.empty() ? " with" : ",", parent);
    }
    if (!e.user.name.empty()) out += fmt::format(", by {}", e.user.name);
    if (!e.host_name.empty()) out += fmt::format(" on {}", e.host_name);
    out += fmt::format(" created {} alert {}.", alert.rule->severity, alert.rule->name);
    return out;
}

void write_id_name(JsonWriter& w, std::string_view id, std::string_view name) {
    if (!id.empty()) w.field("id", id);
    if (!name.empty()) w.field("name", name);
}

std::string_view term(const Alert& alert, std::string_view field) {
    for (const auto& [f, v] : alert.terms) {
        if (f == field) return v;
    }
    return {};
}

}  // namespace

namespace {

void write_threat(JsonWriter& w, const RuleDefinition& rule) {
    w.begin_array();
    for (const auto& t : rule.threat) {
        w.begin_object();
        w.field("framework", t.framework);
        w.key("tactic");
        w.begin_object();
        w.field("id", t.tactic.id);
        w.field("name", t.tactic.name);
        w.field("reference", t.tactic.reference);
        w.end_object();
        w.key("technique");
        w.begin_array();
        for (const auto& tech : t.techniques) {
            w.begin_object();
            w.field("id", tech.id);
            w.field("name", tech.name);
            w.field("reference", tech.reference);
            w.end_object();
        }
        w.end_array();
        w.end_object();
    }
    w.end_array();
}

}  // namespace

void write_event_ref(JsonWriter& w, std::string_view name, const EventRef& ref) {
    w.key(name);
    w.begin_object();
    w.field("id", ref.id);
    w.field("time", format_timestamp(ref.time_ms));
    w.end_object();
}

void end_alert(JsonWriter& w, const RuleDefinition& rule) {
    w.end_object();  // scanwatch.evidence
    w.field("rule_source", rule.source);
    w.end_object();  // scanwatch
    w.end_object();  // the alert
}

void write_rule_fields(JsonWriter& w, const RuleDefinition& rule, bool with_language) {
    w.field("kibana.alert.rule.rule_id", rule.rule_id);
    w.field("kibana.alert.rule.name", rule.name);
    w.field("kibana.alert.rule.type", rule.type);
    if (with_language) w.field("kibana.alert.rule.language", rule.language);
    w.field("kibana.alert.rule.severity", rule.severity);
    w.field("kibana.alert.rule.risk_score", rule.risk_score);
    w.key("kibana.alert.rule.threat");
    write_threat(w, rule);
    w.field("kibana.alert.rule.from", rule.from_text);
    w.field("kibana.alert.rule.interval", rule.interval_text);
    w.field("kibana.alert.rule.version", rule.version);
    w.field("kibana.alert.severity", rule.severity);
    w.field("kibana.alert.risk_score", rule.risk_score);
}

void fill_evidence(Evidence& ev, const ProcessEvent& event) {
    ev.process_name = event.name;
    ev.process_pid = event.pid;
    ev.parent_pid = event.ppid;
    ev.parent_executable = event.parent_executable;
    ev.grandparent_pid = event.grandparent_pid;
    ev.grandparent_executable = event.grandparent_executable;
    ev.user_id = event.user.id;
    ev.user_name = event.user.name;
    ev.audit_user_id = event.audit_user.id;
    ev.audit_user_name = event.audit_user.name;
    ev.working_directory = event.working_directory;
}

std::uint64_t add_sample_command(std::vector<std::string>& samples, std::size_t max,
                                 const ProcessEvent& event) {
    if (samples.size() >= max) return 0;
    bool cut = false;
    samples.push_back(capped_command_line(event, limits::kSampleCommandBytes, cut));
    return cut ? 1 : 0;
}

std::uint64_t add_sample_value(std::vector<std::string>& samples, std::size_t max,
                               std::string_view value) {
    if (samples.size() >= max) return 0;
    bool cut = false;
    samples.push_back(capped_copy(value, limits::kSampleValueBytes, cut));
    return cut ? 1 : 0;
}

std::string alert_uuid(const Alert& alert) {
    std::string material = alert.rule->rule_id;
    for (const auto& [field, value] : alert.terms) {
        material += '\0';
        material += value;
    }
    material += '\0';
    material += alert.evidence.last_event.id;
    const XXH128_hash_t h = XXH3_128bits(material.data(), material.size());
    return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

std::string alert_reason(const Alert& alert) {
    const Evidence& ev = alert.evidence;
    std::string who = ev.user_name.empty() ? fmt::format("uid {}", ev.user_id) : ev.user_name;
    std::string parent = ev.parent_executable.empty()
                             ? fmt::format("parent pid {}", ev.parent_pid)
                             : fmt::format("parent {} (pid {})", ev.parent_executable, ev.parent_pid);
    // What the group is (docs/detection.md, "Profiles and grouping"): the parent, or in the
    // hardened profile the lineage that replaced it; the last parent is named for the latter.
    std::string where = "under " + parent;
    const auto& fields = alert.rule->group_by;
    const auto replaced = [&](const char* field) {
        return std::find(fields.begin(), fields.end(), field) != fields.end() &&
               term(alert, field).empty();
    };
    // A network rule's process.entity_id is replaced by the session the same way.
    const bool lineage = replaced("process.parent.entity_id") || replaced("process.entity_id");
    if (lineage) {
        if (auto ses = term(alert, "auditd.session"); !ses.empty()) {
            where = fmt::format("in audit session {} (last under {})", ses, parent);
        } else if (!term(alert, "process.parent.parent.entity_id").empty()) {
            const std::string gp =
                ev.grandparent_executable.empty()
                    ? fmt::format("pid {}", ev.grandparent_pid)
                    : fmt::format("{} (pid {})", ev.grandparent_executable, ev.grandparent_pid);
            where = fmt::format("under the parents' parent {}, no login session (last under {})",
                                gp, parent);
        } else if (!term(alert, "user.id").empty()) {
            where = fmt::format("from forks with no login session whose ancestry the log does "
                                "not show, grouped by user (last under {})",
                                parent);
        }
    }
    std::string executable(term(alert, "process.executable"));
    if (executable.empty()) executable = ev.process_name;
    // The span of the events, not of the alert: a scheduled alert comes at the run's time.
    const double seconds = static_cast<double>(ev.last_event.time_ms - alert.from_ms) / 1000.0;
    const std::string span = seconds < 120.0 ? fmt::format("{:.1f} s", seconds)
                                             : fmt::format("{:.1f} min", seconds / 60.0);
    const RuleDefinition& rule = *alert.rule;
    if (rule.cardinality && rule.cardinality->field.rfind("destination.", 0) == 0) {
        // The network scan rules (docs/detection.md): connections, not executions.
        return fmt::format("{} made {} connection attempts as {} {} on {} to {} distinct {} "
                           "in {}: {}",
                           executable, alert.count, who, where, alert.host_name,
                           alert.cardinality, rule.cardinality->field, span, rule.name);
    }
    return fmt::format("{} ran {} times as {} {} on {} with {} distinct arguments in {}: {}",
                       executable, alert.count, who, where, alert.host_name, alert.cardinality, span,
                       alert.rule->name);
}

std::string alert_to_json(const Alert& alert, std::int64_t created_ms) {
    if (alert.group) return sequence_alert_to_json(alert, created_ms);

    if (alert.esql_row) return esql_alert_to_json(alert, created_ms);
    if (alert.event) return event_alert_to_json(alert, created_ms);
    const RuleDefinition& rule = *alert.rule;
    const Evidence& ev = alert.evidence;
    std::string out;
    out.reserve(4096);
    JsonWriter w(out);
    w.begin_object();
    w.field("@timestamp", format_timestamp(alert.time_ms));
    w.key("event");
    w.begin_object();
    w.field("kind", "signal");
    w.field("created", format_timestamp(created_ms));
    w.end_object();

    // The group-by fields as ECS fields, plus host.name and process.name.
    w.key("host");
    w.begin_object();
    if (auto id = term(alert, "host.id"); !id.empty()) w.field("id", id);
    w.field("name", alert.host_name);
    w.end_object();
    w.key("process");
    w.begin_object();
    w.field("name", ev.process_name);
    if (auto exe = term(alert, "process.executable"); !exe.empty()) w.field("executable", exe);
    w.key("parent");
    w.begin_object();
    if (auto pe = term(alert, "process.parent.entity_id"); !pe.empty()) w.field("entity_id", pe);
    if (ev.parent_pid >= 0) w.field("pid", ev.parent_pid);
    if (!ev.parent_executable.empty()) w.field("executable", ev.parent_executable);
    // The lineage an alert was grouped on (its threshold_result term) is carried like the
    // rule's own fields: Kibana copies the terms' fields into the alert.
    if (auto gp = term(alert, "process.parent.parent.entity_id"); !gp.empty()) {
        w.key("parent");
        w.begin_object();
        w.field("entity_id", gp);
        if (ev.grandparent_pid >= 0) w.field("pid", ev.grandparent_pid);
        if (!ev.grandparent_executable.empty()) w.field("executable", ev.grandparent_executable);
        w.end_object();
    }
    w.end_object();
    w.end_object();
    w.key("user");
    w.begin_object();
    write_id_name(w, ev.user_id, ev.user_name);
    if (!ev.audit_user_id.empty()) {
        w.key("audit");
        w.begin_object();
        write_id_name(w, ev.audit_user_id, ev.audit_user_name);
        w.end_object();
    }
    w.end_object();
    if (auto ses = term(alert, "auditd.session"); !ses.empty()) {
        w.key("auditd");
        w.begin_object();
        w.field("session", ses);
        w.end_object();
    }

    w.field("kibana.alert.uuid", alert.uuid);
    write_rule_fields(w, rule, false);
    // Kibana writes the bucket's latest event time (max_timestamp) here, and its signal history
    // spends the group's events up to it (docs/kibana-parity.md): ours is last_event, the time
    // up to which the group is spent, in both modes.
    w.field("kibana.alert.original_time", format_timestamp(ev.last_event.time_ms));
    w.key("kibana.alert.threshold_result");
    w.begin_object();
    w.key("terms");
    w.begin_array();
    for (const auto& [field, value] : alert.terms) {
        w.begin_object();
        w.field("field", field);
        w.field("value", value);
        w.end_object();
    }
    w.end_array();
    w.field("count", alert.count);
    w.field("from", format_timestamp(alert.from_ms));
    w.key("cardinality");
    w.begin_array();
    if (rule.cardinality) {
        w.begin_object();
        w.field("field", rule.cardinality->field);
        w.field("value", alert.cardinality);
        w.end_object();
    }
    w.end_array();
    w.end_object();
    w.field("kibana.alert.reason", alert_reason(alert));

    w.key("scanwatch");
    w.begin_object();
    w.key("evidence");
    w.begin_object();
    if (ev.process_pid >= 0) w.field("process_pid", ev.process_pid);
    if (!ev.working_directory.empty()) w.field("working_directory", ev.working_directory);
    write_event_ref(w, "first_event", ev.first_event);
    write_event_ref(w, "last_event", ev.last_event);
    w.key("sample_command_lines");
    w.value(ev.sample_command_lines);
    w.key("sample_values");
    w.value(ev.sample_values);
    end_alert(w, rule);
    return out;
}

namespace {

// The source event as the start of its alert: Kibana moves the event's event.kind to
// original_event and writes "signal"; event.created is when scanwatch wrote the alert, as in a
// threshold alert. The event's object is left open, `w` writing its next keys.
void open_event_alert(std::string& out, JsonWriter& w, const ProcessEvent& e, std::int64_t created_ms) {
    append_event_json(out, e);
    constexpr std::string_view kind = R"("kind":"event")";
    if (const auto at = out.find(kind); at != std::string::npos) {
        out.replace(at, kind.size(),
                    fmt::format(R"("kind":"signal","created":"{}")", format_timestamp(created_ms)));
    }
    if (!out.empty() && out.back() == '}') out.pop_back();
    out += ',';
    // A continuation of the event's object: open a throwaway object so the writer separates
    // the keys, then drop its brace.
    const std::size_t mark = out.size();
    w.begin_object();
    out.erase(mark, 1);
}

}  // namespace

std::string event_alert_to_json(const Alert& alert, std::int64_t created_ms) {
    const RuleDefinition& rule = *alert.rule;
    const ProcessEvent& e = *alert.event;
    std::string out;
    out.reserve(4096);
    JsonWriter w(out);
    open_event_alert(out, w, e, created_ms);
    w.field("kibana.alert.uuid", alert.uuid);
    w.field("kibana.alert.status", "active");
    w.field("kibana.alert.workflow_status", "open");
    w.field("kibana.alert.depth", 1);
    w.key("kibana.alert.ancestors");
    w.begin_array();
    w.begin_object();
    w.field("id", e.event_id());
    w.field("type", "event");
    w.field("index", "scanwatch");
    w.field("depth", 0);
    w.end_object();
    w.end_array();
    w.field("kibana.alert.original_time", format_timestamp(e.time_ms));
    w.field("kibana.alert.original_event.kind", "event");
    w.field("kibana.alert.original_event.action",
            e.kind == EventKind::exec      ? "executed"
            : e.kind == EventKind::connect ? "connected-to"
                                           : "created-socket");
    write_rule_fields(w, rule, true);
    if (rule.rule_type == RuleType::new_terms) {
        w.key("kibana.alert.new_terms");
        w.begin_array();
        for (const auto& [field, value] : alert.terms) w.value(value);
        w.end_array();
    }
    w.field("kibana.alert.reason", event_reason(alert));
    w.key("scanwatch");
    w.begin_object();
    w.key("evidence");
    w.begin_object();
    write_event_ref(w, "last_event", alert.evidence.last_event);
    end_alert(w, rule);
    return out;
}

}  // namespace scanwatch::rules

namespace scanwatch::rules {
namespace {

void write_esql_value(JsonWriter& w, const esql::Value& v) {
    const auto one = [&w](const esql::Scalar& s) {
        if (const auto* b = std::get_if<bool>(&s)) {
            w.value(*b);
        } else if (const auto* i = std::get_if<std::int64_t>(&s)) {
            w.value(*i);
        } else if (const auto* d = std::get_if<double>(&s)) {
            // JsonWriter has no floating-point value: a double (AVG, TO_DOUBLE) is written as
            // its shortest decimal text.
            w.value(fmt::format("{}", *d));
        } else if (const auto* t = std::get_if<esql::Date>(&s)) {
            w.value(format_timestamp(t->ms));
        } else {
            w.value(esql::to_text(s));
        }
    };
    if (v.is_null()) {
        w.null();
    } else if (v.is_multi()) {
        w.begin_array();
        for (const auto& s : v.items) one(s);
        w.end_array();
    } else {
        one(v.items.front());
    }
}

// The row's columns as dotted keys, but those the source event already carries.
void write_esql_columns(JsonWriter& w, const esql::Row& row, bool with_event) {
    for (const auto& [name, value] : row.columns) {
        if (name == "@timestamp" || name == "_id" || name == "_index" || name == "_version") continue;
        if (with_event && FieldCatalog::known_id(name) >= 0) continue;
        w.key(name);
        write_esql_value(w, value);
    }
}

}  // namespace

std::string esql_alert_to_json(const Alert& alert, std::int64_t created_ms) {
    const RuleDefinition& rule = *alert.rule;
    std::string out;
    out.reserve(2048);
    JsonWriter w(out);
    if (alert.event) {
        // A non-aggregating query: the source event, then the row's own columns.
        const ProcessEvent& e = *alert.event;
        open_event_alert(out, w, e, created_ms);
    } else {
        w.begin_object();
        w.field("@timestamp", format_timestamp(alert.time_ms));
        w.key("event");
        w.begin_object();
        w.field("kind", "signal");
        w.field("created", format_timestamp(created_ms));
        w.end_object();
    }
    if (alert.esql_row) write_esql_columns(w, *alert.esql_row, alert.event != nullptr);
    w.field("kibana.alert.uuid", alert.uuid);
    w.field("kibana.alert.status", "active");
    w.field("kibana.alert.workflow_status", "open");
    if (alert.event) {
        w.field("kibana.alert.depth", 1);
        w.key("kibana.alert.ancestors");
        w.begin_array();
        w.begin_object();
        w.field("id", alert.event->event_id());
        w.field("type", "event");
        w.field("index", "scanwatch");
        w.field("depth", 0);
        w.end_object();
        w.end_array();
        w.field("kibana.alert.original_time", format_timestamp(alert.event->time_ms));
    }
    write_rule_fields(w, rule, true);
    w.field("kibana.alert.reason",
            fmt::format("event created {} alert {}.", rule.severity, rule.name));
    w.key("scanwatch");
    w.begin_object();
    w.key("evidence");
    w.begin_object();
    w.key("window");
    w.begin_object();
    w.field("from", format_timestamp(alert.from_ms));
    w.field("to", format_timestamp(alert.time_ms));
    w.end_object();
    if (alert.event) write_event_ref(w, "last_event", alert.evidence.last_event);
    end_alert(w, rule);
    return out;
}

}  // namespace scanwatch::rules
