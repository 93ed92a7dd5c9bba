#include "rules/query/match.h"

namespace scanwatch::rules::query {
namespace {

// Field id -1 names a field no event has (an unknown EQL `?field`): it has no values.
bool any_value(const FieldAccessor& fields, int field_id,
               const std::function<bool(std::string_view)>& visit) {
    return field_id >= 0 && fields.any_value(field_id, visit);
}

bool related(FieldRelation relation, bool fold, std::string_view a, std::string_view b) {
    if (b.size() > a.size() || (relation == FieldRelation::equals && a.size() != b.size())) {
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
                for (const Pattern& p : e.patterns) {
                    if (p.matches(value)) return true;
                }
                return false;
            });
        case ExprKind::regex:
            return any_value(fields, e.field_id, [&e](std::string_view value) {
                for (const RegexPattern& r : e.regexes) {
                    if (r.matches(value)) return true;
                }
                return false;
            });
        case ExprKind::compare:
            return any_value(fields, e.field_id,
                             [&e](std::string_view value) { return e.comparison.matches(value); });
        case ExprKind::exists:
            return any_value(fields, e.field_id, [](std::string_view) { return true; });
        case ExprKind::cidr:
            return any_value(fields, e.field_id, [&e](std::string_view value) {
                for (const CidrRange& c : e.cidrs) {
                    if (c.contains(value)) return true;
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

}  // namespace

bool matches(const Expr& e, const FieldAccessor& fields) {
    switch (e.kind) {
        case ExprKind::and_op:
            for (const Expr& child : e.children) {
                if (!matches(child, fields)) return false;
            }
            return true;
        case ExprKind::or_op:
            for (const Expr& child : e.children) {
                if (matches(child, fields)) return true;
            }
            return false;
        case ExprKind::not_op:
            return !matches(e.children.front(), fields);
        default:
            return leaf_matches(e, fields);
    }
}

}  // namespace scanwatch::rules::query
