// The Pipeline's per-node side (docs/fleet.md): which lane an event's rules run in, each node's
// clock skew, dropping lanes, and the fleet stats.

#include <chrono>
#include <cstdlib>

#include <fmt/format.h>

#include "agent/pipeline.h"

namespace scanwatch::agent {
namespace {

// Beyond this, a node's clock is reported as skewed (stats and log).
constexpr std::int64_t kSkewToleranceMs = 30'000;
// Skewed nodes listed by name in the stats; the count covers all.
constexpr std::size_t kSkewedListed = 20;
// Evictions of nodes with state reported one by one before the messages come once a minute.
constexpr std::uint64_t kEvictionsReported = 5;

}  // namespace

rules::EngineOptions Pipeline::lane_options() const {
    rules::EngineOptions o = engine_options_;
    if (collector_) o.max_groups = node_max_groups_;
    return o;
}

void Pipeline::make_engines(NodeLane& lane) {
    const rules::EngineOptions options = lane_options();
    lane.engines.reserve(rules_.size());
    for (const auto& rule : rules_) lane.engines.push_back(rules::make_engine(rule, options));
}

NodeLane& Pipeline::lane_for(const ProcessEvent& event) {
    if (!collector_ && !warned_nodes_ && (!first_node_seen_ || event.host_id != first_node_)) {
        note_node(event.host_id);
    }
    NodeLane& lane = lanes_.lane(collector_ ? std::string_view(event.host_id) : std::string_view(),
                                 [this](NodeLane& l) { make_engines(l); });
    lane.last_seen = coarse_now_;
    if (event.time_ms > lane.latest_event_ms) lane.latest_event_ms = event.time_ms;
    ++lane.events;
    if (live_clock_ && collector_) measure_skew(lane, event.time_ms);
    return lane;
}

// Without --collector every node shares one event clock, one max_signals budget and one group
// cap: a node whose clock is ahead makes the others' events late. Said once; the run is not
// switched over by itself, since what it saves and restores would change shape under it.
void Pipeline::note_node(const std::string& node) {
    if (!first_node_seen_) {
        first_node_ = node;
        first_node_seen_ = true;
        return;
    }
    warned_nodes_ = true;
    diagnostics_.warn(fmt::format(
        "events of more than one node ({}, {}) without --collector: all share one event clock "
        "and one group cap, so one node's clock or flood changes the others' detections; run "
        "with --collector (docs/fleet.md)",
        first_node_.empty() ? "(no node=)" : first_node_, node.empty() ? "(no node=)" : node));
}

// Skew changes are logged for kSkewedListed nodes a minute at most: a sender inventing node
// names with skewed clocks must not write a line per name (the stats count them all).
bool Pipeline::skew_report_due() {
    const auto now = NodeLane::Clock::now();
    if (now - skew_window_start_ >= std::chrono::minutes(1)) {
        if (skew_reports_suppressed_ > 0) {
            diagnostics_.warn(fmt::format("{} more node clock changes not logged (see --stats "
                                          "skewed_nodes)",
                                          skew_reports_suppressed_));
        }
        skew_window_start_ = now;
        skew_reports_ = 0;
        skew_reports_suppressed_ = 0;
    }
    if (skew_reports_ < kSkewedListed) {
        ++skew_reports_;
        return true;
    }
    ++skew_reports_suppressed_;
    return false;
}

void Pipeline::update_nearness(NodeLane& lane) {
    std::uint32_t nearest = 0;
    for (const auto& engine : lane.engines) nearest = std::max(nearest, engine->nearest_permille());
    lane.nearest_permille = nearest;
}

// Event time against arrival: auditd dispatches within milliseconds, so what is left is the
// sender's clock offset (plus its queue delay when it catches up after an outage).
void Pipeline::measure_skew(NodeLane& lane, std::int64_t event_ms) {
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    lane.skew_ms = event_ms - static_cast<std::int64_t>(now_ms);
    lane.measured = true;
    const bool skewed = std::llabs(lane.skew_ms) > kSkewToleranceMs;
    if (skewed != lane.skewed && collector_ && skew_report_due()) {
        diagnostics_.warn(
            skewed ? fmt::format("node {}: clock {} s {} arrival; its detections use its own "
                                 "event time (docs/fleet.md)",
                                 lane.node.empty() ? "(no node=)" : lane.node,
                                 std::llabs(lane.skew_ms) / 1000,
                                 lane.skew_ms > 0 ? "ahead of" : "behind")
                   : fmt::format("node {}: clock back within {} s of arrival",
                                 lane.node.empty() ? "(no node=)" : lane.node,
                                 kSkewToleranceMs / 1000));
    }
    lane.skewed = skewed;
}

// A dropped lane's scheduled runs still due are done, and its counts stay in the stats. A node
// evicted with groups may lose an alert: said loudly, at most once a minute after the first few.
void Pipeline::retire(NodeLane& lane, bool evicted_with_state) {
    if (evicted_with_state) {
        ++evictions_unreported_;
        const auto now = NodeLane::Clock::now();
        if (evictions_reported_ < kEvictionsReported || now - last_eviction_report_ >= std::chrono::minutes(1)) {
            std::uint64_t groups = 0;
            for (const auto& engine : lane.engines) groups += engine->counters().groups;
            diagnostics_.warn(fmt::format(
                "node {}: detection state dropped ({} groups, the nearest at {}% of its "
                "threshold) to make room for a new node past --max-nodes {}; {} node(s) with "
                "state dropped since the last such message. Many invented node names can do "
                "this (docs/fleet.md)",
                lane.node.empty() ? "(no node=)" : lane.node, groups,
                lane.nearest_permille / 10, max_nodes_, evictions_unreported_));
            ++evictions_reported_;
            evictions_unreported_ = 0;
            last_eviction_report_ = now;
        }
    }
    for (auto& engine : lane.engines) {
        engine->finish(pending_alerts_);
        rules::RuleCounters c = engine->counters();
        c.groups = 0;
        rules::add_counters(retired_[engine->definition().fingerprint], c);
    }
}

rules::RuleCounters Pipeline::rule_counters(std::size_t rule) const {
    rules::RuleCounters sum;
    const auto retired = retired_.find(rules_[rule]->fingerprint);
    if (retired != retired_.end()) rules::add_counters(sum, retired->second);
    for (const NodeLane& lane : lanes_.lanes()) {
        if (rule < lane.engines.size()) rules::add_counters(sum, lane.engines[rule]->counters());
    }
    return sum;
}

void Pipeline::fleet_fields(JsonWriter& w) const {
    const auto& f = feed_.counters();
    w.field("nodes_assembling", f.nodes);
    w.field("nodes_assembling_evicted", f.nodes_evicted);
    w.field("records_without_node", f.records_without_node);
    if (!collector_) return;
    parsers::for_each_counter(lanes_.counters(), kNodeLaneCounterFields,
                              [&w](std::string_view name, std::uint64_t value) { w.field(name, value); });
    std::uint64_t skewed = 0;
    w.key("skewed_nodes");
    w.begin_array();
    for (const NodeLane& lane : lanes_.lanes()) {
        if (!lane.skewed) continue;
        if (++skewed > kSkewedListed) continue;
        w.begin_object();
        w.field("node", lane.node);
        w.field("skew_ms", lane.skew_ms);
        w.end_object();
    }
    w.end_array();
    w.field("nodes_skewed", skewed);
}

}  // namespace scanwatch::agent
