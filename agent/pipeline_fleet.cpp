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

void add(rules::RuleCounters& to, const rules::RuleCounters& c) {
    to.matched += c.matched;
    to.excepted += c.excepted;
    to.missing_group_field += c.missing_group_field;
    to.late += c.late;
    to.spent += c.spent;
    to.alerts += c.alerts;
    to.alerts_hardening_only += c.alerts_hardening_only;
    to.held_back += c.held_back;
    to.groups_evicted += c.groups_evicted;
    to.values_evicted += c.values_evicted;
    to.values_evicted_max = std::max(to.values_evicted_max, c.values_evicted_max);
    to.truncated += c.truncated;
    to.match_work_cut += c.match_work_cut;
    to.groups += c.groups;
}

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
    NodeLane& lane = lanes_.lane(collector_ ? std::string_view(event.host_id) : std::string_view(),
                                 [this](NodeLane& l) { make_engines(l); });
    lane.last_seen = coarse_now_;
    if (event.time_ms > lane.latest_event_ms) lane.latest_event_ms = event.time_ms;
    ++lane.events;
    if (live_clock_ && collector_) measure_skew(lane, event.time_ms);
    return lane;
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
    if (skewed != lane.skewed && collector_) {
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

// A dropped lane's scheduled runs still due are done, and its counts stay in the stats.
void Pipeline::retire(NodeLane& lane) {
    for (auto& engine : lane.engines) {
        engine->finish(pending_alerts_);
        rules::RuleCounters c = engine->counters();
        c.groups = 0;
        add(retired_[engine->definition().fingerprint], c);
    }
}

rules::RuleCounters Pipeline::rule_counters(std::size_t rule) const {
    rules::RuleCounters sum;
    const auto retired = retired_.find(rules_[rule]->fingerprint);
    if (retired != retired_.end()) add(sum, retired->second);
    for (const NodeLane& lane : lanes_.lanes()) {
        if (rule < lane.engines.size()) add(sum, lane.engines[rule]->counters());
    }
    return sum;
}

void Pipeline::fleet_fields(JsonWriter& w) const {
    const auto& f = feed_.counters();
    w.field("nodes_assembling", f.nodes);
    w.field("nodes_assembling_evicted", f.nodes_evicted);
    w.field("records_without_node", f.records_without_node);
    if (!collector_) return;
    const auto& l = lanes_.counters();
    w.field("nodes", l.nodes);
    w.field("nodes_evicted", l.nodes_evicted);
    w.field("nodes_idle", l.nodes_idle);
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
