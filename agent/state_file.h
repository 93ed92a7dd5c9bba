#pragma once
// Tail mode's state file: where reading stands and what the rules need to continue as if there
// had been no restart. JSON, written atomically (write, fsync, rename).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/tail_reader.h"
#include "parsers/process_table.h"

namespace scanwatch::agent {

/// Everything a restart needs.
struct TailState {
    TailPosition position;                  ///< resume here
    std::vector<std::string> skip;          ///< events done past `position`
    std::vector<parsers::ProcessTable::Saved> processes;
    std::map<std::string, nlohmann::json> rules;   ///< rule fingerprint -> engine state
    std::map<std::string, std::uint64_t> outputs;  ///< file output path -> size at the checkpoint
};

/// Writes `state` to `path` atomically. False, with the reason in `error`, on failure.
bool write_state(const std::string& path, const TailState& state, std::string& error);

/// Reads a state file: nullopt when it does not exist; throws std::runtime_error naming the file
/// when it exists but cannot be used.
std::optional<TailState> read_state(const std::string& path);

}  // namespace scanwatch::agent
