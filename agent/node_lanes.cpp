#include "agent/node_lanes.h"

namespace scanwatch::agent {

NodeLanes::NodeLanes(std::size_t max_nodes, Retire retire)
    : max_nodes_(max_nodes < 1 ? 1 : max_nodes), retire_(std::move(retire)) {}

void NodeLanes::drop(List::iterator it) {
    index_.erase(std::string_view(it->node));
    if (last_ == &*it) last_ = nullptr;
    retire_(*it);
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
                ++counters_.nodes_evicted;
                drop(std::prev(lru_.end()));
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
