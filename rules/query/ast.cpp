#include "rules/query/ast.h"

#include <utility>

namespace scanwatch::rules::query {
namespace {

void add_operand(Expr& group, Expr item) {
    if (group.kind == ExprKind::or_op && item.kind == ExprKind::match && !group.children.empty()) {
        Expr& last = group.children.back();
        if (last.kind == ExprKind::match && last.field_id == item.field_id &&
            last.field == item.field && last.optional == item.optional) {
            for (Pattern& p : item.patterns) last.patterns.push_back(std::move(p));
            return;
        }
    }
    group.children.push_back(std::move(item));
}

}  // namespace

Expr make_match(int field_id, std::string field, Pattern pattern) {
    Expr e;
    e.field_id = field_id;
    e.field = std::move(field);
    e.patterns.push_back(std::move(pattern));
    return e;
}

// Adjacent ORed matches of one field are merged so a value list costs one any_value() call.
Expr make_group(ExprKind kind, std::vector<Expr> items) {
    if (items.size() == 1) return std::move(items.front());
    Expr group;
    group.kind = kind;
    for (Expr& item : items) {
        if (item.kind == kind) {
            for (Expr& child : item.children) add_operand(group, std::move(child));
        } else {
            add_operand(group, std::move(item));
        }
    }
    if (group.children.size() == 1) return std::move(group.children.front());
    return group;
}

Expr make_leaf(ExprKind kind, int field_id, std::string field) {
    Expr e;
    e.kind = kind;
    e.field_id = field_id;
    e.field = std::move(field);
    return e;
}

bool is_operator(ExprKind kind) {
    return kind == ExprKind::and_op || kind == ExprKind::or_op || kind == ExprKind::not_op;
}

Expr make_not(Expr operand) {
    Expr e;
    e.kind = ExprKind::not_op;
    e.children.push_back(std::move(operand));
    return e;
}

bool mentions(const Expr& e, int field_id) {
    if (!is_operator(e.kind)) {
        return e.field_id == field_id || (e.kind == ExprKind::fields && e.other_id == field_id);
    }
    for (const Expr& child : e.children) {
        if (mentions(child, field_id)) return true;
    }
    return false;
}

}  // namespace scanwatch::rules::query
