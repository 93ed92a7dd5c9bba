#pragma once
// One run's wiring: settings -> outputs, pipeline, diagnostics. Shared by every mode.

#include <functional>
#include <memory>
#include <string>

#include "agent/diagnostics.h"
#include "agent/outputs/output_channel.h"
#include "agent/pipeline.h"
#include "agent/settings.h"

namespace scanwatch::agent {

/// Where a session's records come from.
enum class Input {
    replay,      ///< log files or a pipe of one: names as logged, outputs written inline
    tail,        ///< the live log: names looked up for RAW logs, outputs inline (checkpoints)
    dispatcher,  ///< auditd's plugin stdin or af_unix socket: names looked up, outputs on their
                 ///< own thread so the input never waits, every event ends with EOE
};

/// Owns the pipeline and its outputs.
class Session {
public:
    /// Throws std::runtime_error naming an output that cannot be opened.
    Session(const Settings& settings, Input input);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    Pipeline& pipeline() { return *pipeline_; }
    Diagnostics& diagnostics() { return diagnostics_; }

    /// Applies reloaded settings: rules and engine options (unchanged rules keep their counts),
    /// and reopens file outputs. Output destinations themselves are fixed at start.
    /// Returns false when the new rules did not load (reported; the running rules stay).
    bool reload(const Settings& settings);
    /// The stats line: pipeline counters plus what each output wrote, failed and lost.
    std::string stats_json() const;
    /// Prints the stats line on stderr when `to_stderr`, and appends it to the stats file if set.
    void report_stats(bool to_stderr);
    /// Writes out everything queued.
    void close();
    /// Writes out buffered lines now (inline outputs), so file sizes reflect every line given.
    void flush_outputs();
    /// True when an output failed or lost a line.
    bool output_failures() const;
    /// Adds fields to the stats line, after the outputs (the metrics server's counters).
    void add_stats_fields(std::function<void(JsonWriter& w)> fields) {
        extra_stats_ = std::move(fields);
    }

private:
    Diagnostics diagnostics_;
    std::string stats_file_;
    std::unique_ptr<OutputWriter> alerts_;
    std::unique_ptr<OutputWriter> events_;
    std::unique_ptr<Pipeline> pipeline_;
    Input input_;
    std::function<void(JsonWriter& w)> extra_stats_;
    void match_tool_inodes(const Settings& s,
                           const std::vector<std::shared_ptr<const rules::RuleDefinition>>& rules);
};

/// Pipeline options from settings for `input`, without rules.
PipelineOptions pipeline_options(const Settings& settings, Input input);

}  // namespace scanwatch::agent
