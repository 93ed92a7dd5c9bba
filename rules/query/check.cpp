#include "rules/query/check.h"

#include "rules/query/match.h"

namespace scanwatch::rules::query {

Tri evaluate(const Expr& e, const FieldAccessor& known, const std::function<bool(int)>& is_known) {
    switch (e.kind) {
        case ExprKind::and_op: {
            Tri out = Tri::yes;
            for (const Expr& child : e.children) {
                const Tri t = evaluate(child, known, is_known);
                if (t == Tri::no) return Tri::no;
                if (t == Tri::maybe) out = Tri::maybe;
            }
            return out;
        }
        case ExprKind::or_op: {
            Tri out = Tri::no;
            for (const Expr& child : e.children) {
                const Tri t = evaluate(child, known, is_known);
                if (t == Tri::yes) return Tri::yes;
                if (t == Tri::maybe) out = Tri::maybe;
            }
            return out;
        }
        case ExprKind::not_op:
            switch (evaluate(e.children.front(), known, is_known)) {
                case Tri::no: return Tri::yes;
                case Tri::yes: return Tri::no;
                case Tri::maybe: return Tri::maybe;
            }
            return Tri::maybe;
        default: {
            // Field id -1 (an unknown EQL `?field`) is known to have no value in any event.
            const auto known_field = [&](int id) { return id < 0 || is_known(id); };
            if (!known_field(e.field_id)) return Tri::maybe;
            if (e.kind == ExprKind::fields && !known_field(e.other_id)) return Tri::maybe;
            bool cut = false;
            const bool matched = matches(e, known, cut);
            if (cut) return Tri::maybe;
            return matched ? Tri::yes : Tri::no;
        }
    }
}

std::vector<std::string> required_values(const Expr& root, int field_id) {
    const Expr* best = nullptr;
    const auto consider = [&](const Expr& conjunct) {
        if (!mentions(conjunct, field_id)) return true;
        if (conjunct.kind != ExprKind::match) return false;
        for (const Pattern& p : conjunct.patterns) {
            if (!p.is_literal() || p.fold) return false;
        }
        // Each such conjunct alone is a necessary condition; intersecting them would be wrong for
        // a field with several values (`f:a and f:b` holds for [a, b]), so keep the smallest.
        if (best == nullptr || conjunct.patterns.size() < best->patterns.size()) best = &conjunct;
        return true;
    };
    if (root.kind == ExprKind::and_op) {
        for (const Expr& conjunct : root.children) {
            if (!consider(conjunct)) return {};
        }
    } else if (!consider(root)) {
        return {};
    }
    std::vector<std::string> values;
    if (best == nullptr) return values;
    for (const Pattern& p : best->patterns) {
        bool seen = false;
        for (const std::string& v : values) seen = seen || v == p.bytes;
        if (!seen) values.push_back(p.bytes);
    }
    return values;
}

}  // namespace scanwatch::rules::query
