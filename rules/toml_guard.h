#pragma once
// A look at TOML text before a parser sees it. toml++ (and CLI11's config reader) recurse once per
// part of a dotted key and per nested table, so a ~100 KB key `a.a.a...` of 50,000 parts overflows
// the stack. check_toml_shape() bounds the size, the parts of one key and the nesting depth
// without recursion, so every rule, exceptions and config file is checked before it is parsed
// (limits in docs/operations.md).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace scanwatch::rules {

/// Largest TOML text handed to a parser (rule, exceptions and config files).
inline constexpr std::size_t kMaxTomlBytes = 4 * 1024 * 1024;
/// Most parts in one key (`a.b.c` has 3), table headers included.
inline constexpr std::size_t kMaxTomlKeyParts = 64;
/// Deepest nesting of tables, inline tables and arrays, counting every part of every key on the
/// way (`[a.b]` then `c.d = [{e = 1}]` is 6 deep).
inline constexpr std::size_t kMaxTomlDepth = 128;

/// Why a TOML text was refused, with its 1-based place (column in bytes; 0 when not tied to one).
struct TomlShapeError {
    int line = 0;
    int column = 0;
    std::string message;
};

/// Checks `text` against the limits above in one linear pass. It understands enough TOML
/// (strings, comments, headers, keys, arrays, inline tables) to count key parts and depth;
/// anything else it leaves to the parser, which reports syntax errors itself.
std::optional<TomlShapeError> check_toml_shape(std::string_view text);

}  // namespace scanwatch::rules
