#pragma once
// The interface the agent drives a rule through, whatever its evaluation mode.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "parsers/ecs/counter_table.h"
#include "parsers/ecs/ecs_event.h"
#include "rules/alert.h"
#include "parsers/ecs/enum_names.h"
#include "rules/event_fields.h"
#include "rules/rule.h"

namespace scanwatch::rules {

/// How a rule is evaluated (docs/rules.md).
enum class Evaluation {
    streaming,  ///< sliding window on event time; alert on the event that crosses (ThresholdEngine)
    scheduled,  ///< Kibana's runs emulated on event time (ScheduledEngine)
};

/// The names of Evaluation.
inline constexpr EnumName<Evaluation> kEvaluationNames[] = {
    {"streaming", Evaluation::streaming}, {"scheduled", Evaluation::scheduled}};

/// Parses "streaming" / "scheduled"; false if neither (`out` untouched).
bool parse_evaluation(std::string_view text, Evaluation& out);

/// "streaming" / "scheduled".
std::string_view evaluation_name(Evaluation evaluation);

/// Engine settings that are not part of the rule.
struct EngineOptions {
    NameMatch name_match = NameMatch::any;
    std::size_t max_groups = 10000;    ///< groups kept at once; the one that can least matter evicted
    std::size_t sample_commands = 10;  ///< command lines kept as evidence
    std::size_t sample_values = 25;    ///< distinct values kept as evidence
    Evaluation evaluation = Evaluation::streaming;
    /// Where a rule groups by process.parent.entity_id, also group by the exec's lineage in its
    /// place: auditd.session, or without a login session the parent's parent or the user
    /// (rules/engines/group_by.h). The hardened profile's; off in the elastic profile.
    bool session_grouping = true;

