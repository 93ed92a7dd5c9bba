#pragma once
// A collector's per-node detection state (docs/fleet.md): each node gets its own rule engines,
// so its event-time watermark, max_signals budget and group cap are its own, and one host's
// clock or flood never changes what another host's events do. Bounded in nodes; a node idle for
// a window, or, when a new one needs room, the one whose state can least matter, is finished and
// dropped.

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "parsers/ecs/counter_table.h"
#include "rules/engines/engine.h"

namespace scanwatch::agent {

/// One node's engines and what is known of its clock.
struct NodeLane {
    using Clock = std::chrono::steady_clock;

    std::string node;  ///< host.id; empty for the single lane of a non-collector
    std::vector<std::unique_ptr<rules::RuleEngine>> engines;  ///< one per rule, the rules' order
    Clock::time_point last_seen{};
    std::int64_t latest_event_ms = 0;  ///< the latest event time of this node (0: none yet)
    std::int64_t skew_ms = 0;  ///< event time less arrival time of its latest event (live only)
    bool measured = false;     ///< skew_ms holds a measurement
    bool skewed = false;       ///< |skew_ms| is past the tolerance
    std::uint64_t events = 0;
    /// Of its rules, how near the group nearest its threshold was after its latest event, in
    /// thousandths (RuleEngine::nearest_permille).
    std::uint32_t nearest_permille = 0;
};

/// Counters of the lane table; monotonic except `nodes`.
struct NodeLaneCounters {
    std::uint64_t nodes = 0;           ///< lanes held now
    std::uint64_t nodes_evicted = 0;   ///< dropped to respect max_nodes
    std::uint64_t nodes_idle = 0;      ///< dropped after a window without events
    std::uint64_t nodes_evicted_with_state = 0;  ///< of nodes_evicted, those holding groups
};

/// The stats keys of NodeLaneCounters, in stats order.
inline constexpr parsers::CounterField<NodeLaneCounters> kNodeLaneCounterFields[] = {
    {"nodes", &NodeLaneCounters::nodes},
    {"nodes_evicted", &NodeLaneCounters::nodes_evicted},
    {"nodes_evicted_with_state", &NodeLaneCounters::nodes_evicted_with_state},
    {"nodes_idle", &NodeLaneCounters::nodes_idle},
};

/// At most `max_nodes` lanes by node name. When a new node needs room, the lane that can least
/// matter goes: the least near a threshold (in tenths), then the fewest events, then the least
/// recently seen; a lane holding a group near its threshold goes only when every other does too.
/// `retire` sees each lane before it is dropped (to finish its engines and keep its counters),
/// and whether it was evicted while holding groups.
class NodeLanes {
public:
    using Clock = NodeLane::Clock;
    using Retire = std::function<void(NodeLane& lane, bool evicted_with_state)>;

    NodeLanes(std::size_t max_nodes, Retire retire);

    /// The lane of `node`, now the most recently seen; `make` fills a new lane's engines.
    NodeLane& lane(std::string_view node,
                   const std::function<void(NodeLane&)>& make);
    /// Retires and drops the lanes not seen for `idle` or longer.
    void drop_idle(Clock::duration idle);
    /// Retires and drops every lane.
    void clear();

    std::list<NodeLane>& lanes() { return lru_; }
    const std::list<NodeLane>& lanes() const { return lru_; }
    const NodeLaneCounters& counters() const { return counters_; }

private:
    using List = std::list<NodeLane>;
    void drop(List::iterator it, bool evicted_with_state = false);
    List::iterator eviction_victim();

    std::size_t max_nodes_;
    Retire retire_;
    List lru_;  // front: most recently seen
    std::unordered_map<std::string_view, List::iterator> index_;  // views NodeLane::node
    NodeLane* last_ = nullptr;
    NodeLaneCounters counters_;
};

}  // namespace scanwatch::agent
