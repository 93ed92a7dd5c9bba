#pragma once
// Static reasoning about a query AST, for rule checks (rules/rule_check.h): three-valued
// evaluation over partly known events and the literal values a query requires of a field.

#include <functional>
#include <string>
#include <vector>

#include "rules/query/ast.h"

namespace scanwatch::rules::query {

/// A three-valued verdict: a field the caller does not know may hold anything.
enum class Tri : std::uint8_t { no, yes, maybe };

/// Evaluates `e` when `known` returns every value of each field for which `is_known(id)` is
/// true, while any other field may hold any values. Sound (no means never, yes means always),
/// not complete (`f:a and not f:a` on an unknown field stays maybe).
Tri evaluate(const Expr& e, const FieldAccessor& known, const std::function<bool(int)>& is_known);

/// When `e` requires field `field_id` to be one of a finite set of literal values (a conjunction
/// in which this field appears only as literal matches at the top level of the `and`), that
/// set, without duplicates; otherwise an empty vector.
std::vector<std::string> required_values(const Expr& e, int field_id);

}  // namespace scanwatch::rules::query
