#pragma once
// Kibana's threshold rule evaluated the way Kibana runs it, on event time (docs/rules.md, mode
// scheduled). Runs happen at every multiple of the rule's interval since the epoch; a run at R
// looks at the window [R - from, R] over each group's events not yet spent. A group qualifies when
// its whole bucket (not the crossing point) has at least `value` events and at least the
// cardinality's distinct values. Up to max_signals qualifying groups alert per run, in the order of
// their terms (Kibana's composite aggregation); an alert's time is the run's. After an alert, the
// group's events up to the last one in its bucket are spent (Kibana's signal history).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "parsers/ecs/ecs_event.h"
#include "rules/alert.h"
#include "rules/event_fields.h"
#include "rules/engines/group_table.h"
#include "rules/engines/group_by.h"
#include "rules/rule.h"
#include "rules/engines/engine.h"

namespace scanwatch::rules {

/// One rule's scheduled state. Reads time only from events (and advance()); never a clock.
class ScheduledEngine final : public RuleEngine {
public:
    ScheduledEngine(std::shared_ptr<const RuleDefinition> rule, EngineOptions options);
    ~ScheduledEngine() override;
    ScheduledEngine(const ScheduledEngine&) = delete;
    ScheduledEngine& operator=(const ScheduledEngine&) = delete;

    /// Does every run due before `event` (runs at times earlier than the event's), appending their
    /// alerts, then counts the event. Runs that can see no counted event are skipped.
    void process(const ProcessEvent& event, std::vector<Alert>& alerts) override;
    /// End of input: the first run at or after the latest event, then every later run whose window
    /// still holds unspent events.
    void finish(std::vector<Alert>& alerts) override;
    /// Does the runs at times earlier than `time_ms`, as an event at that time would.
    void advance(std::int64_t time_ms, std::vector<Alert>& alerts) override;

    /// The schedule and every group, for tail mode's state file ("engine": "scheduled").
    nlohmann::json save_state() const override;
    /// Restores what save_state() gave; false (and nothing changed) when it does not fit.
    bool restore_state(const nlohmann::json& state) override;
    std::uint32_t nearest_permille() const override;

    /// The time of the next run, or INT64_MIN before the first event.
    std::int64_t next_run_ms() const { return next_run_ms_; }
    /// Runs done so far (skipped runs, which could see no event, are not counted).
    std::uint64_t runs() const { return runs_; }
    /// Most distinct cardinality values a group keeps: max(4 x the rule's cardinality, 1000)
    /// (no more than the cardinality itself past 2^20). An alert's cardinality is exact below it
    /// and a lower bound at it.
    std::size_t value_cap() const { return value_cap_; }

private:
    struct Group;

    Group& find_group(std::size_t which, const EventFields& fields);
    std::uint64_t weight(const Group& g) const;
    void run_due(std::int64_t before_ms, std::vector<Alert>& alerts);
    void run(std::int64_t run_ms, std::vector<Alert>& alerts);
    void drop_groups_before(std::int64_t time_ms);
    void add_event(Group& g, const ProcessEvent& event, const EventFields& fields);
    Alert make_alert(Group& g, std::int64_t run_ms);

    GroupBy group_by_;
    std::size_t value_cap_;
    std::int64_t next_run_ms_;   // INT64_MIN until the first event
    std::int64_t watermark_ms_;  // latest event time counted
    std::uint64_t runs_ = 0;
    std::unique_ptr<GroupTable<Group>> groups_;
    std::vector<Group*> qualifying_;  // reused by run()
    std::string key_;
    std::string scratch_;
};

}  // namespace scanwatch::rules
