#include "agent/pipeline.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>

#include "parsers/event_key.h"
#include "parsers/json_writer.h"

namespace scanwatch::agent {

Pipeline::Pipeline(PipelineOptions options, AlertSink alerts, EventSink events,
                   Diagnostics& diagnostics)
    : diagnostics_(diagnostics),
      alert_sink_(std::move(alerts)),
      event_sink_(std::move(events)),
      engine_options_(options.engine),
      normalizer_(options.normalizer, [this](const ProcessEvent& e) { on_event(e); }),
      feed_([this](auparse_state_t* au) {
          if (gate_ && !gate_(parsers::event_key(au))) return;
          normalizer_.on_event(au);
      }),
      filter_([this](std::string_view records) { feed_.feed(records); },
              [this](parsers::Malformed reason, std::uint64_t line, std::string_view text) {
                  diagnostics_.malformed(reason, line, text);
              }) {
    for (auto& rule : options.rules) {
        rules_.push_back(rules::make_engine(std::move(rule), options.engine));
    }
    events_end_with_eoe_ = options.events_end_with_eoe;
    decide_proctitles();
}

// process.title is the only thing a PROCTITLE record gives. Where EOE ends every event, nothing
// else needs it either, and auparse need not parse a record per event that nobody reads.
void Pipeline::decide_proctitles() {
    const int title = rules::FieldCatalog::known_id("process.title");
    filter_.skip_proctitles(events_end_with_eoe_ && !event_sink_ &&
                            std::none_of(rules_.begin(), rules_.end(), [title](const auto& engine) {
                                return engine->definition().reads(title);
                            }));
}

void Pipeline::set_rules(std::vector<std::shared_ptr<const rules::RuleDefinition>> rules,
                         const rules::EngineOptions& options) {
    std::vector<std::unique_ptr<rules::RuleEngine>> next;
    for (auto& rule : rules) {
        auto same = rules_.end();
        if (options == engine_options_) {
            same = std::find_if(rules_.begin(), rules_.end(), [&](const auto& engine) {
                return engine && engine->definition().fingerprint == rule->fingerprint;
            });
        }
        if (same != rules_.end()) {
            next.push_back(std::move(*same));
        } else {
            next.push_back(rules::make_engine(std::move(rule), options));
        }
    }
    rules_ = std::move(next);
    engine_options_ = options;
    decide_proctitles();
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
    for (const auto& engine : rules_) {
        s.rules[engine->definition().fingerprint] = engine->save_state();
    }
    return s;
}

std::vector<std::string> Pipeline::restore_state(const PipelineState& state) {
    normalizer_.processes().restore(state.processes);
    std::vector<std::string> misfits;
    for (auto& engine : rules_) {
        const auto it = state.rules.find(engine->definition().fingerprint);
        if (it != state.rules.end() && !engine->restore_state(it->second)) {
            misfits.push_back(engine->definition().name);
        }
    }
    return misfits;
}

void Pipeline::feed(std::string_view bytes) { filter_.feed(bytes); }

void Pipeline::age() { feed_.age(); }

void Pipeline::finish() {
    filter_.finish();
    feed_.flush();
    for (auto& rule : rules_) rule->finish(pending_alerts_);
    deliver_alerts();
}

void Pipeline::deliver_alerts() {
    for (const auto& alert : pending_alerts_) alert_sink_(alert);
    pending_alerts_.clear();
}

void Pipeline::on_event(const ProcessEvent& event) {
    if (event.time_ms > last_event_ms_) last_event_ms_ = event.time_ms;
    if (event_sink_) event_sink_(event);
    for (auto& rule : rules_) rule->process(event, pending_alerts_);
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
    // The counters come from each module's table (parsers/counter_table.h); what is written
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
    for (const auto& rule : rules_) {
        const auto& c = rule->counters();
        for (const auto member : rules::kRuleCounterSums) sums.*member += c.*member;
        w.begin_object();
        w.field("rule_id", rule->definition().rule_id);
        w.field("name", rule->definition().name);
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
}

}  // namespace scanwatch::agent
