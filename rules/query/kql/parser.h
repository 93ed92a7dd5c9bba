#pragma once
// Internal to rules/: KQL text to the language-neutral query AST (rules/query/ast.h).

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rules/query/query.h"
#include "rules/query/ast.h"

namespace scanwatch::rules::kql {

/// A parsed query: its AST and every field it reads, in first-use order, without duplicates.
struct Parsed {
    query::Expr root;
    std::vector<int> field_ids;
    std::vector<std::string> field_names;  ///< parallel to field_ids: the name first used
};

/// Parses `text` with `resolver`; the first error, in text order, when it is not a valid query.
/// Nesting deeper than query::kMaxDepth is an error. May throw what `resolver` or allocation
/// throws (Query::parse catches it).
std::variant<Parsed, QueryError> parse(std::string_view text, const FieldResolver& resolver);

}  // namespace scanwatch::rules::kql
