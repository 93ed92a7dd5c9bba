#pragma once
// The interface the agent drives a rule through, whatever its evaluation mode.

#include <cstdint>
#include <memory>
#include <vector>

#include "parsers/ecs_event.h"
#include "rules/alert.h"
#include "rules/event_fields.h"
#include "rules/rule.h"

namespace scanwatch::rules {

/// Engine settings that are not part of the rule.
struct EngineOptions {
    NameMatch name_match = NameMatch::any;
    std::size_t max_groups = 10000;    ///< groups kept at once; least recently used evicted
    std::size_t sample_commands = 10;  ///< command lines kept as evidence
    std::size_t sample_values = 25;    ///< distinct values kept as evidence

    bool operator==(const EngineOptions& o) const {
        return name_match == o.name_match && max_groups == o.max_groups &&
               sample_commands == o.sample_commands && sample_values == o.sample_values;
    }
};

/// Counters of one rule; monotonic except `groups`.
struct RuleCounters {
    std::uint64_t matched = 0;              ///< events the query matched
    std::uint64_t excepted = 0;             ///< matched, but an exception matched too
    std::uint64_t missing_group_field = 0;  ///< matched, but a group-by field had no value
    std::uint64_t late = 0;                 ///< older than the window at the time they came
    std::uint64_t spent = 0;                ///< at or before the group's last alert
    std::uint64_t alerts = 0;
    std::uint64_t held_back = 0;       ///< alerts over max_signals in one interval
    std::uint64_t groups_evicted = 0;  ///< dropped to respect max_groups while still counting
    std::uint64_t groups = 0;          ///< groups held now
};

/// One rule's state. Reads time only from events; never a clock.
class RuleEngine {
public:
    virtual ~RuleEngine() = default;
    /// Counts `event`; appends any alert it causes to `alerts`.
    virtual void process(const ProcessEvent& event, std::vector<Alert>& alerts) = 0;
    /// End of input: appends alerts still due (scheduled runs); streaming has none.
    virtual void finish(std::vector<Alert>& alerts) = 0;
    virtual const RuleDefinition& definition() const = 0;
    virtual std::shared_ptr<const RuleDefinition> shared_definition() const = 0;
    virtual const RuleCounters& counters() const = 0;
};

/// The engine for `rule`'s evaluation mode.
std::unique_ptr<RuleEngine> make_engine(std::shared_ptr<const RuleDefinition> rule,
                                        const EngineOptions& options);

}  // namespace scanwatch::rules
