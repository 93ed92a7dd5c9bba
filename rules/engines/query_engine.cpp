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

}  // namespace

bool eql_category_matches(std::string_view category) {
    return category == "process" || category == "network" || category == "any";
}

bool take_signal(const RuleDefinition& rule, std::int64_t time_ms, std::int64_t& bucket,
                 std::uint64_t& in_bucket, RuleCounters& counters) {
    const std::int64_t b = time_ms / rule.interval_ms;
    if (b > bucket) {
        bucket = b;
        in_bucket = 0;
    }
    if (in_bucket >= rule.max_signals) {
        ++counters.held_back;
        return false;
    }
    ++in_bucket;
    ++counters.alerts;
    return true;
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
    if (!take_signal(*rule_, event.time_ms, signal_bucket_, signals_in_bucket_, counters_)) return;
    Alert a = event_alert(rule_, event);
    a.uuid = alert_uuid(a);
    alerts.push_back(std::move(a));
}

nlohmann::json QueryEngine::save_state() const {
    return {{"engine", "query"}, {"signal_bucket", signal_bucket_}, {"signals_in_bucket", signals_in_bucket_}};
}

bool QueryEngine::restore_state(const nlohmann::json& state) {
    try {
        if (!state.is_object() || state.at("engine") != "query") return false;
        const std::int64_t bucket = detail::get_int64(state.at("signal_bucket"));
        const std::uint64_t in_bucket = detail::get_uint64(state.at("signals_in_bucket"));
        signal_bucket_ = bucket;
        signals_in_bucket_ = in_bucket;
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

std::string event_alert_to_json(const Alert& alert, std::int64_t created_ms) {
    const RuleDefinition& rule = *alert.rule;
    const ProcessEvent& e = *alert.event;
    std::string out;
    out.reserve(4096);
    append_event_json(out, e);
    // Kibana moves the source's event.kind to original_event and writes "signal"; event.created
    // is when scanwatch wrote the alert, as in a threshold alert.
    constexpr std::string_view kind = R"("kind":"event")";
    if (const auto at = out.find(kind); at != std::string::npos) {
        out.replace(at, kind.size(),
                    fmt::format(R"("kind":"signal","created":"{}")", format_timestamp(created_ms)));
    }
    if (!out.empty() && out.back() == '}') out.pop_back();
    out += ',';
    JsonWriter w(out);
    // A continuation of the event's object: open a throwaway object so the writer separates
    // the keys, then drop its brace.
    const std::size_t mark = out.size();
    w.begin_object();
    out.erase(mark, 1);
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
    w.field("kibana.alert.original_event.action", "executed");
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
