#include "rules/engines/query_engine.h"

#include <fmt/format.h>

#include "parsers/ecs/ecs_json.h"
#include "parsers/ecs/json_writer.h"
#include "rules/alert.h"
#include "rules/engines/engine_state.h"
#include "rules/rule_check.h"
#include "rules/event_fields.h"

namespace scanwatch::rules {
namespace {

}  // namespace

bool eql_category_matches(std::string_view category) {
    return category == "process" || category == "network" || category == "any";
}

Alert event_alert(const std::shared_ptr<const RuleDefinition>& rule, const ProcessEvent& event) {
    Alert a;
    a.rule = rule;
    a.time_ms = event.time_ms;
    a.from_ms = event.time_ms;
    a.count = 1;
    a.host_name = event.host_name;
    a.evidence.process_name = event.name;
    a.evidence.process_pid = event.pid;
    a.evidence.parent_pid = event.ppid;
    a.evidence.first_event = EventRef{event.event_id(), event.time_ms};
    a.evidence.last_event = a.evidence.first_event;
    a.event = std::make_shared<const ProcessEvent>(event);
    return a;
}

QueryEngine::QueryEngine(std::shared_ptr<const RuleDefinition> rule, EngineOptions options)
    : RuleEngine(std::move(rule), options),
      // A query no exec event can match is not run at all: with a checkout of Elastic's rules
      // most rules are of other event categories or agents, and cost nothing then.
      runs_((rule_->rule_type != RuleType::eql || eql_category_matches(rule_->eql_category)) &&
            query_may_match(rule_->query)) {}

void QueryEngine::process(const ProcessEvent& event, std::vector<Alert>& alerts) {
    if (!runs_) return;
    const EventFields fields(event, options_.name_match);
    if (!admits(fields)) return;
    if (!signals_.take(*rule_, event.time_ms, counters_)) return;
    Alert a = event_alert(rule_, event);
    a.uuid = alert_uuid(a);
    alerts.push_back(std::move(a));
}

nlohmann::json QueryEngine::save_state() const {
    nlohmann::json state{{"engine", "query"}};
    signals_.save(state);
    return state;
}

bool QueryEngine::restore_state(const nlohmann::json& state) {
    return detail::restore_engine(state, "query", [&] {
        signals_ = SignalBudget::restored(state);
        return true;
    });
}

}  // namespace scanwatch::rules
