#include "rules/query/match.h"

#include <cstdint>
#include <memory>

namespace scanwatch::rules::query {
namespace {

// The work left for the query being matched on this thread (matches() sets it per event): a
// thread_local rather than a capture, so each visitor below stays one pointer (no allocation).
struct Budget {
    std::uint64_t left = 0;
    bool cut = false;
};
thread_local Budget budget;

// Spends `cost`; false (and the query is cut) when the budget cannot cover it.
bool spend(std::uint64_t cost) {
    if (budget.cut || cost > budget.left) {
        budget.cut = true;
        return false;
    }
    budget.left -= cost;
    return true;
}

std::uint64_t bytes(std::size_t n) {
    return static_cast<std::uint64_t>(n) + 1;
}

// The worst case of each test, in byte comparisons: the general wildcard matcher and substring
// search are pattern x value; a regex, past RE2's DFA memory, runs its program per byte.
std::uint64_t cost(const Pattern& p, std::string_view value) {
    switch (p.kind) {
        case PatternKind::any: return 1;
        case PatternKind::literal:
            return p.bytes.size() == value.size() ? bytes(value.size()) : 1;
        case PatternKind::prefix:
        case PatternKind::suffix: return bytes(p.needle_size);
        case PatternKind::contains: return bytes(p.needle_size) * bytes(value.size());
        case PatternKind::general: return bytes(p.bytes.size()) * bytes(value.size());
    }
    return bytes(value.size());
}

bool test(const Pattern& p, std::string_view value) {
    return spend(cost(p, value)) && p.matches(value);
}

bool test(const RegexPattern& r, std::string_view value) {
    return spend(bytes(value.size()) * (r.program_size() / 16 + 1)) && r.matches(value);
}

// Field id -1 names a field no event has (an unknown EQL `?field`): it has no values.
bool any_value(const FieldAccessor& fields, int field_id,
               const std::function<bool(std::string_view)>& visit) {
    return field_id >= 0 && fields.any_value(field_id, visit);
}

bool related(FieldRelation relation, bool fold, std::string_view a, std::string_view b) {
    if (b.size() > a.size() || (relation == FieldRelation::equals && a.size() != b.size())) {
        return false;
    }
    if (!spend(relation == FieldRelation::contains ? bytes(a.size()) * bytes(b.size())
                                                   : bytes(b.size()))) {
        return false;
    }
    const auto equal_at = [&](std::size_t offset) {
        for (std::size_t i = 0; i < b.size(); ++i) {
            const char x = a[offset + i];
            const char y = b[i];
            if (x != y && (!fold || ascii_lower(x) != ascii_lower(y))) return false;
        }
        return true;
    };
    switch (relation) {
        case FieldRelation::equals:
        case FieldRelation::starts_with:
            return equal_at(0);
        case FieldRelation::ends_with:
            return equal_at(a.size() - b.size());
        case FieldRelation::contains:
            for (std::size_t i = 0; i + b.size() <= a.size(); ++i) {
                if (equal_at(i)) return true;
            }
            return false;
    }
    return false;
}

// One pointer of capture keeps each std::function in its small buffer: no allocation.
bool leaf_matches(const Expr& e, const FieldAccessor& fields) {
    switch (e.kind) {
        case ExprKind::match:
            return any_value(fields, e.field_id, [&e](std::string_view value) {
                if (e.literal_set) {
                    if (!spend(bytes(value.size()))) return false;
                    if (e.literal_set->contains(value)) return true;
                    for (const std::uint32_t i : e.scanned) {
                        if (test(e.patterns[i], value)) return true;
                    }
                    return false;
                }
                for (const Pattern& p : e.patterns) {
                    if (test(p, value)) return true;
                }
                return false;
            });
        case ExprKind::regex:
            return any_value(fields, e.field_id, [&e](std::string_view value) {
                for (const RegexPattern& r : e.regexes) {
                    if (test(r, value)) return true;
                }
                return false;
            });
        case ExprKind::compare:
            return any_value(fields, e.field_id, [&e](std::string_view value) {
                return spend(bytes(value.size())) && e.comparison.matches(value);
            });
        case ExprKind::exists:
            return any_value(fields, e.field_id, [](std::string_view) { return true; });
        case ExprKind::cidr:
            return any_value(fields, e.field_id, [&e](std::string_view value) {
                for (const CidrRange& c : e.cidrs) {
                    if (spend(bytes(value.size())) && c.contains(value)) return true;
                }
                return false;
            });
        case ExprKind::fields: {
            // Any pair of values: the first field's value against each of the second's.
            struct Pair {
                const Expr* e;
                const FieldAccessor* fields;
            };
            const Pair pair{&e, &fields};
            const Pair* ctx = &pair;
            return any_value(fields, e.field_id, [ctx](std::string_view a) {
                const std::string_view* first = &a;
                const Expr* node = ctx->e;
                return any_value(*ctx->fields, node->other_id, [node, first](std::string_view b) {
                    return related(node->relation, node->fold, *first, b);
                });
            });
        }
        default:
            return false;
    }
}

bool match_node(const Expr& e, const FieldAccessor& fields) {
    if (budget.cut) return false;  // the answer is "no match" now whatever the rest says
    switch (e.kind) {
        case ExprKind::and_op:
            for (const Expr& child : e.children) {
                if (!match_node(child, fields)) return false;
            }
            return true;
        case ExprKind::or_op:
            for (const Expr& child : e.children) {
                if (match_node(child, fields)) return true;
            }
            return false;
        case ExprKind::not_op:
            return !match_node(e.children.front(), fields);
        default:
            return leaf_matches(e, fields);
    }
}

}  // namespace

bool matches(const Expr& e, const FieldAccessor& fields, bool& cut) {
    budget = Budget{kMatchWorkPerEvent, false};
    const bool matched = match_node(e, fields);
    // Cut short, a `not` could have turned an unfinished test into a match: no match at all.
    cut = budget.cut;
    return matched && !cut;
}

void prepare(Expr& e) {
    for (Expr& child : e.children) prepare(child);
    if (e.kind != ExprKind::match || e.patterns.size() < kLiteralSetMin) return;
    const bool fold = e.patterns.front().fold;
    auto set = std::make_shared<const LiteralSet>(e.patterns, fold);
    if (set->size() < kLiteralSetMin) return;
    e.scanned.clear();
    for (std::size_t i = 0; i < e.patterns.size(); ++i) {
        const Pattern& p = e.patterns[i];
        if (!p.is_literal() || p.fold != fold) e.scanned.push_back(static_cast<std::uint32_t>(i));
    }
    e.literal_set = std::move(set);
}

}  // namespace scanwatch::rules::query
