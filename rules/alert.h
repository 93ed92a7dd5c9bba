#pragma once
// A threshold alert, shaped like Kibana's, plus the evidence a responder needs at first look.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "parsers/ecs/ecs_event.h"
#include "parsers/ecs/json_writer.h"
#include "rules/rule.h"

namespace scanwatch::rules {

/// One event of the group, by audit event id and time.
struct EventRef {
    std::string id;  ///< "sec.milli:serial"
    std::int64_t time_ms = 0;
};

/// What the group looked like when it crossed the threshold. Owns its strings.
struct Evidence {
    std::string process_name;       ///< comm of the crossing event (scheduled: of last_event)
    std::int64_t process_pid = -1;  ///< pid of the crossing event; -1 unknown
    std::int64_t parent_pid = -1;
    std::string parent_executable;  ///< empty when the parent's exec was not in the stream
    std::int64_t grandparent_pid = -1;  ///< process.parent.parent.pid; -1 when not set
    std::string grandparent_executable;
    std::string user_id;
    std::string user_name;
    std::string audit_user_id;
    std::string audit_user_name;
    std::string working_directory;
    EventRef first_event;  ///< earliest event still in the window
    /// The crossing event (scheduled: the latest event of the bucket): the group is spent up to
    /// its time, which is also kibana.alert.original_time, as in Kibana.
    EventRef last_event;
    std::vector<std::string> sample_command_lines;  ///< the first few since the group started
    std::vector<std::string> sample_values;         ///< the first distinct values of the cardinality field
};

/// The events of one EQL sequence or sample, shared by its alerts (docs/alerts.md, "EQL
/// sequence alerts"): Kibana writes a building-block alert per event and one shell alert.
struct AlertGroup {
    std::string id;  ///< kibana.alert.group.id: deterministic, a hash of the rule and event ids
    std::vector<std::shared_ptr<const ProcessEvent>> events;  ///< in the sequence's order
};

/// An alert. `@timestamp` is the crossing event's time (streaming) or the run's time
/// (scheduled); created is stamped by the output.
struct Alert {
    std::shared_ptr<const RuleDefinition> rule;
    std::string uuid;  ///< deterministic: rule_id, terms and the crossing event
    std::int64_t time_ms = 0;  ///< @timestamp
    std::vector<std::pair<std::string, std::string>> terms;  ///< group-by field, value
    std::uint64_t count = 0;        ///< events of the group in the window
    std::uint64_t cardinality = 0;  ///< distinct values of the cardinality field in the window
    std::int64_t from_ms = 0;       ///< time of the earliest event counted
    std::string host_name;
    Evidence evidence;
    /// Query, EQL and new_terms alerts: the event that matched, whose fields the alert copies
    /// (docs/alerts.md); null for threshold alerts. For new_terms, `terms` holds the new values.
    std::shared_ptr<const ProcessEvent> event;
    /// EQL sequence and sample alerts: the group; with group_index >= 0 this is the building
    /// block of group->events[group_index] (`event` is that event), with -1 the shell alert.
    std::shared_ptr<const AlertGroup> group;
    int group_index = -1;

    /// ES|QL alerts: the result row, whose columns the alert carries (docs/alerts.md).
    std::shared_ptr<const esql::Row> esql_row;
};

/// The deterministic kibana.alert.uuid of `alert`: a hash of the rule_id, the terms and
/// evidence.last_event.id (events up to that one are spent, so it never repeats for a group).
std::string alert_uuid(const Alert& alert);

/// Sets the evidence of one event (the crossing event; scheduled: the latest): its process,
/// parent, users and working directory. Leaves the event refs and samples alone; uncapped.
void fill_evidence(Evidence& ev, const ProcessEvent& event);

/// Appends `event`'s command line, capped at limits::kSampleCommandBytes, to `samples` while it
/// holds fewer than `max`; returns 1 when it was cut (for the `truncated` counter), else 0.
std::uint64_t add_sample_command(std::vector<std::string>& samples, std::size_t max,
                                 const ProcessEvent& event);
/// The same for a value of the cardinality field, capped at limits::kSampleValueBytes.
std::uint64_t add_sample_value(std::vector<std::string>& samples, std::size_t max,
                               std::string_view value);

/// Writes `name: {"id", "time"}` of an event reference into the open object.
void write_event_ref(JsonWriter& w, std::string_view name, const EventRef& ref);

/// Closes an alert document whose scanwatch.evidence object is open: evidence, then
/// scanwatch.rule_source, scanwatch and the alert itself.
void end_alert(JsonWriter& w, const RuleDefinition& rule);

/// Writes the kibana.alert.rule.* fields (and kibana.alert.severity, risk_score) of `rule`
/// into the open object, as both alert shapes carry them; `with_language` adds rule.language.
void write_rule_fields(JsonWriter& w, const RuleDefinition& rule, bool with_language);

/// The alert as one NDJSON line (no trailing newline). `created_ms` is the wall clock. An alert
/// with an event is written as event_alert_to_json() below writes it.
std::string alert_to_json(const Alert& alert, std::int64_t created_ms);

/// A one-sentence explanation of the alert for a person (kibana.alert.reason).
std::string alert_reason(const Alert& alert);

/// The building-block alert of event `index` of shell alert `shell`'s group: the event's alert,
/// with a uuid derived from the shell's.
Alert sequence_building_block(const Alert& shell, std::size_t index);

/// The alert document of a sequence alert (alert.group set): a building block, or the shell
/// whose fields are those common to all its building blocks (rules/sequence_alert.cpp).
std::string sequence_alert_to_json(const Alert& alert, std::int64_t created_ms);

/// The alert document of an event-shaped alert (alert.event set), as alert_to_json() writes it.
std::string event_alert_to_json(const Alert& alert, std::int64_t created_ms);

/// The alert document of an ES|QL alert (alert.esql_row set), as alert_to_json() writes it.
std::string esql_alert_to_json(const Alert& alert, std::int64_t created_ms);

}  // namespace scanwatch::rules
