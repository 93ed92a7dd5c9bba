#pragma once
// Internal to rules/: single-event EQL text to the language-neutral query AST
// (rules/query/ast.h), and that AST back to EQL text.

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rules/query/query.h"
#include "rules/query/ast.h"

namespace scanwatch::rules::eql {

/// A parsed query: its category, its condition's AST and every field it reads, in first-use
/// order, without duplicates (an unknown `?field` is not listed).
struct Parsed {
    std::string category;
    query::Expr root;
    std::vector<int> field_ids;
    std::vector<std::string> field_names;  ///< parallel to field_ids: the name first used
};

/// Parses `text` with `resolver`; the first error, in text order, when it is not a supported
/// query. Nesting deeper than query::kMaxDepth is an error. May throw what `resolver` or
/// allocation throws (parse_eql catches it).
std::variant<Parsed, QueryError> parse(std::string_view text, const FieldResolver& resolver);

/// Appends EQL text for condition `e` (without the category) to `out`. Parsing it again gives an
/// AST that prints the same and matches the same events.
void print(const query::Expr& e, std::string& out);

}  // namespace scanwatch::rules::eql
