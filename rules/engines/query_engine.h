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
#include "rules/engines/signal_budget.h"

namespace scanwatch::rules {

/// One query or EQL rule's state: the max_signals count of the current interval.
class QueryEngine final : public RuleEngine {
public:
    QueryEngine(std::shared_ptr<const RuleDefinition> rule, EngineOptions options);

    void process(const ProcessEvent& event, std::vector<Alert>& alerts) override;
    void finish(std::vector<Alert>& /*alerts*/) override {}
    /// Acts only on events its query admits (none when no event can match).
    EngineInterest interest() const override { return admitted_interest(runs_); }
    nlohmann::json save_state() const override;
    bool restore_state(const nlohmann::json& state) override;


private:
    bool runs_;  // false when no exec event can match (EQL category, static query check)
    SignalBudget signals_;
};


/// An alert for `event` from an event-shaped rule (query, eql, new_terms): the event is copied.
Alert event_alert(const std::shared_ptr<const RuleDefinition>& rule, const ProcessEvent& event);

/// True when an EQL event category matches scanwatch's events (exec events): "process", "any".
bool eql_category_matches(std::string_view category);


}  // namespace scanwatch::rules
