#pragma once
// Audit events assembled per node (docs/fleet.md): one libauparse feed per `node=` name, so
// records of different hosts interleaved one by one (a collector's log and dispatcher stream)
// never split each other's events, and one host's clock never ages another host's events out.

#include <chrono>
#include <functional>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "parsers/auparse_feed.h"

namespace scanwatch::parsers {

/// The `node=` name a record line starts with; empty when it has none.
std::string_view record_node(std::string_view record);

/// Counters of the per-node feeds; monotonic except `nodes`.
struct NodeFeedCounters {
    std::uint64_t nodes = 0;          ///< feeds held now
    std::uint64_t nodes_evicted = 0;  ///< feeds completed and dropped past the cap or when idle
    std::uint64_t records_without_node = 0;  ///< records with no node= (a collector's own)
};

/// At most `max_nodes` AuparseFeed states, one per node name (records without node= share
/// one). The least recently fed goes first when a new node needs room, unless it has events in
/// flight (see set_busy) and one of the next least recently fed has none; the evicted node's
/// events in flight are completed then, as at the end of input. Each complete event goes to the
/// one handler.
class NodeFeeds {
public:
    using Clock = std::chrono::steady_clock;
    /// Whether a node (by name) has events in flight.
    using Busy = std::function<bool(std::string_view node)>;

    NodeFeeds(AuparseFeed::EventHandler on_event, std::size_t max_nodes);

    /// Feeds newline-terminated records of any nodes; complete events are handled before it
    /// returns.
    void feed(std::string_view records);
    /// Live input: the reader found no more bytes waiting (a read returned less than it asked
    /// for, or a followed file is at its end), so every record written so far has been fed.
    void input_drained() { ++drains_; }
    /// Live input, every second: a node not fed for 2 s, and whose last records were followed by
    /// a drained input, has its events in flight completed, whatever its clock says (a fed
    /// node's events complete by its own records' times). A reader working off a backlog never
    /// drains it, so there a node's records seconds apart in reading time are still one event:
    /// quiet is judged by the stream, not by how slowly it is read. Feeds not fed for `idle`
    /// (zero: never) are completed and dropped.
    void age(Clock::duration idle = Clock::duration::zero());
    /// Completes every event in flight of every node.
    void flush();
    /// Completes every event in flight of node `name` (empty: records without node=), if fed.
    void flush_node(std::string_view name);
    /// Tells eviction which nodes have events in flight: invented node names interleaved with
    /// a real node's records then do not complete its events half-way.
    void set_busy(Busy busy) { busy_ = std::move(busy); }

    std::uint64_t events() const { return retired_events_ + live_events(); }
    const NodeFeedCounters& counters() const { return counters_; }

private:
    struct Node {
        std::string name;
        std::unique_ptr<AuparseFeed> feed;
        Clock::time_point last_fed;
        bool flushed = false;  // completed since last fed
        std::uint64_t drains_at_fed = 0;  // drains_ when last fed
    };
    using List = std::list<Node>;

    Node& node_for(std::string_view name);
    void retire(List::iterator it);
    std::uint64_t live_events() const;

    AuparseFeed::EventHandler on_event_;
    Busy busy_;
    std::size_t max_nodes_;
    List lru_;  // front: most recently fed
    std::unordered_map<std::string_view, List::iterator> index_;  // views Node::name
    Node* last_ = nullptr;  // the node fed last: a log of one host never looks its node up
    std::uint64_t retired_events_ = 0;
    std::uint64_t drains_ = 0;  // input_drained() calls
    NodeFeedCounters counters_;
};

}  // namespace scanwatch::parsers
