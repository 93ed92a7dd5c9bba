#pragma once
// Exactly-once bookkeeping for tail mode. Every record handed to auparse is noted with where its
// line starts; every event auparse completes is noted as done. A checkpoint is then: resume at
// the first record of the earliest event still in flight (or where handled input ends), and skip,
// after a restart, the events already done whose records lie past that point.

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "agent/pipeline.h"
#include "agent/sources/tail_reader.h"

namespace scanwatch::agent {

/// Most events a checkpoint lists to skip after a restart. Past it the oldest are dropped (and
/// counted): after a restart those few would be processed again (docs/tail.md).
inline constexpr std::size_t kMaxSkipKeys = 65536;

/// A position that orders across the files read one after the other.
struct StreamPosition {
    std::uint64_t generation = 0;  ///< increments on every switch to another file
    std::uint64_t offset = 0;
    bool operator<(const StreamPosition& o) const {
        return generation != o.generation ? generation < o.generation : offset < o.offset;
    }
};

/// Tracks records and events between checkpoints. Memory is bounded by the events in flight plus
/// at most kMaxSkipKeys of those done since the earliest of them.
class CheckpointTracker {
public:
    /// A new file starts being read: its identity, for positions in it.
    void begin_file(FileId id);
    /// A record of event `key` was handed on; its line starts at `offset` of the current file.
    void on_record(const std::string& key, std::uint64_t offset);
    /// auparse completed event `key`. Returns false when it was done before a restart (skip it).
    bool on_event(const std::string& key);
    /// Where to resume and what to skip then (events done past that point, and skips from before
    /// a restart still to come), given the offset up to which the current file's
    /// lines are handled (no partial line).
    TailPosition resume_position(std::uint64_t handled_offset) const;
    std::vector<std::string> done_since_resume(std::uint64_t handled_offset) const;
    /// After a restart: events done before it, to be skipped once each.
    void set_skip(std::vector<std::string> keys);

    std::size_t in_flight() const { return in_flight_.size(); }
    /// Done events dropped from the list to skip because it reached kMaxSkipKeys.
    std::uint64_t skips_dropped() const { return skips_dropped_; }

private:
    struct Span {
        StreamPosition first;
        StreamPosition last;
    };
    StreamPosition resume_stream(std::uint64_t handled_offset) const;
    void prune();

    std::uint64_t generation_ = 0;
    std::unordered_map<std::uint64_t, FileId> files_;  // generation -> identity, pruned
    std::unordered_map<std::string, Span> in_flight_;
    std::deque<std::pair<std::string, Span>> done_;  // completion order
    std::unordered_set<std::string> skip_;
    std::uint64_t completions_since_prune_ = 0;
    std::uint64_t skips_dropped_ = 0;
};

/// A pipeline's restart point: where to resume, which events to skip, and the pipeline's state.
struct Checkpoint {
    TailPosition position;
    std::vector<std::string> skip;  ///< at most kMaxSkipKeys
    PipelineState pipeline;
};

/// Exactly-once restarts of a pipeline reading one stream of files: installs the pipeline's
/// checkpoint hooks, then saves and restores the pipeline's state with the stream position.
class PipelineCheckpointer {
public:
    /// `pipeline` must outlive this object.
    explicit PipelineCheckpointer(Pipeline& pipeline);
    PipelineCheckpointer(const PipelineCheckpointer&) = delete;
    PipelineCheckpointer& operator=(const PipelineCheckpointer&) = delete;

    /// Reading starts on file `id` (named `name`) at `offset`.
    void begin_file(const std::string& name, FileId id, std::uint64_t offset);
    /// The restart point now.
    Checkpoint save() const;
    /// Restores the pipeline and the events to skip; returns the names of rules whose saved state
    /// does not fit (they start empty).
    std::vector<std::string> restore(const Checkpoint& checkpoint);
    const CheckpointTracker& tracker() const { return tracker_; }

private:
    Pipeline& pipeline_;
    CheckpointTracker tracker_;
};

}  // namespace scanwatch::agent
