#pragma once
// Offline replay of captured logs: files, rotated sets in a folder, or "-" for stdin.

#include <functional>
#include <string>
#include <vector>

#include "agent/metrics/progress.h"
#include "agent/pipeline.h"

namespace scanwatch::agent {

/// Expands PATH arguments into the files to read, in order. A folder yields its rotated sets
/// oldest first (audit.log.N ... audit.log.1, audit.log). Throws std::runtime_error naming a
/// path that does not exist or a folder without regular files.
std::vector<std::string> expand_replay_paths(const std::vector<std::string>& paths);

/// Opens each file once to check it can be read: "cannot open PATH: reason" for the first that
/// cannot, empty when all can ("-" is not checked).
std::string check_replay_files(const std::vector<std::string>& files);

/// Reads each path through the pipeline in fixed-size chunks, then finishes it. A file that
/// cannot be opened or read is given to `on_error` ("cannot read PATH: reason") and skipped; the
/// others are still read. Returns false when one was skipped. `progress`, when given, is told
/// of each file and each read.
bool replay(const std::vector<std::string>& files, Pipeline& pipeline,
            const std::function<void(const std::string& message)>& on_error,
            ProgressLine* progress = nullptr);

/// The bytes of `files` ("-" counts as 0: unknown).
std::uint64_t replay_bytes(const std::vector<std::string>& files);

}  // namespace scanwatch::agent
