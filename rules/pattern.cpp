#include "rules/pattern.h"

#include <utility>

namespace scanwatch::rules::query {

// Greedy two-pointer matching: on a mismatch only the most recent star is retried one byte
// further, which is enough because a later star can absorb whatever an earlier one could.
bool wildcard_match(std::string_view pattern, std::string_view roles, std::string_view value) {
    constexpr std::size_t kNone = std::string_view::npos;
    std::size_t p = 0;
    std::size_t v = 0;
    std::size_t star = kNone;
    std::size_t resume = 0;
    while (v < value.size()) {
        if (p < pattern.size() && roles[p] != kAnyRun &&
            (roles[p] == kAnyByte || pattern[p] == value[v])) {
            ++p;
            ++v;
        } else if (p < pattern.size() && roles[p] == kAnyRun) {
            star = p++;
            resume = v;
        } else if (star != kNone) {
            p = star + 1;
            v = ++resume;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && roles[p] == kAnyRun) ++p;
    return p == pattern.size();
}

Pattern make_literal(std::string bytes) {
    Pattern p;
    p.bytes = std::move(bytes);
    p.needle_size = p.bytes.size();
    return p;
}

Pattern make_wildcard(std::string_view bytes, std::string_view roles) {
    Pattern p;
    std::size_t stars = 0;
    std::size_t ones = 0;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        // A run of stars matches exactly what one star does.
        if (roles[i] == kAnyRun && !p.roles.empty() && p.roles.back() == kAnyRun) continue;
        p.bytes += bytes[i];
        p.roles += roles[i];
        if (roles[i] == kAnyRun) ++stars;
        if (roles[i] == kAnyByte) ++ones;
    }
    const std::size_t n = p.bytes.size();
    if (stars == 0 && ones == 0) {
        p.roles.clear();
        p.needle_size = n;
        return p;
    }
    p.kind = PatternKind::general;
    if (ones == 0) {
        const bool leading = p.roles.front() == kAnyRun;
        const bool trailing = p.roles.back() == kAnyRun;
        if (n == 1) {
            p.kind = PatternKind::any;
        } else if (stars == 1 && trailing) {
            p.kind = PatternKind::prefix;
            p.needle_size = n - 1;
        } else if (stars == 1 && leading) {
            p.kind = PatternKind::suffix;
            p.needle_begin = 1;
            p.needle_size = n - 1;
        } else if (stars == 2 && leading && trailing) {
            p.kind = PatternKind::contains;
            p.needle_begin = 1;
            p.needle_size = n - 2;
        }
    }
    return p;
}

}  // namespace scanwatch::rules::query