    bool operator==(const EngineOptions& o) const {
        return name_match == o.name_match && session_grouping == o.session_grouping &&
               max_groups == o.max_groups &&
               sample_commands == o.sample_commands && sample_values == o.sample_values &&
               evaluation == o.evaluation;
    }
    bool operator!=(const EngineOptions& o) const { return !(*this == o); }
};

/// Counters of one rule; monotonic except `groups`.
struct RuleCounters {
    std::uint64_t matched = 0;              ///< events the query matched (excepted included)
    std::uint64_t excepted = 0;             ///< matched, but an exception matched too: not counted
    std::uint64_t missing_group_field = 0;  ///< matched, but a group-by field had no value
    std::uint64_t late = 0;                 ///< older than the window at the time they came
    std::uint64_t spent = 0;                ///< at or before the group's last alert
    std::uint64_t alerts = 0;
    /// Of the alerts, those the elastic profile would not raise: grouped by auditd.session, or
    /// counting an exec only the wider name match (not comm) saw.
    std::uint64_t alerts_hardening_only = 0;
    std::uint64_t held_back = 0;       ///< alerts over max_signals in one interval
    std::uint64_t groups_evicted = 0;  ///< dropped to respect max_groups while still counting
    /// Distinct values (events, for a rule without a cardinality) the evicted groups held, in
    /// all and at most in one: how near its threshold any evicted group was.
    std::uint64_t values_evicted = 0;
    std::uint64_t values_evicted_max = 0;
    std::uint64_t truncated = 0;  ///< samples, terms and evidence strings cut to their byte cap
    /// Events whose query (or an exception's) ran out of the matching work bound
    /// (query::kMatchWorkPerEvent): the rule's query then did not match, an exception did not.
    std::uint64_t match_work_cut = 0;
    std::uint64_t groups = 0;          ///< groups held now
};

/// The stats keys of RuleCounters, in the order each `rules[]` entry writes them.
inline constexpr parsers::CounterField<RuleCounters> kRuleCounterFields[] = {
    {"matched", &RuleCounters::matched},
    {"excepted", &RuleCounters::excepted},
    {"missing_group_field", &RuleCounters::missing_group_field},
    {"late", &RuleCounters::late},
    {"spent", &RuleCounters::spent},
    {"alerts", &RuleCounters::alerts},
    {"alerts_hardening_only", &RuleCounters::alerts_hardening_only},
    {"held_back", &RuleCounters::held_back},
    {"groups", &RuleCounters::groups},
    {"groups_evicted", &RuleCounters::groups_evicted},
    {"values_evicted", &RuleCounters::values_evicted},
    {"values_evicted_max", &RuleCounters::values_evicted_max},
    {"truncated", &RuleCounters::truncated},
    {"match_work_cut", &RuleCounters::match_work_cut},
};
/// The counters the stats also sum over all rules, in the order they write the sums (named as
/// in kRuleCounterFields).
inline constexpr std::uint64_t RuleCounters::*kRuleCounterSums[] = {
    &RuleCounters::matched, &RuleCounters::groups, &RuleCounters::alerts,
    &RuleCounters::alerts_hardening_only, &RuleCounters::held_back};
/// Adds `from` into `to` (a rule's counts over the collector's lanes, or over lanes dropped): every
/// counter of kRuleCounterFields is a sum, except values_evicted_max, a maximum.
inline void add_counters(RuleCounters& to, const RuleCounters& from) {
    for (const auto& f : kRuleCounterFields) {
        std::uint64_t& mine = to.*f.member;
        const std::uint64_t theirs = from.*f.member;
        mine = f.member == &RuleCounters::values_evicted_max ? std::max(mine, theirs) : mine + theirs;
    }
}

/// The stats name of a counter of kRuleCounterFields.
constexpr std::string_view rule_counter_name(std::uint64_t RuleCounters::*member) {
    for (const auto& f : kRuleCounterFields) {
        if (f.member == member) return f.name;
    }
    return {};
}

/// A value one field must have, or start or end with: one way an engine can act on an event
/// (rules/index).
struct IndexKey {
    enum class Match : std::uint8_t { exact, prefix, suffix };
    int field_id = -1;
    std::string value;  ///< ASCII lower-case
    Match match = Match::exact;
    bool operator<(const IndexKey& o) const {
        if (field_id != o.field_id) return field_id < o.field_id;
        return match != o.match ? match < o.match : value < o.value;
    }
    bool operator==(const IndexKey& o) const {
        return field_id == o.field_id && match == o.match && value == o.value;
    }
};

/// Which events an engine's process() needs (the rule index, rules/index/rule_index.h). By
/// default every event: an engine that declares nothing runs on all of them.
struct EngineInterest {
    enum class Kind : std::uint8_t {
        every_event,  ///< process() may act on any event (a clock driven by event time)
        matching,     ///< process() changes nothing and alerts nothing unless one of `queries`
                      ///< matches the event, read through EventFields with the engine's name match
        keyed,        ///< process() acts only on events with one of `keys` (read through
                      ///< EventFields, ASCII case ignored), and on others as `clocked` says
        none,         ///< no event can matter (a static check said no event can match)
    };
    Kind kind = Kind::every_event;
    std::vector<Query> queries;
    std::vector<IndexKey> keys;
    /// keyed: on an event without a key, process() only moves the engine's clock to the event's
    /// time (scheduled runs), which clock() does alone.
    bool clocked = false;
};

/// One rule's state. Reads time only from events; never a clock.
class RuleEngine {
public:
    virtual ~RuleEngine() = default;
    /// Counts `event`; appends any alert it causes to `alerts`.
    virtual void process(const ProcessEvent& event, std::vector<Alert>& alerts) = 0;
    /// End of input: appends alerts still due (scheduled runs); streaming has none.
    virtual void finish(std::vector<Alert>& alerts) = 0;
    /// Event time has reached `time_ms` without an event (a live source that went quiet):
    /// appends the alerts of scheduled runs an event at that time would make due. Streaming
    /// has none. The caller chooses the time (e.g. the wall clock less the input's delay).
    virtual void advance(std::int64_t /*time_ms*/, std::vector<Alert>& /*alerts*/) {}
    /// What process() does with an event it cannot otherwise act on (EngineInterest::clocked):
    /// moves the clock to the event's time, appending the alerts of runs that makes due.
    virtual void clock(std::int64_t /*time_ms*/, std::vector<Alert>& /*alerts*/) {}
    /// How near the group nearest its threshold is, in thousandths of the threshold (distinct
    /// values, or events without a cardinality; 0: no group counting). A collector weighs it
    /// before it drops a node's state (docs/fleet.md).
    virtual std::uint32_t nearest_permille() const { return 0; }
    /// Which events process() needs; the default, every event, is always safe.
    virtual EngineInterest interest() const { return {}; }
    const RuleDefinition& definition() const { return *rule_; }
    std::shared_ptr<const RuleDefinition> shared_definition() const { return rule_; }
    const RuleCounters& counters() const { return counters_; }
    /// The state that lets a restarted agent continue counting (tail mode's state file), or
    /// null for an engine that starts afresh after a restart.
    virtual nlohmann::json save_state() const { return nullptr; }
    /// Restores what save_state() gave; false (and nothing changed) when it does not fit.
    virtual bool restore_state(const nlohmann::json& /*state*/) { return false; }

protected:
    RuleEngine(std::shared_ptr<const RuleDefinition> rule, EngineOptions options)
        : rule_(std::move(rule)), options_(options) {}
    /// The interest of an engine that acts only on events its rule's query admits (admits()),
    /// or on none when `runs` is false.
    EngineInterest admitted_interest(bool runs = true) const {
        EngineInterest i;
        i.kind = runs ? EngineInterest::Kind::matching : EngineInterest::Kind::none;
        if (runs) i.queries.push_back(rule_->query);
        return i;
    }
    /// True when the event matches the rule's query and no exception excepts it; counts it in
    /// `matched` and, excepted, in `excepted`. Every engine admits events this way.
    bool admits(const EventFields& fields);

    std::shared_ptr<const RuleDefinition> rule_;
    EngineOptions options_;
    RuleCounters counters_;
};

/// The engine for the rule's type: QueryEngine (query, eql), NewTermsEngine (new_terms), or for a
/// threshold rule by `options.evaluation`: ThresholdEngine (streaming) or ScheduledEngine (scheduled).
std::unique_ptr<RuleEngine> make_engine(std::shared_ptr<const RuleDefinition> rule,
                                        const EngineOptions& options);

}  // namespace scanwatch::rules
