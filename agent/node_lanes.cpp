#include "agent/node_lanes.h"

namespace scanwatch::agent {

NodeLanes::NodeLanes(std::size_t max_nodes, Retire retire)
    : max_nodes_(max_nodes < 1 ? 1 : max_nodes), retire_(std::move(retire)) {}

namespace {

bool holds_groups(const NodeLane& lane) {
    for (const auto& engine : lane.engines) {
        if (engine->counters().groups > 0) return true;
    }
    return false;
}

}  // namespace

void NodeLanes::drop(List::iterator it, bool evicted_with_state) {
    index_.erase(std::string_view(it->node));
    if (last_ == &*it) last_ = nullptr;
    retire_(*it, evicted_with_state);
    lru_.erase(it);
    counters_.nodes = lru_.size();
}

NodeLane& NodeLanes::lane(std::string_view node, const std::function<void(NodeLane&)>& make) {
    if (last_ == nullptr || last_->node != node) {
        const auto found = index_.find(node);
        if (found != index_.end()) {
            lru_.splice(lru_.begin(), lru_, found->second);
        } else {
            if (lru_.size() >= max_nodes_) {
                const auto victim = eviction_victim();
                const bool with_state = holds_groups(*victim);
                ++counters_.nodes_evicted;
                if (with_state) ++counters_.nodes_evicted_with_state;
                drop(victim, with_state);
            }
            lru_.emplace_front();
            lru_.front().node.assign(node);
            make(lru_.front());
            index_.emplace(lru_.front().node, lru_.begin());
            counters_.nodes = lru_.size();
        }
        last_ = &lru_.front();
    }
    return *last_;
}

// Invented node names must not push out a real node's sweep: a lane's worth is how near its
// rules are to alerting, then how much it has sent. One pass over at most max_nodes lanes, on a
// new node only, reading the nearness each lane keeps after its events.
NodeLanes::List::iterator NodeLanes::eviction_victim() {
    auto victim = std::prev(lru_.end());
    std::uint32_t best_near = victim->nearest_permille / 100;
    std::uint64_t best_events = victim->events;
    for (auto it = std::next(lru_.rbegin()); it != lru_.rend(); ++it) {
        const std::uint32_t near = it->nearest_permille / 100;
        if (near < best_near || (near == best_near && it->events < best_events)) {
            victim = std::prev(it.base());
            best_near = near;
            best_events = it->events;
        }
    }
    return victim;
}

void NodeLanes::drop_idle(Clock::duration idle) {
    const Clock::time_point now = Clock::now();
    // Least recently seen last: stop at the first lane seen within the window.
    while (!lru_.empty() && now - lru_.back().last_seen >= idle) {
        ++counters_.nodes_idle;
        drop(std::prev(lru_.end()));
    }
}

void NodeLanes::clear() {
    while (!lru_.empty()) drop(std::prev(lru_.end()));
}

}  // namespace scanwatch::agent
