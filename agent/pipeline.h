#pragma once
// The one-direction data path shared by every mode:
// bytes -> RecordFilter -> AuparseFeed -> ExecveNormalizer -> rule engines (threshold: streaming or
// scheduled) -> alert sink; see docs/architecture.md.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/diagnostics.h"
#include "parsers/auparse_feed.h"
#include "parsers/execve_normalizer.h"
#include "parsers/json_writer.h"
#include "parsers/record_filter.h"
#include "rules/rule_engine.h"

namespace scanwatch::agent {

/// What a pipeline is built from.
struct PipelineOptions {
    parsers::NormalizerOptions normalizer;
    /// The input is auditd's dispatcher stream, where every event ends with an EOE record: a
    /// PROCTITLE record is then skipped before auparse when nothing reads process.title.
    bool events_end_with_eoe = false;
    rules::EngineOptions engine;
    std::vector<std::shared_ptr<const rules::RuleDefinition>> rules;
};

/// Everything a pipeline needs to continue after a restart as if there had been none.
struct PipelineState {
    std::vector<parsers::ProcessTable::Saved> processes;  ///< entity ids, least recently used first
    std::map<std::string, nlohmann::json> rules;          ///< rule fingerprint -> engine state
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
    /// Ages events in flight (live modes, every second).
    void age();
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

    /// Whether PROCTITLE records are skipped now (see PipelineOptions::events_end_with_eoe).
    bool skips_proctitles() const { return filter_.skips_proctitles(); }

private:
    void on_event(const ProcessEvent& event);
    void decide_proctitles();
    void deliver_alerts();

    Diagnostics& diagnostics_;
    AlertSink alert_sink_;
    EventSink event_sink_;
    rules::EngineOptions engine_options_;
    std::vector<std::unique_ptr<rules::RuleEngine>> rules_;
    parsers::ExecveNormalizer normalizer_;
    parsers::AuparseFeed feed_;
    parsers::RecordFilter filter_;
    std::vector<rules::Alert> pending_alerts_;
    std::function<bool(const std::string& key)> gate_;
    std::int64_t last_event_ms_ = 0;
    bool events_end_with_eoe_ = false;
};

}  // namespace scanwatch::agent
