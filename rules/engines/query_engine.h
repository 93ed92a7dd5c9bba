#pragma once
// Kibana's query rule (KQL) and single-event EQL rule as a stream (docs/rules.md, "Rule types"):
// an alert per event the query matches and no exception excepts, at most max_signals per
// interval of event time. The alert is the event's fields plus kibana.alert.* (docs/alerts.md).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "parsers/ecs/ecs_event.h"
#include "rules/alert.h"
#include "rules/rule.h"
#include "rules/engines/engine.h"

namespace scanwatch::rules {

/// One query or EQL rule's state: the max_signals count of the current interval.
class QueryEngine final : public RuleEngine {
public:
    QueryEngine(std::shared_ptr<const RuleDefinition> rule, EngineOptions options);

    void process(const ProcessEvent& event, std::vector<Alert>& alerts) override;
    void finish(std::vector<Alert>& /*alerts*/) override {}
    nlohmann::json save_state() const override;
    bool restore_state(const nlohmann::json& state) override;


private:
    bool runs_;  // false when no exec event can match (EQL category, static query check)
    std::int64_t signal_bucket_ = -1;
    std::uint64_t signals_in_bucket_ = 0;
};

/// Counts an alert against max_signals in the interval of `time_ms` (event time): true when it
/// may go out; false (counted in `counters.held_back`) when the interval has had max_signals.
bool take_signal(const RuleDefinition& rule, std::int64_t time_ms, std::int64_t& bucket,
                 std::uint64_t& in_bucket, RuleCounters& counters);

/// An alert for `event` from an event-shaped rule (query, eql, new_terms): the event is copied.
Alert event_alert(const std::shared_ptr<const RuleDefinition>& rule, const ProcessEvent& event);

/// True when an EQL event category matches scanwatch's events (exec events): "process", "any".
bool eql_category_matches(std::string_view category);

/// The alert document of an event-shaped alert (alert.event set), as alert_to_json() writes it.
std::string event_alert_to_json(const Alert& alert, std::int64_t created_ms);

}  // namespace scanwatch::rules
