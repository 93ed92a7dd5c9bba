#pragma once
// Kibana's threshold rule evaluated as a stream on event time (docs/rules.md, streaming evaluation):
// group by the rule's fields, count events and distinct values of the cardinality field in a
// sliding window of the rule's look-back, and alert on the event that crosses both thresholds.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "parsers/ecs/ecs_event.h"
#include "rules/alert.h"
#include "rules/event_fields.h"
#include "rules/engines/group_by.h"
#include "rules/engines/group_table.h"
#include "rules/engines/signal_budget.h"
#include "rules/rule.h"
#include "rules/engines/engine.h"

namespace scanwatch::rules {

/// One rule's streaming state. Reads time only from events; never a clock.
class ThresholdEngine final : public RuleEngine {
public:
    ThresholdEngine(std::shared_ptr<const RuleDefinition> rule, EngineOptions options);
    ~ThresholdEngine() override;
    ThresholdEngine(const ThresholdEngine&) = delete;
    ThresholdEngine& operator=(const ThresholdEngine&) = delete;

    /// Counts `event`; appends an alert to `alerts` when it crosses the threshold.
    void process(const ProcessEvent& event, std::vector<Alert>& alerts) override { count(event, alerts); }
    /// Acts only on events its query admits (admits() comes first in count()).
    EngineInterest interest() const override { return admitted_interest(); }
    /// Like process(); returns true when an alert was appended.
    bool count(const ProcessEvent& event, std::vector<Alert>& alerts);
    void finish(std::vector<Alert>& /*alerts*/) override {}
    nlohmann::json save_state() const override;
    bool restore_state(const nlohmann::json& state) override;
    std::uint32_t nearest_permille() const override;


private:
    struct Group;

    // count()'s steps, in order.
    enum class Counted { already_spent, below_threshold, crossed };
    std::size_t first_keyed(const EventFields& fields);
    bool in_window(std::int64_t time_ms);
    bool beyond_comm(const ProcessEvent& event, const EventFields& fields) const;
    Counted count_in(std::size_t which, const ProcessEvent& event, const EventFields& fields,
                     bool wider_name, std::vector<Alert>& alerts);

    Group& find_group(std::size_t which, const EventFields& fields, std::int64_t now_ms);
    void add_event(Group& g, const ProcessEvent& event, const EventFields& fields);
    bool crossed(const Group& g) const;
    std::uint64_t weight(const Group& g) const;
    Alert make_alert(Group& g, const ProcessEvent& event);
    void alert(Group& g, const ProcessEvent& event, bool hardening_only,
               std::vector<Alert>& alerts);
    void spend(std::size_t which, const EventFields& fields, std::int64_t time_ms);

    GroupBy group_by_;
    std::int64_t watermark_ms_;  // latest event time this rule has counted
    std::unique_ptr<GroupTable<Group>> groups_;
    SignalBudget signals_;
    std::string key_;
    std::string scratch_;
    // Hashes of the cardinality field's values of the event being counted: computed once per
    // event, not once per grouping it is counted in.
    std::vector<std::uint64_t> value_hashes_;
    bool values_hashed_ = false;
};

}  // namespace scanwatch::rules
