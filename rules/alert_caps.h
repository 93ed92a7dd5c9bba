#pragma once
// Byte caps on the strings a group and an alert keep, and the marker a cut string ends with
// (docs/operations.md, "Memory bounds"; docs/alerts.md). Engines and alert writing share them.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "parsers/ecs/ecs_event.h"
#include "rules/alert.h"

namespace scanwatch::rules {

/// Byte caps on what a group and an alert keep (docs/operations.md, "Memory bounds").
namespace limits {
inline constexpr std::size_t kSampleCommandBytes = 512;  ///< per sample command line
inline constexpr std::size_t kSampleValueBytes = 128;    ///< per sample distinct value
inline constexpr std::size_t kFieldBytes = 4096;         ///< per term value and evidence string
}  // namespace limits

/// The marker appended to a string cut to its cap: "…[truncated N bytes]" (docs/alerts.md).
std::string truncation_marker(std::size_t dropped);

/// Cuts `text` to at most `limit` bytes (never inside a UTF-8 sequence) and appends the marker;
/// returns false and leaves it alone when it fits.
bool truncate_with_marker(std::string& text, std::size_t limit);

/// A copy of at most `limit` bytes of `text`, marked as truncate_with_marker() does when cut
/// (`cut` tells); the rest of `text` is never copied.
std::string capped_copy(std::string_view text, std::size_t limit, bool& cut);

/// The arguments of `event` joined by spaces (process.command_line), built only up to `limit`
/// bytes and then marked as truncate_with_marker() does; `cut` tells whether it was.
std::string capped_command_line(const ProcessEvent& event, std::size_t limit, bool& cut);

/// Caps every string of `ev` and `host_name` at limits::kFieldBytes; returns how many were cut.
std::uint64_t cap_evidence(Evidence& ev, std::string& host_name);

}  // namespace scanwatch::rules
