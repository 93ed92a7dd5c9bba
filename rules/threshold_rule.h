#pragma once
// Kibana's threshold rule evaluated as a stream on event time (SPEC section 2, mode streaming):
// group by the rule's fields, count events and distinct values of the cardinality field in a
// sliding window of the rule's look-back, and alert on the event that crosses both thresholds.

#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "parsers/ecs_event.h"
#include "rules/alert.h"
#include "rules/event_fields.h"
#include "rules/rule.h"

namespace scanwatch::rules {

/// Engine settings that are not part of the rule.
struct EngineOptions {
    NameMatch name_match = NameMatch::any;
    std::size_t max_groups = 10000;     ///< groups kept at once; least recently used evicted
    std::size_t sample_commands = 10;   ///< command lines kept as evidence
    std::size_t sample_values = 25;     ///< distinct values kept as evidence
};

/// Counters of one rule; monotonic except `groups`.
struct RuleCounters {
    std::uint64_t matched = 0;              ///< events the query matched
    std::uint64_t missing_group_field = 0;  ///< matched, but a group-by field had no value
    std::uint64_t late = 0;                 ///< older than the window at the time they came
    std::uint64_t spent = 0;                ///< at or before the group's last alert
    std::uint64_t alerts = 0;
    std::uint64_t held_back = 0;            ///< alerts over max_signals in one interval
    std::uint64_t groups_evicted = 0;       ///< dropped to respect max_groups while still counting
    std::uint64_t groups = 0;               ///< groups held now
};

/// One rule's streaming state. Reads time only from events; never a clock.
class ThresholdRule {
public:
    ThresholdRule(std::shared_ptr<const RuleDefinition> rule, EngineOptions options);
    ~ThresholdRule();
    ThresholdRule(const ThresholdRule&) = delete;
    ThresholdRule& operator=(const ThresholdRule&) = delete;

    /// Counts `event`; appends an alert to `alerts` when it crosses the threshold.
    /// Returns true when an alert was appended.
    bool process(const ProcessEvent& event, std::vector<Alert>& alerts);

    const RuleDefinition& definition() const { return *rule_; }
    const RuleCounters& counters() const { return counters_; }

private:
    struct Group;

    Group& find_group(const std::string& key, std::int64_t now_ms);
    void expire_groups(std::int64_t now_ms);
    void add_event(Group& g, const ProcessEvent& event, const EventFields& fields);
    bool crossed(const Group& g) const;
    Alert make_alert(Group& g, const ProcessEvent& event);

    std::shared_ptr<const RuleDefinition> rule_;
    EngineOptions options_;
    RuleCounters counters_;
    std::int64_t watermark_ms_;  // latest event time this rule has counted
    std::list<std::unique_ptr<Group>> lru_;  // front: most recently used
    std::unordered_map<std::string, std::list<std::unique_ptr<Group>>::iterator> groups_;
    std::int64_t signal_bucket_ = -1;  // interval the signal count below belongs to
    std::uint64_t signals_in_bucket_ = 0;
    std::string key_;
    std::string scratch_;
};

}  // namespace scanwatch::rules
