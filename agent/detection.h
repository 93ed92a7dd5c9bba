#pragma once
// The detection side of the pipeline (docs/architecture.md): the rule engines, one set per node
// on a collector (agent/node_lanes.h), which rules each kind of event goes to, the alerts they
// make, their save and restore, and the per-node bookkeeping of docs/fleet.md (eviction, clock
// skew, the warning when several nodes share one set of engines). It takes ECS events and never
// sees audit text.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/diagnostics.h"
#include "agent/node_lanes.h"
#include "parsers/ecs/ecs_event.h"
#include "parsers/ecs/json_writer.h"
#include "rules/engines/engine.h"
#include "rules/index/rule_index.h"

namespace scanwatch::agent {

/// What the detection side is built from.
struct DetectionOptions {
    rules::EngineOptions engine;
    bool collector = false;             ///< detection state per node=
    std::size_t max_nodes = 2048;       ///< lanes kept at once on a collector
    std::size_t node_max_groups = 500;  ///< a collector's groups per rule and node
    bool live_clock = false;            ///< events arrive now: measure each node's skew
    /// Try each event only against the rules that could match it (rules/index/rule_index.h).
    /// Off: every rule of the event's kind, as before; the two give the same alerts (a test).
    bool rule_index = true;
};

/// The detection side's stats as values (docs/operations.md, "Stats"), for tests and writers.
struct DetectionStats {
    std::vector<rules::RuleCounters> rules;  ///< per loaded rule, in load order, over all lanes
    NodeLaneCounters nodes;                  ///< the collector's lanes (zero without --collector)
    std::uint64_t nodes_skewed = 0;          ///< lanes whose clock is off by more than 30 s
};

/// Which kinds of event a rule is given (docs/rules.md): exec events when its query may match
/// one, network events (connect, socket) only when it is written for them (it names
/// event.category network or a network field, or is EQL `network where`). `reads_network`: it
/// reads a field only network events carry. One answer for the pipeline and `scanwatch doctor`.
struct RuleRoute {
    bool exec = false;
    bool network = false;
    bool reads_network = false;
};
RuleRoute route_rule(const rules::RuleDefinition& rule);

class Detection {
public:
    using AlertSink = std::function<void(const rules::Alert& alert)>;

    /// `diagnostics` must outlive this object.
    Detection(DetectionOptions options, AlertSink alerts, Diagnostics& diagnostics);

    /// Replaces the rules. An engine whose rule (fingerprint) and options are unchanged keeps
    /// its state; the others start empty.
    void set_rules(std::vector<std::shared_ptr<const rules::RuleDefinition>> rules,
                   const rules::EngineOptions& options);
    const std::vector<std::shared_ptr<const rules::RuleDefinition>>& rules() const { return rules_; }
    const rules::EngineOptions& engine_options() const { return engine_options_; }
    bool collector() const { return collector_; }
    /// Whether a loaded rule reads a field only network events carry.
    bool reads_network() const { return reads_network_; }

    /// Runs `event` through the rules that may match its kind; alerts go to the sink.
    void process(const ProcessEvent& event);
    /// The coarse clock lanes are stamped with when they see an event (live modes, every second).
    void set_now(NodeLane::Clock::time_point now) { coarse_now_ = now; }
    /// Every second in live modes: lanes idle for the longest look-back are dropped.
    void age();
    /// Event time has reached `time_ms` (a quiet live input): scheduled runs now due.
    std::size_t advance(std::int64_t time_ms);
    /// On a collector: each node's time moves on from its own latest event (docs/fleet.md).
    std::size_t advance_nodes(std::int64_t lag_ms);
    /// The end of the input: every engine finishes.
    void finish();
    /// The longest look-back of the loaded rules, at least a minute.
    std::chrono::milliseconds idle() const { return std::chrono::milliseconds(node_idle_ms_); }

    /// Every engine's state, under the rule's fingerprint (and "@node" on a collector).
    std::map<std::string, nlohmann::json> save() const;
    /// Restores what save() gave; returns the names of rules whose state does not fit.
    std::vector<std::string> restore(const std::map<std::string, nlohmann::json>& saved);

    DetectionStats stats() const;
    /// The collector's lane fields of the stats line (nothing without --collector).
    void lane_fields(JsonWriter& w) const;

private:
    NodeLane& lane_for(const ProcessEvent& event);
    void make_engines(NodeLane& lane);
    void retire(NodeLane& lane, bool evicted_with_state);
    void note_node(const std::string& node);
    void update_nearness(NodeLane& lane);
    bool skew_report_due();
    void measure_skew(NodeLane& lane, std::int64_t event_ms);
    void route_rules();
    void deliver_alerts();
    rules::EngineOptions lane_options() const;
    rules::RuleCounters rule_counters(std::size_t rule) const;

    Diagnostics& diagnostics_;
    AlertSink alert_sink_;
    rules::EngineOptions engine_options_;
    std::vector<std::shared_ptr<const rules::RuleDefinition>> rules_;
    bool collector_ = false;
    bool live_clock_ = false;
    std::size_t node_max_groups_ = 500;
    std::int64_t node_idle_ms_ = 0;  // the longest rule look-back: a lane idle that long is dropped
    std::size_t max_nodes_ = 2048;
    // Without --collector: the first node seen, and whether a second was reported.
    std::string first_node_;
    bool first_node_seen_ = false;
    bool warned_nodes_ = false;
    // Reports of nodes evicted with state (rate-limited).
    std::uint64_t evictions_reported_ = 0;
    std::uint64_t evictions_unreported_ = 0;
    NodeLane::Clock::time_point last_eviction_report_{};
    // Skew change messages in the current minute (rate-limited).
    NodeLane::Clock::time_point skew_window_start_{};
    std::uint64_t skew_reports_ = 0;
    std::uint64_t skew_reports_suppressed_ = 0;
    NodeLanes lanes_;
    std::map<std::string, rules::RuleCounters> retired_;  // rule fingerprint -> dropped lanes' counts
    NodeLane::Clock::time_point coarse_now_;  // set by age(): lanes' last_seen
    std::vector<rules::Alert> pending_alerts_;
    // Per rule (as rules_): whether it is given exec events, and network events.
    std::vector<char> exec_rules_;
    std::vector<char> network_rules_;
    bool reads_network_ = false;
    // The rule index per kind of event, and the candidates of the current event (reused).
    bool use_index_ = true;
    rules::RuleIndex exec_index_;
    rules::RuleIndex network_index_;
    std::vector<std::uint32_t> candidates_;
};

}  // namespace scanwatch::agent
