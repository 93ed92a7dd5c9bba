#pragma once
// The one-direction data path shared by every mode:
// bytes -> RecordFilter -> AuparseFeed -> ExecveNormalizer -> rule engines (threshold streaming or
// scheduled, query and EQL, new_terms) -> alert sink; see docs/architecture.md.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/diagnostics.h"
#include "agent/detection.h"
#include "agent/node_lanes.h"
#include "parsers/node_feed.h"
#include "parsers/execve_normalizer.h"
#include "parsers/ecs/json_writer.h"
#include "parsers/record_filter.h"
#include "rules/engines/engine.h"

namespace scanwatch::agent {

/// What a pipeline is built from.
struct PipelineOptions {
    parsers::NormalizerOptions normalizer;
    /// The input is auditd's dispatcher stream, where every event ends with an EOE record: a
    /// PROCTITLE record is then skipped before auparse when nothing reads process.title.
    bool events_end_with_eoe = false;
    rules::EngineOptions engine;
    std::vector<std::shared_ptr<const rules::RuleDefinition>> rules;
    /// Per-node bounds (docs/fleet.md). Events are always assembled per node; detection state
    /// is kept per node only on a collector.
    bool collector = false;
    std::size_t max_nodes = 2048;        ///< nodes (auparse states, and lanes on a collector)
    std::size_t node_max_groups = 500;   ///< a collector's groups per rule and node
    bool live_clock = false;             ///< events arrive now: measure each node's skew
    /// The rule index (rules/index/rule_index.h); off only to prove it changes nothing.
    bool rule_index = true;
};

/// Everything a pipeline needs to continue after a restart as if there had been none.
struct PipelineState {
    std::vector<parsers::ProcessTable::Saved> processes;  ///< entity ids, least recently used first
    std::map<std::string, nlohmann::json> rules;          ///< rule fingerprint -> engine state
};

/// The pipeline's counters as values, for tests and anything that reads them by name.
struct PipelineStats {
    parsers::FilterCounters filter;
    std::uint64_t events = 0;  ///< audit events completed by auparse
    parsers::NormalizerCounters normalizer;
    std::uint64_t processes = 0;
    std::uint64_t processes_evicted = 0;
    parsers::NodeFeedCounters feeds;
    DetectionStats detection;
};

/// Synchronous, single-threaded. Sinks are called from inside feed/finish/age.
class Pipeline {
public:
    using AlertSink = std::function<void(const rules::Alert& alert)>;
    using EventSink = std::function<void(const ProcessEvent& event)>;

    /// `events` may be empty (no event export). `diagnostics` must outlive the pipeline.
    Pipeline(PipelineOptions options, AlertSink alerts, EventSink events, Diagnostics& diagnostics);

    /// Starts a new input named `name` (a file, "-"): line numbers restart, offsets count from
    /// `offset` (where reading starts in it).
    void begin_source(std::string name, std::uint64_t offset = 0);
    /// Tail mode's checkpoint hooks: `records` sees each record handed to auparse with its line
    /// offset; `gate` sees each complete audit event's key and may drop it (already processed).
    void set_checkpoint_hooks(parsers::RecordFilter::RecordObserver records,
                              std::function<bool(const std::string& key)> gate);
    /// Offset in the current source up to which lines are complete and handled.
    std::uint64_t handled_offset() const { return filter_.handled_offset(); }
    /// The entity-id table and every rule engine's state (events in flight are not included).
    PipelineState save_state() const;
    /// Restores what save_state() gave. Rules without a saved state keep theirs; returns the names
    /// of rules whose saved state does not fit (they start empty).
    std::vector<std::string> restore_state(const PipelineState& state);
    /// Feeds raw audit text in chunks of any size.
    void feed(std::string_view bytes);
    /// Live input: the reader found nothing more waiting (NodeFeeds::input_drained).
    void input_drained() { feed_.input_drained(); }
    /// Ages events in flight (live modes, every second).
    void age();
    /// Event time has reached `time_ms` without an event (a quiet live input): scheduled rules do
    /// the runs now due (RuleEngine::advance). Returns the alerts delivered.
    std::size_t advance(std::int64_t time_ms);
    /// On a collector: moves each node's event time on from its own latest event by the time
    /// since that event arrived, less `lag_ms`, and delivers the runs now due.
    std::size_t advance_nodes(std::int64_t lag_ms);
    bool collector() const { return detection_.collector(); }
    /// The latest event time seen, or 0 before the first event.
    std::int64_t last_event_ms() const { return last_event_ms_; }
    /// Ends the input: the last line and every event in flight are processed.
    void finish();

    /// Replaces the rules. An engine whose rule (fingerprint) and engine options are unchanged
    /// keeps its state; the others start empty.
    void set_rules(std::vector<std::shared_ptr<const rules::RuleDefinition>> rules,
                   const rules::EngineOptions& options);

    /// Matches exec'd files against the rules' tools by device and inode (live and tail modes;
    /// agent/tool_inodes.h): PATH item 0 then reaches the normalizer. Null turns it off.
    void set_tool_inodes(std::shared_ptr<const parsers::ToolInodes> tools);

    /// Writes the stats fields (docs/operations.md, "Stats") into an open JSON object.
    void stats_fields(JsonWriter& w) const;
    /// The stats as one JSON object, no newline.
    std::string stats_json() const;
    /// The stats as values (what stats_fields writes, but the clock and rusage figures).
    PipelineStats stats() const;

    /// Whether PROCTITLE records are skipped now (see PipelineOptions::events_end_with_eoe).
    bool skips_proctitles() const { return filter_.skips_proctitles(); }

private:
    void on_event(const ProcessEvent& event);
    void event_completed(auparse_state_t* au);
    void decide_proctitles();
    void fleet_fields(JsonWriter& w) const;

    Diagnostics& diagnostics_;
    EventSink event_sink_;
    Detection detection_;
    parsers::ExecveNormalizer normalizer_;
    parsers::NodeFeeds feed_;
    parsers::RecordFilter filter_;
    std::function<bool(const std::string& key)> gate_;
    std::int64_t last_event_ms_ = 0;
    bool events_end_with_eoe_ = false;
};

}  // namespace scanwatch::agent
