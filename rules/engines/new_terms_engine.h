#pragma once
// Kibana's new_terms rule as a stream (docs/rules.md, "Rule types"): per rule, the value
// combinations of the new_terms fields seen on events the query matches, each with the time it
// was last seen. An event whose combination was not seen in the history window before it (the
// rule's history_window_start) is new: it raises an alert, at most max_signals per interval.
// The history is bounded (EngineOptions::max_groups combinations per rule, the least recently
// seen evicted and counted) and kept across restarts in tail mode's state file.

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "parsers/ecs/ecs_event.h"
#include "rules/alert.h"
#include "rules/rule.h"
#include "rules/engines/engine.h"
#include "rules/engines/signal_budget.h"

namespace scanwatch::rules {

/// One new_terms rule's history. Reads time only from events; never a clock.
class NewTermsEngine final : public RuleEngine {
public:
    NewTermsEngine(std::shared_ptr<const RuleDefinition> rule, EngineOptions options);

    void process(const ProcessEvent& event, std::vector<Alert>& alerts) override;
    void finish(std::vector<Alert>& /*alerts*/) override {}
    /// Acts only on events its query admits; none when no event can match.
    EngineInterest interest() const override { return admitted_interest(runs_); }
    /// {"engine":"new_terms", "signal_bucket", "signals_in_bucket", "terms":[[hash, last_ms],
    /// ...] least recently seen first}.
    nlohmann::json save_state() const override;
    bool restore_state(const nlohmann::json& state) override;


private:
    struct Seen {
        std::uint64_t hash;
        std::int64_t last_ms;
    };
    /// Records `hash` seen at `time_ms`; true when it was not seen in the history window before.
    bool see(std::uint64_t hash, std::int64_t time_ms);

    bool runs_;  // false when no exec event can match the query
    std::list<Seen> by_use_;  // least recently seen first
    std::unordered_map<std::uint64_t, std::list<Seen>::iterator> seen_;
    SignalBudget signals_;
    std::vector<std::string> values_;  // reused per event
    std::string key_;
};

}  // namespace scanwatch::rules
