#pragma once
// Internal to rules/: writes a query AST back as KQL text.

#include <string>

#include "rules/query/ast.h"

namespace scanwatch::rules::kql {

/// Appends the canonical KQL text of `e` to `out`: the fewest parentheses, values quoted or
/// escaped as needed. Parsing the text again gives an AST that prints the same and matches the
/// same events.
void print(const query::Expr& e, std::string& out);

}  // namespace scanwatch::rules::kql
