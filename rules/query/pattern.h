#pragma once
// A value pattern of a query: a literal or a `*` / `?` wildcard over bytes, classified once when
// the query is built so the common shapes (`x`, `x*`, `*x`, `*x*`, `*`) never run the general
// matcher. Language-neutral: KQL's `f:v*` and EQL's `f : "v*"` / `like` build the same Pattern.
// Also the other value tests EQL needs: regular expressions, CIDR ranges, ordered comparisons.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace re2 {
class RE2;
}  // namespace re2

namespace scanwatch::rules::query {

/// The shape a pattern compiled to.
enum class PatternKind : std::uint8_t { literal, any, prefix, suffix, contains, general };

/// The role of each pattern byte, kept beside the bytes rather than in-band, so a literal `*` or
/// `?` (escaped or quoted) can never be taken for a wildcard.
constexpr char kLiteralByte = 'l';
constexpr char kAnyRun = '*';
constexpr char kAnyByte = '?';

/// A compiled value pattern. Matching compares exact bytes, or with `fold` ASCII letters in any
/// case (EQL's `:`, `in~`, `like~`; `bytes` are then stored lower-cased). Allocates nothing.
struct Pattern {
    PatternKind kind = PatternKind::literal;
    bool fold = false;
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

/// A pattern that matches exactly `bytes` (in any ASCII case with `fold`).
Pattern make_literal(std::string bytes, bool fold = false);

/// A pattern from `bytes` with one role per byte (kLiteralByte, kAnyRun, kAnyByte).
Pattern make_wildcard(std::string_view bytes, std::string_view roles, bool fold = false);

/// The general wildcard matcher: O(pattern * value) at worst, no recursion. With `fold`,
/// `pattern` is lower-case and `value` bytes are lower-cased as they are compared.
bool wildcard_match(std::string_view pattern, std::string_view roles, std::string_view value,
                    bool fold = false);

/// Pattern::matches() for a folding pattern.
bool folded_match(const Pattern& p, std::string_view value);

/// ASCII lower case of one byte.
inline char ascii_lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// The literal patterns of one match node as a hash set (built when a node has many: a list of
/// 6,000 values is one lookup per value, not 6,000 comparisons). All of one `fold`. Immutable;
/// owns its strings; lookups allocate nothing.
class LiteralSet {
public:
    /// The literal patterns among `patterns` whose fold is `fold`.
    LiteralSet(const std::vector<Pattern>& patterns, bool fold);
    LiteralSet(const LiteralSet&) = delete;
    LiteralSet& operator=(const LiteralSet&) = delete;
    /// True when `value` equals one of them (in any ASCII case with fold).
    bool contains(std::string_view value) const;
    /// How many literals it holds.
    std::size_t size() const { return set_.size(); }

private:
    struct Hash {
        bool fold;
        std::size_t operator()(std::string_view v) const;
    };
    struct Equal {
        bool fold;
        bool operator()(std::string_view a, std::string_view b) const;
    };
    std::vector<std::string> values_;  // the views below point into these; never resized
    std::unordered_set<std::string_view, Hash, Equal> set_;
};

/// A regular expression over a whole value (EQL `regex`, `regex~`), run by RE2: linear time,
/// no recursion. Immutable; shared between copies of a query.
struct RegexPattern {
    std::string source;  ///< as written, for printing
    bool fold = false;
    std::shared_ptr<const re2::RE2> re;
    bool matches(std::string_view value) const;
    /// Size of the compiled program (RE2 instructions), for the matching work bound.
    std::size_t program_size() const;
};

/// Longest regular expression accepted, the memory RE2 may use for one (its program and its
/// lazily built DFA; past that it falls back to slower matching, never to more memory), and how
/// many one query may hold: together they bound a query's regex memory (docs/operations.md).
constexpr std::size_t kMaxRegexBytes = 4096;
constexpr std::int64_t kMaxRegexMemory = 256 << 10;
constexpr std::size_t kMaxRegexesPerQuery = 64;

/// Compiles `source` (EQL's dialect, docs/rules.md) into `out`, or returns false with `error`.
bool make_regex(std::string_view source, bool fold, RegexPattern& out, std::string& error);

/// An IPv4 or IPv6 network (EQL `cidrMatch`).
struct CidrRange {
    std::string text;  ///< as written, for printing
    bool v6 = false;
    int prefix = 0;
    std::array<std::uint8_t, 16> address{};
    /// True when `value` is an address (text form) inside the network. Allocates nothing.
    bool contains(std::string_view value) const;
};

/// Parses `a.b.c.d/n`, an IPv6 `x::y/n` or a single address into `out`; false when invalid.
bool parse_cidr(std::string_view text, CidrRange& out);

/// The operator of an ordered comparison.
enum class CompareOp : std::uint8_t { lt, le, gt, ge, eq };

/// `value OP constant`: numeric when the constant is a number (a value that is not a number then
/// never matches), else byte-wise on strings. With `length_of`, the value's length in UTF-8
/// characters is compared instead (EQL `length(f) > 3`).
struct Comparison {
    CompareOp op = CompareOp::eq;
    bool numeric = false;
    bool length_of = false;
    double number = 0;
    std::string text;  ///< the constant as written (numbers too), for printing
    bool matches(std::string_view value) const;
};

/// Parses a decimal number (optional sign, fraction, exponent) spanning all of `text`.
bool parse_number(std::string_view text, double& out);

inline bool Pattern::matches(std::string_view value) const {
    if (fold) return folded_match(*this, value);
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
