#pragma once
// What a query requires of an event's fields, as index keys (docs/operations.md, "Rule index"):
// the literal values, or literal starts or ends, one field must have for the query to match.
// The rule index files rules under them; an engine that reads queries of its own (ES|QL's
// KQL()) derives its keys with the same function.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/engines/engine.h"
#include "rules/query/ast.h"

namespace scanwatch::rules {

/// `v` ASCII lower-cased, as key values are kept.
std::string lowered(std::string_view v);

/// Sorts `keys` and drops duplicates.
void sort_keys(std::vector<IndexKey>& keys);

/// The fields the index keys on, most selective first: where a conjunction offers keys on
/// several fields, those on the earliest field are kept.
const std::vector<int>& index_fields();

/// True when every event that satisfies `e` has, for one of the keys appended to `keys`, a value
/// of that key's field equal in any ASCII case to the key's value (or starting or ending with
/// it); the keys are on fields of index_fields() only. False when the tree gives no such finite
/// set (a wildcard with no literal start or end, a regex, a `not`, an `or` with a branch that
/// gives none); `keys` is then unspecified.
/// `field_of`, when given, maps the tree's field ids to FieldCatalog ids (-1: no key field),
/// for a tree whose ids are its own (an ES|QL KQL() call's).
using FieldMapping = std::function<int(int)>;
bool required_keys(const query::Expr& e, std::vector<IndexKey>& keys,
                   const FieldMapping& field_of = {});

}  // namespace scanwatch::rules
