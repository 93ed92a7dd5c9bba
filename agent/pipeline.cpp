#include "agent/pipeline.h"

#include <sys/resource.h>

#include <algorithm>
#include <charconv>
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

namespace {

DetectionOptions detection_options(const PipelineOptions& options) {
    DetectionOptions d;
    d.engine = options.engine;
    d.collector = options.collector;
    d.max_nodes = options.max_nodes;
    d.node_max_groups = options.node_max_groups;
    d.live_clock = options.live_clock;
    d.rule_index = options.rule_index;
    return d;
}

}  // namespace

Pipeline::Pipeline(PipelineOptions options, AlertSink alerts, EventSink events,
                   Diagnostics& diagnostics)
    : diagnostics_(diagnostics),
      event_sink_(std::move(events)),
      detection_(detection_options(options), std::move(alerts), diagnostics),
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
    filter_.end_events_with([this](std::string_view node) { feed_.flush_node(node); });
    set_rules(std::move(options.rules), options.engine);
}

// process.title is the only thing a PROCTITLE record gives: events exported carry it, a rule may
// read it, and the alert of any rule but a threshold one copies its event's. Where nothing needs
// it, auparse need not parse a record per event that nobody reads: it is skipped where EOE ends
// every event, or else passed on as an EOE (the record filter's need_titles).
void Pipeline::decide_proctitles() {
    const auto& rules = detection_.rules();
    const int title = rules::FieldCatalog::known_id("process.title");
    bool exec_titles = static_cast<bool>(event_sink_);
    bool network_titles = exec_titles;
    for (const auto& rule : rules) {
        if (rule->reads(title)) {
            exec_titles = network_titles = true;
        } else if (rule->rule_type != rules::RuleType::threshold) {
            const RuleRoute route = route_rule(*rule);
            exec_titles = exec_titles || route.exec;
            network_titles = network_titles || route.network;
        }
    }
    filter_.skip_proctitles(events_end_with_eoe_);
    filter_.need_titles(exec_titles, network_titles);
    // Network records reach auparse only when events are exported or a rule reads a field
    // only network events carry: an exec-only rule set parses none of them.
    filter_.pass_network(static_cast<bool>(event_sink_) || detection_.reads_network());
}

void Pipeline::set_rules(std::vector<std::shared_ptr<const rules::RuleDefinition>> rules,
                         const rules::EngineOptions& options) {
    detection_.set_rules(std::move(rules), options);
    decide_proctitles();
}

void Pipeline::set_tool_inodes(std::shared_ptr<const parsers::ToolInodes> tools) {
    // Only the PATH of an exec of one of the tools' files matters (it names the tool a hard link
    // is of); any other would be parsed by auparse for nothing.
    if (tools) {
        filter_.pass_exec_paths(true, [tools](std::uint64_t device, std::uint64_t inode) {
            return tools->count(parsers::FileIdentity{device, inode}) > 0;
        });
    } else {
        filter_.pass_exec_paths(false);
    }
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

PipelineState Pipeline::save_state() const {
    PipelineState s;
    s.processes = normalizer_.processes().save();
    s.rules = detection_.save();
    return s;
}

std::vector<std::string> Pipeline::restore_state(const PipelineState& state) {
    normalizer_.processes().restore(state.processes);
    return detection_.restore(state.rules);
}

void Pipeline::feed(std::string_view bytes) { filter_.feed(bytes); }

// The filter tracks each event in flight (its record caps, the bounds on events in flight) until
// auparse completes it, however that happens: its EOE or PROCTITLE, auparse's own aging, a flush.
void Pipeline::event_completed(auparse_state_t* au) {
    if (filter_.open_events() == 0) return;  // e.g. the filter ended it itself: nothing to close
    const au_event_t* e = auparse_get_timestamp(au);
    if (e == nullptr) return;
    // "SECONDS.MMM:SERIAL", as the record filter keys events; per event, so no format string.
    char stamp[64];
    char* const limit = stamp + sizeof stamp;
    char* p = std::to_chars(stamp, limit, static_cast<long long>(e->sec)).ptr;
    const unsigned milli = e->milli % 1000;
    *p++ = '.';
    *p++ = static_cast<char>('0' + milli / 100);
    *p++ = static_cast<char>('0' + milli / 10 % 10);
    *p++ = static_cast<char>('0' + milli % 10);
    *p++ = ':';
    p = std::to_chars(p, limit, e->serial).ptr;
    filter_.event_completed(e->host == nullptr ? std::string_view() : std::string_view(e->host),
                            std::string_view(stamp, static_cast<std::size_t>(p - stamp)));
}

void Pipeline::age() {
    detection_.set_now(NodeLane::Clock::now());
    filter_.age();
    feed_.age(detection_.idle());
    detection_.age();
}

std::size_t Pipeline::advance(std::int64_t time_ms) { return detection_.advance(time_ms); }

std::size_t Pipeline::advance_nodes(std::int64_t lag_ms) { return detection_.advance_nodes(lag_ms); }

void Pipeline::finish() {
    filter_.finish();
    feed_.flush();
    detection_.finish();
}

void Pipeline::on_event(const ProcessEvent& event) {
    if (event.time_ms > last_event_ms_) last_event_ms_ = event.time_ms;
    if (event_sink_) event_sink_(event);
    detection_.process(event);
}

PipelineStats Pipeline::stats() const {
    PipelineStats s;
    s.filter = filter_.counters();
    s.events = feed_.events();
    s.normalizer = normalizer_.counters();
    s.processes = static_cast<std::uint64_t>(normalizer_.processes().size());
    s.processes_evicted = normalizer_.processes().evictions();
    s.feeds = feed_.counters();
    s.detection = detection_.stats();
    return s;
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
    const auto& loaded = detection_.rules();
    const DetectionStats detection = detection_.stats();
    w.key("rules");
    w.begin_array();
    for (std::size_t i = 0; i < loaded.size(); ++i) {
        const rules::RuleDefinition& def = *loaded[i];
        const rules::RuleCounters& c = detection.rules[i];
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

void Pipeline::fleet_fields(JsonWriter& w) const {
    const auto& f = feed_.counters();
    w.field("nodes_assembling", f.nodes);
    w.field("nodes_assembling_evicted", f.nodes_evicted);
    w.field("records_without_node", f.records_without_node);
    detection_.lane_fields(w);
}

}  // namespace scanwatch::agent
