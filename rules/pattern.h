#pragma once
// A value pattern of a query: a literal or a `*` / `?` wildcard over bytes, classified once when
// the query is built so the common shapes (`x`, `x*`, `*x`, `*x*`, `*`) never run the general
// matcher. Language-neutral: KQL's `f:v*` and EQL's `f : "v*"` / `like` build the same Pattern.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace scanwatch::rules::query {

/// The shape a pattern compiled to.
enum class PatternKind : std::uint8_t { literal, any, prefix, suffix, contains, general };

/// The role of each pattern byte, kept beside the bytes rather than in-band, so a literal `*` or
/// `?` (escaped or quoted) can never be taken for a wildcard.
constexpr char kLiteralByte = 'l';
constexpr char kAnyRun = '*';
constexpr char kAnyByte = '?';

/// A compiled value pattern. Matching compares exact, case-sensitive bytes and allocates nothing.
struct Pattern {
    PatternKind kind = PatternKind::literal;
    std::string bytes;
    std::string roles;  ///< one role per byte of `bytes`; empty for a literal
    std::size_t needle_begin = 0;
    std::size_t needle_size = 0;

    /// The fixed part a prefix, suffix or contains pattern looks for.
    std::string_view needle() const {
        return std::string_view(bytes).substr(needle_begin, needle_size);
    }
    /// True when `value` matches. Inline: the matcher calls it for every value of every event.
    bool matches(std::string_view value) const;
    /// True for a pattern without wildcards.
    bool is_literal() const { return kind == PatternKind::literal; }
};

/// A pattern that matches exactly `bytes`.
Pattern make_literal(std::string bytes);

/// A pattern from `bytes` with one role per byte (kLiteralByte, kAnyRun, kAnyByte).
Pattern make_wildcard(std::string_view bytes, std::string_view roles);

/// The general wildcard matcher: O(pattern * value) at worst, no recursion.
bool wildcard_match(std::string_view pattern, std::string_view roles, std::string_view value);

inline bool Pattern::matches(std::string_view value) const {
    switch (kind) {
        case PatternKind::literal:
            return value == std::string_view(bytes);
        case PatternKind::any:
            return true;
        case PatternKind::prefix:
            return value.size() >= needle_size && value.compare(0, needle_size, needle()) == 0;
        case PatternKind::suffix:
            return value.size() >= needle_size &&
                   value.compare(value.size() - needle_size, needle_size, needle()) == 0;
        case PatternKind::contains:
            return value.find(needle()) != std::string_view::npos;
        case PatternKind::general:
            return wildcard_match(bytes, roles, value);
    }
    return false;
}

}  // namespace scanwatch::rules::query
