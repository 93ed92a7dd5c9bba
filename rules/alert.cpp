#include "rules/alert.h"

#include <fmt/format.h>
#include <xxhash.h>

#include "parsers/ecs/json_writer.h"
#include "rules/engines/group_table.h"
#include "rules/engines/query_engine.h"

namespace scanwatch::rules {
namespace {

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
    std::string executable(term(alert, "process.executable"));
    if (executable.empty()) executable = ev.process_name;
    // The span of the events, not of the alert: a scheduled alert comes at the run's time.
    const double seconds = static_cast<double>(ev.last_event.time_ms - alert.from_ms) / 1000.0;
    const std::string span = seconds < 120.0 ? fmt::format("{:.1f} s", seconds)
                                             : fmt::format("{:.1f} min", seconds / 60.0);
    const RuleDefinition& rule = *alert.rule;
    if (rule.cardinality && rule.cardinality->field.rfind("destination.", 0) == 0) {
        // The network scan rules (docs/detection.md): connections, not executions.
        return fmt::format("{} made {} connection attempts as {} under {} on {} to {} distinct {} "
                           "in {}: {}",
                           executable, alert.count, who, parent, alert.host_name,
                           alert.cardinality, rule.cardinality->field, span, rule.name);
    }
    return fmt::format("{} ran {} times as {} under {} on {} with {} distinct arguments in {}: {}",
                       executable, alert.count, who, parent, alert.host_name, alert.cardinality, span,
                       alert.rule->name);
}

std::string alert_to_json(const Alert& alert, std::int64_t created_ms) {
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

}  // namespace scanwatch::rules
