#pragma once
// One run's wiring: settings -> outputs, pipeline, diagnostics. Shared by every mode.

#include <memory>
#include <string>

#include "agent/diagnostics.h"
#include "agent/outputs.h"
#include "agent/pipeline.h"
#include "agent/settings.h"

namespace scanwatch::agent {

/// Owns the pipeline and its outputs. `live` selects threaded outputs (input never waits for
/// them) and local user-name lookups for RAW logs.
class Session {
public:
    /// `threaded_outputs`: outputs written by their own thread so the input never waits (plugin,
    /// socket); otherwise inline (replay, and tail, whose checkpoints need outputs written out).
    /// Throws std::runtime_error naming an output that cannot be opened.
    Session(const Settings& settings, bool live, bool threaded_outputs);
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

private:
    Diagnostics diagnostics_;
    std::string stats_file_;
    std::unique_ptr<OutputWriter> alerts_;
    std::unique_ptr<OutputWriter> events_;
    std::unique_ptr<Pipeline> pipeline_;
};

/// Pipeline options from settings, without rules; `live` turns on local name lookups.
PipelineOptions pipeline_options(const Settings& settings, bool live);

}  // namespace scanwatch::agent
