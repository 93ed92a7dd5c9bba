#include "parsers/node_feed.h"

namespace scanwatch::parsers {
namespace {

// A node's records have stopped arriving this long: its events in flight are complete (auditd's
// own end_of_event_timeout default).
constexpr auto kQuiet = std::chrono::seconds(2);
// Least recently fed nodes looked at for one without events in flight when one must go.
constexpr std::size_t kEvictionCandidates = 64;

}  // namespace

std::string_view record_node(std::string_view record) {
    if (record.substr(0, 5) != "node=") return {};
    const std::size_t end = record.find_first_of(" \n", 5);
    return record.substr(5, end == std::string_view::npos ? record.size() - 5 : end - 5);
}

NodeFeeds::NodeFeeds(AuparseFeed::EventHandler on_event, std::size_t max_nodes)
    : on_event_(std::move(on_event)), max_nodes_(max_nodes < 1 ? 1 : max_nodes) {}

std::uint64_t NodeFeeds::live_events() const {
    std::uint64_t n = 0;
    for (const auto& node : lru_) n += node.feed->events();
    return n;
}

void NodeFeeds::retire(List::iterator it) {
    // Completing its events may throw from the handler: the node is gone from the index first,
    // so a rethrow leaves the table consistent.
    index_.erase(std::string_view(it->name));
    if (last_ == &*it) last_ = nullptr;
    std::unique_ptr<AuparseFeed> feed = std::move(it->feed);
    lru_.erase(it);
    counters_.nodes = lru_.size();
    ++counters_.nodes_evicted;
    feed->flush();
    retired_events_ += feed->events();
}

NodeFeeds::Node& NodeFeeds::node_for(std::string_view name) {
    if (last_ != nullptr && last_->name == name) return *last_;
    const auto found = index_.find(name);
    if (found != index_.end()) {
        lru_.splice(lru_.begin(), lru_, found->second);
    } else {
        if (lru_.size() >= max_nodes_) {
            auto victim = std::prev(lru_.end());
            if (busy_) {
                std::size_t looked = 0;
                for (auto it = lru_.rbegin(); it != lru_.rend() && looked < kEvictionCandidates;
                     ++it, ++looked) {
                    if (!busy_(it->name)) {
                        victim = std::prev(it.base());
                        break;
                    }
                }
            }
            retire(victim);
        }
        lru_.push_front(Node{std::string(name), std::make_unique<AuparseFeed>(on_event_), {}});
        index_.emplace(lru_.front().name, lru_.begin());
        counters_.nodes = lru_.size();
    }
    last_ = &lru_.front();
    return *last_;
}

void NodeFeeds::feed(std::string_view records) {
    // Runs of records of one node go to its feed in one call (AuparseFeed splits per record).
    const Clock::time_point now = Clock::now();
    while (!records.empty()) {
        const std::string_view name = record_node(records);
        std::size_t end = 0;
        std::uint64_t run = 0;
        do {
            const std::size_t nl = records.find('\n', end);
            end = nl == std::string_view::npos ? records.size() : nl + 1;
            ++run;
        } while (end < records.size() && record_node(records.substr(end)) == name);
        if (name.empty()) counters_.records_without_node += run;
        Node& node = node_for(name);
        node.last_fed = now;
        node.flushed = false;
        node.drains_at_fed = drains_;
        node.feed->feed(records.substr(0, end));
        records.remove_prefix(end);
    }
}

void NodeFeeds::age(Clock::duration idle) {
    const Clock::time_point now = Clock::now();
    for (auto it = lru_.begin(); it != lru_.end();) {
        const auto next = std::next(it);
        if (idle > Clock::duration::zero() && now - it->last_fed >= idle) {
            retire(it);
        } else if (now - it->last_fed >= kQuiet && !it->flushed &&
                   drains_ != it->drains_at_fed) {
            // Arrival decides, never auparse's own aging: it compares event time with the wall
            // clock, so it would keep a node's last event for as long as its clock is ahead, and
            // split the events of a node whose clock is behind or whose records come late. And
            // only once the input was drained after its last records: until then the rest of
            // its event may still be waiting, unread, behind other nodes' records.
            it->feed->flush();
            it->flushed = true;
        }
        it = next;
    }
}

void NodeFeeds::flush() {
    for (auto& node : lru_) node.feed->flush();
}

void NodeFeeds::flush_node(std::string_view name) {
    if (last_ != nullptr && last_->name == name) {
        last_->feed->flush();
        return;
    }
    const auto found = index_.find(name);
    if (found != index_.end()) found->second->feed->flush();
}

}  // namespace scanwatch::parsers
