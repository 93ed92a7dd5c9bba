#include "rules/query/pattern.h"

#include <arpa/inet.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <algorithm>
#include <utility>

#include <re2/re2.h>

namespace scanwatch::rules::query {
namespace {

bool byte_equal(char p, char v, bool fold) {
    return p == (fold ? ascii_lower(v) : v);
}

bool folded_equal(std::string_view lower, std::string_view value) {
    if (lower.size() != value.size()) return false;
    for (std::size_t i = 0; i < lower.size(); ++i) {
        if (lower[i] != ascii_lower(value[i])) return false;
    }
    return true;
}

std::size_t utf8_length(std::string_view value) {
    std::size_t n = 0;
    for (char c : value) n += (static_cast<unsigned char>(c) & 0xC0u) != 0x80u ? 1 : 0;
    return n;
}

}  // namespace

// Greedy two-pointer matching: on a mismatch only the most recent star is retried one byte
// further, which is enough because a later star can absorb whatever an earlier one could.
bool wildcard_match(std::string_view pattern, std::string_view roles, std::string_view value,
                    bool fold) {
    constexpr std::size_t kNone = std::string_view::npos;
    std::size_t p = 0;
    std::size_t v = 0;
    std::size_t star = kNone;
    std::size_t resume = 0;
    while (v < value.size()) {
        if (p < pattern.size() && roles[p] != kAnyRun &&
            (roles[p] == kAnyByte || byte_equal(pattern[p], value[v], fold))) {
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

bool folded_match(const Pattern& p, std::string_view value) {
    const std::string_view needle = p.needle();
    switch (p.kind) {
        case PatternKind::literal:
            return folded_equal(p.bytes, value);
        case PatternKind::any:
            return true;
        case PatternKind::prefix:
            return value.size() >= needle.size() &&
                   folded_equal(needle, value.substr(0, needle.size()));
        case PatternKind::suffix:
            return value.size() >= needle.size() &&
                   folded_equal(needle, value.substr(value.size() - needle.size()));
        case PatternKind::contains:
            // Naive search, O(value * needle) at worst: needles are short rule literals.
            for (std::size_t i = 0; i + needle.size() <= value.size(); ++i) {
                if (folded_equal(needle, value.substr(i, needle.size()))) return true;
            }
            return false;
        case PatternKind::general:
            return wildcard_match(p.bytes, p.roles, value, true);
    }
    return false;
}

Pattern make_literal(std::string bytes, bool fold) {
    Pattern p;
    p.fold = fold;
    p.bytes = std::move(bytes);
    if (fold) {
        for (char& c : p.bytes) c = ascii_lower(c);
    }
    p.needle_size = p.bytes.size();
    return p;
}

Pattern make_wildcard(std::string_view bytes, std::string_view roles, bool fold) {
    Pattern p;
    p.fold = fold;
    std::size_t stars = 0;
    std::size_t ones = 0;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        // A run of stars matches exactly what one star does.
        if (roles[i] == kAnyRun && !p.roles.empty() && p.roles.back() == kAnyRun) continue;
        p.bytes += fold ? ascii_lower(bytes[i]) : bytes[i];
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

LiteralSet::LiteralSet(const std::vector<Pattern>& patterns, bool fold)
    : set_(0, Hash{fold}, Equal{fold}) {
    for (const Pattern& p : patterns) {
        if (p.is_literal() && p.fold == fold) values_.push_back(p.bytes);
    }
    set_.reserve(values_.size());
    for (const std::string& v : values_) set_.insert(v);
}

bool LiteralSet::contains(std::string_view value) const {
    return set_.find(value) != set_.end();
}

// FNV-1a over the (lower-cased with fold) bytes: only the rule's own literals share a bucket.
std::size_t LiteralSet::Hash::operator()(std::string_view v) const {
    std::uint64_t h = 14695981039346656037ULL;
    for (char c : v) {
        h ^= static_cast<unsigned char>(fold ? ascii_lower(c) : c);
        h *= 1099511628211ULL;
    }
    return static_cast<std::size_t>(h);
}

bool LiteralSet::Equal::operator()(std::string_view a, std::string_view b) const {
    if (a.size() != b.size()) return false;
    if (!fold) return a == b;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    }
    return true;
}

std::size_t RegexPattern::program_size() const {
    return re == nullptr ? 0 : static_cast<std::size_t>(std::max(re->ProgramSize(), 0));
}

bool RegexPattern::matches(std::string_view value) const {
    return re != nullptr && re2::RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *re);
}

bool make_regex(std::string_view source, bool fold, RegexPattern& out, std::string& error) {
    if (source.size() > kMaxRegexBytes) {
        error = "regular expression too long: " + std::to_string(source.size()) +
                " bytes, the limit is " + std::to_string(kMaxRegexBytes);
        return false;
    }
    re2::RE2::Options options;
    options.set_log_errors(false);
    options.set_case_sensitive(!fold);
    options.set_dot_nl(true);  // Lucene's `.` matches any character, a newline too
    options.set_max_mem(kMaxRegexMemory);
    auto re = std::make_shared<const re2::RE2>(re2::StringPiece(source.data(), source.size()),
                                                options);
    if (!re->ok()) {
        error = "invalid regular expression: " + re->error();
        return false;
    }
    out.source = std::string(source);
    out.fold = fold;
    out.re = std::move(re);
    return true;
}

bool parse_cidr(std::string_view text, CidrRange& out) {
    const std::size_t slash = text.find('/');
    const std::string_view host = text.substr(0, slash);
    char buffer[64];
    if (host.empty() || host.size() >= sizeof(buffer)) return false;
    std::memcpy(buffer, host.data(), host.size());
    buffer[host.size()] = '\0';
    CidrRange r;
    r.text = std::string(text);
    r.v6 = host.find(':') != std::string_view::npos;
    if (inet_pton(r.v6 ? AF_INET6 : AF_INET, buffer, r.address.data()) != 1) return false;
    const int bits = r.v6 ? 128 : 32;
    r.prefix = bits;
    if (slash != std::string_view::npos) {
        const std::string_view digits = text.substr(slash + 1);
        const auto* end = digits.data() + digits.size();
        const auto [ptr, ec] = std::from_chars(digits.data(), end, r.prefix);
        if (digits.empty() || ec != std::errc() || ptr != end || r.prefix < 0 || r.prefix > bits) {
            return false;
        }
    }
    out = std::move(r);
    return true;
}

bool CidrRange::contains(std::string_view value) const {
    char buffer[64];
    if (value.empty() || value.size() >= sizeof(buffer)) return false;
    std::memcpy(buffer, value.data(), value.size());
    buffer[value.size()] = '\0';
    std::array<std::uint8_t, 16> got{};
    if (inet_pton(v6 ? AF_INET6 : AF_INET, buffer, got.data()) != 1) return false;
    const int full = prefix / 8;
    for (int i = 0; i < full; ++i) {
        if (got[static_cast<std::size_t>(i)] != address[static_cast<std::size_t>(i)]) return false;
    }
    const int rest = prefix % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xFFu << (8 - rest));
    const auto i = static_cast<std::size_t>(full);
    return (got[i] & mask) == (address[i] & mask);
}

bool parse_number(std::string_view text, double& out) {
    if (!text.empty() && text.front() == '+') text.remove_prefix(1);
    if (text.empty()) return false;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, out);
    return ec == std::errc() && ptr == end && std::isfinite(out);
}

bool Comparison::matches(std::string_view value) const {
    int order = 0;
    if (length_of || numeric) {
        double got = 0;
        if (length_of) {
            got = static_cast<double>(utf8_length(value));
        } else if (!parse_number(value, got)) {
            return false;
        }
        order = got < number ? -1 : got > number ? 1 : 0;
    } else {
        const int c = value.compare(text);
        order = c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    switch (op) {
        case CompareOp::lt: return order < 0;
        case CompareOp::le: return order <= 0;
        case CompareOp::gt: return order > 0;
        case CompareOp::ge: return order >= 0;
        case CompareOp::eq: return order == 0;
    }
    return false;
}

}  // namespace scanwatch::rules::query
