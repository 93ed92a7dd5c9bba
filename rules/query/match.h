#pragma once
// Runs a query AST on one event: the per-event hot path of every rule.

#include "rules/query/ast.h"

namespace scanwatch::rules::query {

/// True when the event behind `fields` satisfies `e`. Allocates nothing; recursion is bounded by
/// the depth the parser allowed (kMaxDepth).
bool matches(const Expr& e, const FieldAccessor& fields);

}  // namespace scanwatch::rules::query
