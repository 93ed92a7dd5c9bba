#pragma once
// Offline replay of captured logs: files, rotated sets in a folder, or "-" for stdin.

#include <string>
#include <vector>

#include "agent/pipeline.h"

namespace scanwatch::agent {

/// Expands PATH arguments into the files to read, in order. A folder yields its rotated sets
/// oldest first (audit.log.N ... audit.log.1, audit.log). Throws std::runtime_error naming a
/// path that does not exist or a folder without regular files.
std::vector<std::string> expand_replay_paths(const std::vector<std::string>& paths);

/// Reads each path through the pipeline in fixed-size chunks, then finishes it.
/// Throws std::runtime_error naming a path that cannot be opened or read.
void replay(const std::vector<std::string>& files, Pipeline& pipeline);

}  // namespace scanwatch::agent
