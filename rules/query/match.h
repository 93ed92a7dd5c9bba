#pragma once
// Runs a query AST on one event: the per-event hot path of every rule.

#include <cstdint>

#include "rules/query/ast.h"

namespace scanwatch::rules::query {

/// Work one query may do on one event, in units of about one byte comparison: a value test
/// costs what its worst case costs (docs/operations.md, "Matching work"). A query that runs out
/// does not match the event, and says so through `cut`.
inline constexpr std::uint64_t kMatchWorkPerEvent = std::uint64_t{1} << 27;

/// Match nodes with at least this many literal patterns look their values up in a hash set.
inline constexpr std::size_t kLiteralSetMin = 8;

/// True when the event behind `fields` satisfies `e` within kMatchWorkPerEvent; false, with
/// `cut` set, when the work ran out first. Allocates nothing; recursion is bounded by the depth
/// the parser allowed (kMaxDepth).
bool matches(const Expr& e, const FieldAccessor& fields, bool& cut);

/// Builds what makes matching cheaper once the tree is complete (literal hash sets). Call once
/// on a finished tree, before it is shared.
void prepare(Expr& e);

}  // namespace scanwatch::rules::query
