#include "agent/detection.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include <fmt/format.h>

#include "rules/esql/source.h"
#include "rules/event_fields.h"
#include "rules/rule_check.h"

namespace scanwatch::agent {
namespace {

// Beyond this, a node's clock is reported as skewed (stats and log).
constexpr std::int64_t kSkewToleranceMs = 30'000;
// Skewed nodes listed by name in the stats; the count covers all.
constexpr std::size_t kSkewedListed = 20;
// Evictions of nodes with state reported one by one before the messages come once a minute.
constexpr std::uint64_t kEvictionsReported = 5;

}  // namespace

rules::EngineOptions Detection::lane_options() const {
    rules::EngineOptions o = engine_options_;
    if (collector_) o.max_groups = node_max_groups_;
    return o;
}

void Detection::make_engines(NodeLane& lane) {
    const rules::EngineOptions options = lane_options();
    lane.engines.reserve(rules_.size());
    for (const auto& rule : rules_) lane.engines.push_back(rules::make_engine(rule, options));
}

NodeLane& Detection::lane_for(const ProcessEvent& event) {
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
void Detection::note_node(const std::string& node) {
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
bool Detection::skew_report_due() {
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

void Detection::update_nearness(NodeLane& lane) {
    std::uint32_t nearest = 0;
    for (const auto& engine : lane.engines) nearest = std::max(nearest, engine->nearest_permille());
    lane.nearest_permille = nearest;
}

// Event time against arrival: auditd dispatches within milliseconds, so what is left is the
// sender's clock offset (plus its queue delay when it catches up after an outage).
void Detection::measure_skew(NodeLane& lane, std::int64_t event_ms) {
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
void Detection::retire(NodeLane& lane, bool evicted_with_state) {
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

rules::RuleCounters Detection::rule_counters(std::size_t rule) const {
    rules::RuleCounters sum;
    const auto retired = retired_.find(rules_[rule]->fingerprint);
    if (retired != retired_.end()) rules::add_counters(sum, retired->second);
    for (const NodeLane& lane : lanes_.lanes()) {
        if (rule < lane.engines.size()) rules::add_counters(sum, lane.engines[rule]->counters());
    }
    return sum;
}

void Detection::lane_fields(JsonWriter& w) const {
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

Detection::Detection(DetectionOptions options, AlertSink alerts, Diagnostics& diagnostics)
    : diagnostics_(diagnostics),
      alert_sink_(std::move(alerts)),
      engine_options_(options.engine),
      collector_(options.collector),
      live_clock_(options.live_clock),
      node_max_groups_(options.node_max_groups),
      max_nodes_(options.max_nodes),
      lanes_(options.collector ? options.max_nodes : 1,
             [this](NodeLane& lane, bool evicted_with_state) { retire(lane, evicted_with_state); }),
      coarse_now_(NodeLane::Clock::now()),
      use_index_(options.rule_index) {}

void Detection::set_rules(std::vector<std::shared_ptr<const rules::RuleDefinition>> rules,
                          const rules::EngineOptions& options) {
    const bool same_options = options == engine_options_;
    engine_options_ = options;
    std::int64_t longest = 0;
    for (const auto& rule : rules) longest = std::max(longest, rule->from_ms);
    node_idle_ms_ = std::max<std::int64_t>(longest, 60'000);
    // Each lane keeps the engines whose rule (fingerprint) and options are unchanged.
    for (NodeLane& lane : lanes_.lanes()) {
        std::vector<std::unique_ptr<rules::RuleEngine>> next;
        for (const auto& rule : rules) {
            auto same = lane.engines.end();
            if (same_options) {
                same = std::find_if(lane.engines.begin(), lane.engines.end(), [&](const auto& e) {
                    return e && e->definition().fingerprint == rule->fingerprint;
                });
            }
            next.push_back(same != lane.engines.end() ? std::move(*same)
                                                      : rules::make_engine(rule, lane_options()));
        }
        lane.engines = std::move(next);
    }
    rules_ = std::move(rules);
    route_rules();
}

// A rule sees the events it may match. Network events go only to rules written for them (they
// name event.category network or a network field, or are EQL `network where`), so a rule
// written for exec events (`process.name:nc`) keeps its meaning.
RuleRoute route_rule(const rules::RuleDefinition& rule) {
    static constexpr std::string_view kNetworkFields[] = {
        "destination.ip",   "destination.port",          "network.transport",
        "network.type",     "network.direction",         "auditd.data.socket.family",
        "auditd.data.socket.type"};
    RuleRoute route;
    if (rule.rule_type == rules::RuleType::esql) {
        // An ES|QL rule reads the events its FROM stands for (rules/esql/source.h).
        const auto sources = rule.esql ? rules::esql_source::sources_of(*rule.esql)
                                       : rules::esql_source::Sources{};
        route.network = sources.auditd || sources.endpoint_network;
        route.reads_network = route.network;
        route.exec = sources.auditd || sources.endpoint_process;
        return route;
    }
    for (const std::string_view name : kNetworkFields) {
        route.reads_network = route.reads_network || rule.reads(rules::FieldCatalog::known_id(name));
    }
    if (rule.eql_sequence) {
        // An EQL sequence or sample gets the events of its terms' categories (the engine tells
        // each term's own category apart).
        const auto note = [&](const rules::EqlStage& s) {
            route.exec = route.exec || s.category == "process" || s.category == "any";
            route.network = route.network || s.category == "network" || s.category == "any";
        };
        for (const auto& s : rule.eql_sequence->stages) note(s);
        if (rule.eql_sequence->has_until) note(rule.eql_sequence->until);
        route.reads_network = route.reads_network || route.network;
        return route;
    }
    const int category = rules::FieldCatalog::known_id("event.category");
    const bool eql = rule.rule_type == rules::RuleType::eql;
    const auto categories = rule.query.required_values(category);
    const bool for_network =
        eql ? (rule.eql_category == "network" || rule.eql_category == "any") && route.reads_network
            : route.reads_network ||
                  std::find(categories.begin(), categories.end(), "network") != categories.end();
    route.exec = !(eql && rule.eql_category == "network") && rules::query_may_match_exec(rule.query);
    route.network = for_network && rules::query_may_match_network(rule.query);
    return route;
}

void Detection::route_rules() {
    reads_network_ = false;
    exec_rules_.clear();
    network_rules_.clear();
    for (const auto& rule : rules_) {
        const RuleRoute route = route_rule(*rule);
        reads_network_ = reads_network_ || route.reads_network;
        exec_rules_.push_back(route.exec);
        network_rules_.push_back(route.network);
    }
    // What each engine declares is a property of its rule and options, the same in every lane.
    std::vector<rules::IndexBucket> buckets;
    buckets.reserve(rules_.size());
    for (const auto& rule : rules_) {
        buckets.push_back(rules::bucket_of(rules::make_engine(rule, lane_options())->interest()));
    }
    exec_index_ = rules::RuleIndex(buckets, exec_rules_, engine_options_.name_match);
    network_index_ = rules::RuleIndex(buckets, network_rules_, engine_options_.name_match);
}

void Detection::process(const ProcessEvent& event) {
    NodeLane& lane = lane_for(event);
    if (use_index_) {
        rules::RuleIndex& index = event.kind == EventKind::exec ? exec_index_ : network_index_;
        index.candidates(event, candidates_);
        // In load order, as without the index: a candidate processes the event, a clocked rule
        // passed over only moves its clock to the event's time.
        const std::vector<std::uint32_t>& clocked = index.clocked();
        std::size_t c = 0;
        for (const std::uint32_t i : candidates_) {
            for (; c < clocked.size() && clocked[c] <= i; ++c) {
                if (clocked[c] < i) lane.engines[clocked[c]]->clock(event.time_ms, pending_alerts_);
            }
            lane.engines[i]->process(event, pending_alerts_);
        }
        for (; c < clocked.size(); ++c) lane.engines[clocked[c]]->clock(event.time_ms, pending_alerts_);
    } else {
        const std::vector<char>& wants = event.kind == EventKind::exec ? exec_rules_ : network_rules_;
        for (std::size_t i = 0; i < lane.engines.size(); ++i) {
            if (wants[i]) lane.engines[i]->process(event, pending_alerts_);
        }
    }
    if (collector_) update_nearness(lane);
    deliver_alerts();
}

void Detection::age() {
    if (collector_) lanes_.drop_idle(idle());
    deliver_alerts();
}

std::size_t Detection::advance(std::int64_t time_ms) {
    for (NodeLane& lane : lanes_.lanes()) {
        for (auto& engine : lane.engines) engine->advance(time_ms, pending_alerts_);
    }
    const std::size_t n = pending_alerts_.size();
    deliver_alerts();
    return n;
}

// Each node's time moves on from its own latest event, as the one-host clock does from the
// host's (docs/fleet.md): a node whose clock is ahead never runs another node's rules early.
std::size_t Detection::advance_nodes(std::int64_t lag_ms) {
    const auto now = NodeLane::Clock::now();
    for (NodeLane& lane : lanes_.lanes()) {
        if (lane.latest_event_ms == 0) continue;
        const auto quiet =
            std::chrono::duration_cast<std::chrono::milliseconds>(now - lane.last_seen).count();
        const std::int64_t time_ms = lane.latest_event_ms + static_cast<std::int64_t>(quiet) - lag_ms;
        for (auto& engine : lane.engines) engine->advance(time_ms, pending_alerts_);
    }
    const std::size_t n = pending_alerts_.size();
    deliver_alerts();
    return n;
}

void Detection::finish() {
    for (NodeLane& lane : lanes_.lanes()) {
        for (auto& engine : lane.engines) engine->finish(pending_alerts_);
    }
    deliver_alerts();
}

void Detection::deliver_alerts() {
    for (const auto& alert : pending_alerts_) alert_sink_(alert);
    pending_alerts_.clear();
}

// A lane's engine states are saved under the rule's fingerprint, and on a collector under
// "fingerprint@node", so a one-host state file keeps its shape.
std::map<std::string, nlohmann::json> Detection::save() const {
    std::map<std::string, nlohmann::json> out;
    for (const NodeLane& lane : lanes_.lanes()) {
        for (const auto& engine : lane.engines) {
            const std::string& fp = engine->definition().fingerprint;
            out[collector_ ? fp + "@" + lane.node : fp] = engine->save_state();
        }
    }
    return out;
}

std::vector<std::string> Detection::restore(const std::map<std::string, nlohmann::json>& saved) {
    std::vector<std::string> misfits;
    for (const auto& [key, state] : saved) {
        const std::size_t at = key.find('@');
        if ((at != std::string::npos) != collector_) continue;  // saved by the other kind of run
        const std::string fp = key.substr(0, at);
        const auto rule = std::find_if(rules_.begin(), rules_.end(),
                                       [&](const auto& r) { return r->fingerprint == fp; });
        if (rule == rules_.end()) continue;
        NodeLane& lane = lanes_.lane(collector_ ? std::string_view(key).substr(at + 1) : "",
                                     [this](NodeLane& l) { make_engines(l); });
        lane.last_seen = coarse_now_;
        auto& engine = lane.engines[static_cast<std::size_t>(rule - rules_.begin())];
        if (!engine->restore_state(state) &&
            std::find(misfits.begin(), misfits.end(), (*rule)->name) == misfits.end()) {
            misfits.push_back((*rule)->name);
        }
        update_nearness(lane);
    }
    return misfits;
}

DetectionStats Detection::stats() const {
    DetectionStats s;
    s.rules.reserve(rules_.size());
    for (std::size_t i = 0; i < rules_.size(); ++i) s.rules.push_back(rule_counters(i));
    if (collector_) {
        s.nodes = lanes_.counters();
        for (const NodeLane& lane : lanes_.lanes()) s.nodes_skewed += lane.skewed ? 1 : 0;
    }
    return s;
}

}  // namespace scanwatch::agent
