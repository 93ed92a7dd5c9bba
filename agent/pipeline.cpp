#include "agent/pipeline.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "parsers/event_key.h"
#include "rules/rule_check.h"
#include "parsers/ecs/json_writer.h"

namespace scanwatch::agent {
namespace {

// The parent's parent of sessionless execs is for the hardened grouping only: under the elastic
// profile the events stay as they were, and the lookup is not made.
parsers::NormalizerOptions normalizer_options(const PipelineOptions& options) {
    parsers::NormalizerOptions n = options.normalizer;
    n.lineage = n.lineage && options.engine.session_grouping;
    return n;
}

}  // namespace

Pipeline::Pipeline(PipelineOptions options, AlertSink alerts, EventSink events,
                   Diagnostics& diagnostics)
    : diagnostics_(diagnostics),
      alert_sink_(std::move(alerts)),
      event_sink_(std::move(events)),
      engine_options_(options.engine),
      rules_(std::move(options.rules)),
      collector_(options.collector),
      live_clock_(options.live_clock),
      node_max_groups_(options.node_max_groups),
      max_nodes_(options.max_nodes),
      lanes_(options.collector ? options.max_nodes : 1,
             [this](NodeLane& lane, bool evicted_with_state) { retire(lane, evicted_with_state); }),
      coarse_now_(NodeLane::Clock::now()),
      normalizer_(normalizer_options(options), [this](const ProcessEvent& e) { on_event(e); }),
      feed_(
          [this](auparse_state_t* au) {
              event_completed(au);
              if (gate_ && !gate_(parsers::event_key(au))) return;
              normalizer_.on_event(au);
          },
          options.max_nodes),
      filter_([this](std::string_view records) { feed_.feed(records); },
              [this](parsers::Malformed reason, std::uint64_t line, std::string_view text) {
                  diagnostics_.malformed(reason, line, text);
              }) {
    events_end_with_eoe_ = options.events_end_with_eoe;
    feed_.set_busy([this](std::string_view node) { return filter_.in_flight(node); });
    set_rules(rules_, engine_options_);
}

// process.title is the only thing a PROCTITLE record gives. Where EOE ends every event, nothing
// else needs it either, and auparse need not parse a record per event that nobody reads.
void Pipeline::decide_proctitles() {
    const int title = rules::FieldCatalog::known_id("process.title");
    filter_.skip_proctitles(events_end_with_eoe_ && !event_sink_ &&
                            std::none_of(rules_.begin(), rules_.end(), [title](const auto& rule) {
                                return rule->reads(title);
                            }));
    // Network records reach auparse only when events are exported or a rule reads a field
    // only network events carry: an exec-only rule set parses none of them.
    static constexpr std::string_view kNetworkFields[] = {
        "destination.ip",   "destination.port",          "network.transport",
        "network.type",     "network.direction",         "auditd.data.socket.family",
        "auditd.data.socket.type"};
    bool network = static_cast<bool>(event_sink_);
    exec_rules_.clear();
    network_rules_.clear();
    const int category = rules::FieldCatalog::known_id("event.category");
    for (const auto& rule : rules_) {
        bool reads_network = false;
        for (const std::string_view name : kNetworkFields) {
            reads_network = reads_network || rule->reads(rules::FieldCatalog::known_id(name));
        }
        network = network || reads_network;
        // A rule sees the events it may match. Network events go only to rules written for
        // them (they name event.category network or a network field, or are EQL `network
        // where`), so a rule written for exec events (`process.name:nc`) keeps its meaning.
        const bool eql = rule->rule_type == rules::RuleType::eql;
        const auto categories = rule->query.required_values(category);
        const bool for_network =
            eql ? (rule->eql_category == "network" || rule->eql_category == "any") && reads_network
                : reads_network || std::find(categories.begin(), categories.end(), "network") !=
                                       categories.end();
        exec_rules_.push_back(!(eql && rule->eql_category == "network") &&
                              rules::query_may_match_exec(rule->query));
        network_rules_.push_back(for_network && rules::query_may_match_network(rule->query));
    }
    filter_.pass_network(network);
}

void Pipeline::set_rules(std::vector<std::shared_ptr<const rules::RuleDefinition>> rules,
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
    decide_proctitles();
}

void Pipeline::set_tool_inodes(std::shared_ptr<const parsers::ToolInodes> tools) {
    filter_.pass_exec_paths(tools != nullptr);
    normalizer_.set_tool_inodes(std::move(tools));
}

void Pipeline::begin_source(std::string name, std::uint64_t offset) {
    filter_.begin_source(offset);
    diagnostics_.set_source(std::move(name));
}

void Pipeline::set_checkpoint_hooks(parsers::RecordFilter::RecordObserver records,
                                    std::function<bool(const std::string& key)> gate) {
    filter_.observe_records(std::move(records));
    gate_ = std::move(gate);
}

// A lane's engine states are saved under the rule's fingerprint, and on a collector under
// "fingerprint@node", so a one-host state file keeps its shape.
PipelineState Pipeline::save_state() const {
    PipelineState s;
    s.processes = normalizer_.processes().save();
    for (const NodeLane& lane : lanes_.lanes()) {
        for (const auto& engine : lane.engines) {
            const std::string& fp = engine->definition().fingerprint;
            s.rules[collector_ ? fp + "@" + lane.node : fp] = engine->save_state();
        }
    }
    return s;
}

std::vector<std::string> Pipeline::restore_state(const PipelineState& state) {
    normalizer_.processes().restore(state.processes);
    std::vector<std::string> misfits;
    for (const auto& [key, saved] : state.rules) {
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
        if (!engine->restore_state(saved) &&
            std::find(misfits.begin(), misfits.end(), (*rule)->name) == misfits.end()) {
            misfits.push_back((*rule)->name);
        }
        update_nearness(lane);
    }
    return misfits;
}

void Pipeline::feed(std::string_view bytes) { filter_.feed(bytes); }

// The filter tracks each event in flight (its record caps, the bounds on events in flight) until
// auparse completes it, however that happens: its EOE or PROCTITLE, auparse's own aging, a flush.
void Pipeline::event_completed(auparse_state_t* au) {
    const au_event_t* e = auparse_get_timestamp(au);
    if (e == nullptr) return;
    char stamp[64];
    const auto end = fmt::format_to_n(stamp, sizeof stamp, "{}.{:03}:{}",
                                      static_cast<long long>(e->sec), e->milli, e->serial)
                         .out;
    filter_.event_completed(e->host == nullptr ? std::string_view() : std::string_view(e->host),
                            std::string_view(stamp, static_cast<std::size_t>(end - stamp)));
}

void Pipeline::age() {
    coarse_now_ = NodeLane::Clock::now();
    filter_.age();
    const auto idle = std::chrono::milliseconds(node_idle_ms_);
    feed_.age(idle);
    if (collector_) lanes_.drop_idle(idle);
    deliver_alerts();
}

std::size_t Pipeline::advance(std::int64_t time_ms) {
    for (NodeLane& lane : lanes_.lanes()) {
        for (auto& engine : lane.engines) engine->advance(time_ms, pending_alerts_);
    }
    const std::size_t n = pending_alerts_.size();
    deliver_alerts();
    return n;
}

// Each node's time moves on from its own latest event, as the one-host clock does from the
// host's (docs/fleet.md): a node whose clock is ahead never runs another node's rules early.
std::size_t Pipeline::advance_nodes(std::int64_t lag_ms) {
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

void Pipeline::finish() {
    filter_.finish();
    feed_.flush();
    for (NodeLane& lane : lanes_.lanes()) {
        for (auto& engine : lane.engines) engine->finish(pending_alerts_);
    }
    deliver_alerts();
}

void Pipeline::deliver_alerts() {
    for (const auto& alert : pending_alerts_) alert_sink_(alert);
    pending_alerts_.clear();
}

void Pipeline::on_event(const ProcessEvent& event) {
    if (event.time_ms > last_event_ms_) last_event_ms_ = event.time_ms;
    if (event_sink_) event_sink_(event);
    NodeLane& lane = lane_for(event);
    const std::vector<char>& wants = event.kind == EventKind::exec ? exec_rules_ : network_rules_;
    for (std::size_t i = 0; i < lane.engines.size(); ++i) {
        if (wants[i]) lane.engines[i]->process(event, pending_alerts_);
    }
    if (collector_) update_nearness(lane);
    deliver_alerts();
}

std::string Pipeline::stats_json() const {
    std::string out;
    JsonWriter w(out);
    w.begin_object();
    w.field("type", "stats");
    stats_fields(w);
    w.end_object();
    return out;
}

void Pipeline::stats_fields(JsonWriter& w) const {
    // The counters come from each module's table (parsers/ecs/counter_table.h); what is written
    // here by hand is only what is not a counter of a struct (sizes, sums, times).
    const auto field = [&w](std::string_view name, std::uint64_t value) { w.field(name, value); };
    const auto& f = filter_.counters();
    parsers::for_each_counter(f, parsers::kFilterCounterFields, field);
    w.key("malformed");
    w.begin_object();
    w.field("total", f.malformed_total());
    for (std::size_t i = 0; i < parsers::kMalformedReasons; ++i) {
        w.field(parsers::malformed_name(static_cast<parsers::Malformed>(i)), f.malformed[i]);
    }
    w.end_object();
    w.field("events", feed_.events());
    parsers::for_each_counter(normalizer_.counters(), parsers::kNormalizerCounterFields, field);
    w.field("processes", static_cast<std::uint64_t>(normalizer_.processes().size()));
    w.field("processes_evicted", normalizer_.processes().evictions());
    rules::RuleCounters sums;
    w.key("rules");
    w.begin_array();
    for (std::size_t i = 0; i < rules_.size(); ++i) {
        const rules::RuleDefinition& def = *rules_[i];
        const rules::RuleCounters c = rule_counters(i);
        for (const auto member : rules::kRuleCounterSums) sums.*member += c.*member;
        w.begin_object();
        w.field("rule_id", def.rule_id);
        w.field("name", def.name);
        parsers::for_each_counter(c, rules::kRuleCounterFields, field);
        w.end_object();
    }
    w.end_array();
    for (const auto member : rules::kRuleCounterSums) {
        w.field(rules::rule_counter_name(member), sums.*member);
    }
    if (last_event_ms_ > 0) {
        const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
        w.field("last_event_time", format_timestamp(last_event_ms_));
        w.field("lag_ms", static_cast<std::int64_t>(now_ms - last_event_ms_));
    }
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    w.field("max_rss_kb", static_cast<std::int64_t>(usage.ru_maxrss));
    fleet_fields(w);
}

}  // namespace scanwatch::agent
