#include "agent/sources/checkpoint.h"

#include <algorithm>

#include "parsers/event_key.h"

namespace scanwatch::agent {

void CheckpointTracker::begin_file(FileId id) {
    ++generation_;
    files_[generation_] = id;
}

void CheckpointTracker::on_record(const std::string& key, std::uint64_t offset) {
    const StreamPosition at{generation_, offset};
    auto [it, inserted] = in_flight_.try_emplace(key, Span{at, at});
    if (!inserted) it->second.last = at;
}

bool CheckpointTracker::on_event(const std::string& key) {
    auto it = in_flight_.find(key);
    if (it != in_flight_.end()) {
        done_.emplace_back(key, it->second);
        in_flight_.erase(it);
        if (done_.size() > kMaxSkipKeys) {
            done_.pop_front();
            ++skips_dropped_;
        }
    }
    if (++completions_since_prune_ >= 1024) prune();
    if (!skip_.empty()) {
        if (skip_.erase(key) > 0) return false;
    }
    return true;
}

StreamPosition CheckpointTracker::resume_stream(std::uint64_t handled_offset) const {
    StreamPosition resume{generation_, handled_offset};
    for (const auto& [key, span] : in_flight_) resume = std::min(resume, span.first);
    return resume;
}

TailPosition CheckpointTracker::resume_position(std::uint64_t handled_offset) const {
    const StreamPosition at = resume_stream(handled_offset);
    const auto file = files_.find(at.generation);
    return {file == files_.end() ? FileId{} : file->second, at.offset};
}

std::vector<std::string> CheckpointTracker::done_since_resume(std::uint64_t handled_offset) const {
    const StreamPosition resume = resume_stream(handled_offset);
    std::vector<std::string> out;
    for (const auto& [key, span] : done_) {
        if (!(span.last < resume)) out.push_back(key);
    }
    // Skips from before a restart that have not come by yet still apply after the next one.
    for (const auto& key : skip_) {
        if (out.size() >= kMaxSkipKeys) break;
        out.push_back(key);
    }
    return out;
}

void CheckpointTracker::set_skip(std::vector<std::string> keys) {
    skip_.clear();
    if (keys.size() > kMaxSkipKeys) keys.resize(kMaxSkipKeys);
    skip_.insert(keys.begin(), keys.end());
}

// Events done whose last record lies before everything still in flight can never be re-read.
void CheckpointTracker::prune() {
    completions_since_prune_ = 0;
    StreamPosition earliest{generation_, UINT64_MAX};
    for (const auto& [key, span] : in_flight_) earliest = std::min(earliest, span.first);
    while (!done_.empty() && done_.front().second.last < earliest) done_.pop_front();
    for (auto it = files_.begin(); it != files_.end();) {
        it = it->first < earliest.generation && it->first != generation_ ? files_.erase(it)
                                                                         : std::next(it);
    }
}

PipelineCheckpointer::PipelineCheckpointer(Pipeline& pipeline) : pipeline_(pipeline) {
    pipeline_.set_checkpoint_hooks(
        [this](std::string_view record, std::uint64_t offset) {
            tracker_.on_record(parsers::record_event_key(record), offset);
        },
        [this](const std::string& key) { return tracker_.on_event(key); });
}

void PipelineCheckpointer::begin_file(const std::string& name, FileId id, std::uint64_t offset) {
    tracker_.begin_file(id);
    pipeline_.begin_source(name, offset);
}

Checkpoint PipelineCheckpointer::save() const {
    const std::uint64_t handled = pipeline_.handled_offset();
    return {tracker_.resume_position(handled), tracker_.done_since_resume(handled),
            pipeline_.save_state()};
}

std::vector<std::string> PipelineCheckpointer::restore(const Checkpoint& checkpoint) {
    tracker_.set_skip(checkpoint.skip);
    return pipeline_.restore_state(checkpoint.pipeline);
}

}  // namespace scanwatch::agent
