#pragma once
// Single-event EQL (Event Query Language), as Elastic's detection rules use it:
// `CATEGORY where CONDITION` without sequence, join or pipes (docs/rules.md, "EQL queries").
// The condition compiles to the same AST as KQL (rules/query/ast.h) and runs through the same
// matcher, so a rule's query is evaluated the same way whatever its language.

#include <string>
#include <string_view>
#include <variant>

#include "rules/query/query.h"

namespace scanwatch::rules {

/// A parsed single-event EQL query.
struct EqlQuery {
    /// The event category before `where`, as written: "process", "network", "any"...
    std::string category;
    /// The condition; Query::matches() runs it on an event, as for a KQL rule.
    Query query;
};

/// Parses `text` with `resolver` (unknown fields, resolver returning -1, are an error naming the
/// field and its position). Errors carry 1-based line and column like KQL's. Never throws.
std::variant<EqlQuery, QueryError> parse_eql(std::string_view text, const FieldResolver& resolver);

}  // namespace scanwatch::rules
