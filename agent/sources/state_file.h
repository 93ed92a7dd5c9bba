#pragma once
// Tail mode's state file: where reading stands and what the pipeline needs to continue as if there
// had been no restart. JSON, written atomically (write, fsync, rename); every field is checked
// when it is read (docs/tail.md, "The state file").

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/sources/checkpoint.h"

namespace scanwatch::agent {

/// A file output at a checkpoint: which file (path and identity) and how long it was.
struct OutputMark {
    std::string path;
    FileId id;
    std::uint64_t size = 0;
};

/// Everything a restart needs.
struct TailState {
    Checkpoint checkpoint;            ///< where to resume, what to skip, the pipeline's state
    std::vector<OutputMark> outputs;  ///< the file outputs the run that saved it wrote
};

/// Writes `state` to `path` atomically. False, with the reason in `error`, on failure.
bool write_state(const std::string& path, const TailState& state, std::string& error);

/// Parses and checks a state file's text (types, ranges, sizes, no NUL in host ids or paths).
/// Throws std::runtime_error saying which field is wrong.
TailState parse_state(std::string_view text);

/// Reads a state file: nullopt when it does not exist; throws std::runtime_error naming the file
/// and the reason when it exists but cannot be used.
std::optional<TailState> read_state(const std::string& path);

/// Checks at start that `path` can hold a state file: its folder exists and it is not a folder.
/// Empty when fine, else the message naming the path and the reason.
std::string check_state_path(const std::string& path);

}  // namespace scanwatch::agent
