#include "rules/query_match.h"

namespace scanwatch::rules::query {

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
        case ExprKind::match: {
            // One pointer of capture keeps the std::function in its small buffer: no allocation.
            const std::vector<Pattern>* patterns = &e.patterns;
            return fields.any_value(e.field_id, [patterns](std::string_view value) {
                for (const Pattern& p : *patterns) {
                    if (p.matches(value)) return true;
                }
                return false;
            });
        }
    }
    return false;
}

}  // namespace scanwatch::rules::query
