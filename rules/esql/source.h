#pragma once
// What an ES|QL rule's FROM reads of scanwatch's events (docs/rules.md, "ES|QL"): the data
// streams scanwatch's events stand in for, and the rows they become.
//
// scanwatch's events are Auditbeat-shaped: they stand in for the auditd data stream
// (logs-auditd_manager.auditd-default, auditbeat-*). A FROM that reads none of those but reads
// Elastic Defend's process or network data stream (logs-endpoint.events.process-*,
// logs-endpoint.events.network-*) sees the exec and connect events as Defend names them:
// event.action "exec" / "connection_attempted", event.type "start". Any other index (alerts,
// metrics, other integrations) holds nothing of scanwatch's.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "parsers/ecs/ecs_event.h"
#include "rules/event_fields.h"
#include "rules/query/esql/esql.h"

namespace scanwatch::rules {
struct RuleDefinition;
}

namespace scanwatch::rules::esql_source {

/// The data stream names scanwatch's events stand in for.
inline constexpr std::string_view kAuditdStream = "logs-auditd_manager.auditd-default";
inline constexpr std::string_view kAuditbeatIndex = "auditbeat-scanwatch";
inline constexpr std::string_view kEndpointProcessStream = "logs-endpoint.events.process-default";
inline constexpr std::string_view kEndpointNetworkStream = "logs-endpoint.events.network-default";

/// Which stand-in streams a FROM reads. Auditd wins: an event is read once, in one shape.
struct Sources {
    bool auditd = false;            ///< every event, in scanwatch's own (Auditbeat's) shape
    bool endpoint_process = false;  ///< exec events, as Defend's process events
    bool endpoint_network = false;  ///< connect events, as Defend's network events
    bool any() const { return auditd || endpoint_process || endpoint_network; }
};

Sources sources_of(const esql::Pipeline& pipeline);

/// The columns of a query's source rows (METADATA, then the fields it reads, each once),
/// resolved once per rule so that a row costs no name look-up.
struct RowPlan {
    enum class Source : std::uint8_t {
        timestamp, id, index, version, agent_id, dataset, constant, field,
        endpoint_action,  ///< Defend's event.action: exec or connection_attempted
        endpoint_type,    ///< Defend's event.type: start
    };
    struct Column {
        std::string name;
        Source source = Source::field;
        int field_id = -1;     ///< Source::field
        bool is_long = false;  ///< Source::field: a number in ECS
        std::string text;      ///< Source::constant, Source::index
    };
    Sources sources;
    std::vector<Column> columns;
};

RowPlan row_plan(const esql::Pipeline& pipeline, const Sources& sources);

/// The row `event` is to the query, or false when its FROM does not read the event.
/// `process.name` is always the comm (one value, as Elastic's; the wider name match is not
/// applied).
/// With `only`, just those columns (positions in plan.columns, increasing).
bool source_row(const RowPlan& plan, const ProcessEvent& event, esql::Row& row,
                const std::vector<std::size_t>* only = nullptr);
/// The same, planning on the spot (tests).
bool source_row(const esql::Pipeline& pipeline, const Sources& sources, const ProcessEvent& event,
                NameMatch name_match, esql::Row& row);

/// True when `condition` (a row-by-row WHERE, after commands that computed `computed`) is
/// true on no row of scanwatch's events in the views `sources` reads: it needs a field they
/// never carry, or a value a view fixes otherwise (data_stream.dataset, event.module, ...).
bool never_true(const esql::Expr& condition, const Sources& sources,
                const std::vector<std::string>& computed);

/// Fields the query reads that no view of scanwatch's events ever fills (computed columns,
/// those an EVAL, STATS or RENAME makes, are not listed).
std::vector<std::string> unknown_fields(const esql::Pipeline& pipeline);

/// Why an ES|QL rule cannot fire on scanwatch's events; empty when it can.
std::vector<std::string> cannot_fire_reasons(const RuleDefinition& rule);

}  // namespace scanwatch::rules::esql_source
