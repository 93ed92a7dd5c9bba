#pragma once
// A subset of KQL (Kibana Query Language), enough for Elastic detection rules on process events:
// field:value, quoted values, field:(value list), field:*, `*` / `?` wildcards in unquoted
// values, range comparisons (field > value, >=, <, <=), and/or/not with parentheses. Nested {}
// queries and bare values without a field are rejected with a parse error.
//
// The parts: rules/kql_lexer.* and rules/kql_parser.* turn text into the language-neutral AST
// of rules/query/ast.h (values as rules/query/pattern.h patterns); rules/query_match.* runs it,
// rules/query_check.* reasons about it, rules/kql_print.* writes it back as KQL.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rules/query/ast.h"

namespace scanwatch::rules {

struct EqlQuery;

/// A parse error: message plus 1-based line and column in the query text.
/// Columns count UTF-8 characters (a tab counts as one).
struct QueryError {
    std::string message;
    int line = 1;
    int column = 1;
};

/// A compiled query. Immutable and cheap to share; matching allocates nothing.
/// A default-constructed query is empty: it matches nothing and reads no field.
class Query {
public:
    /// Parses `text`. Unknown field names (resolver returns -1) are an error naming the field
    /// and its position. `text` may span several lines. Never throws.
    static std::variant<Query, QueryError> parse(std::string_view text,
                                                  const FieldResolver& resolver);
    /// True when the event behind `fields` satisfies the query. Values compare as exact,
    /// case-sensitive bytes; a field with several values matches when any of them does.
    bool matches(const FieldAccessor& fields) const;
    /// Like matches(); `cut` tells that the event ran out of the matching work bound
    /// (query::kMatchWorkPerEvent, docs/operations.md) and therefore did not match.
    bool matches(const FieldAccessor& fields, bool& cut) const;
    /// Every field id the query reads, in first-use order, without duplicates.
    const std::vector<int>& field_ids() const;
    /// The name of each of field_ids(), as first written.
    const std::vector<std::string>& field_names() const { return field_names_; }
    /// For an explanation: the canonical text of the parsed query (e.g. `(a:x or a:y) and not
    /// b:*`; for an EQL query, its condition in EQL). Parsing it again gives a query that matches exactly the same events.
    std::string to_string() const;
    /// For static checks: false when no event can match, given that `known` returns every value
    /// of each field for which `is_known(id)` is true, while any other field may hold any values.
    /// Three-valued: sound (false means never), not complete (`f:a and not f:a` on an unknown
    /// field stays possible).
    bool may_match(const FieldAccessor& known, const std::function<bool(int)>& is_known) const;
    /// For static checks: true when every event matches, under the same assumptions as
    /// may_match().
    bool must_match(const FieldAccessor& known, const std::function<bool(int)>& is_known) const;
    /// For field `id`: when the query requires the field to be one of a finite set of literal
    /// values (the query is a conjunction in which this field appears only as `f:v` / `f:(v1 or v2
    /// ...)` without wildcards, at the top level of the `and`), returns that set; otherwise an
    /// empty vector.
    std::vector<std::string> required_values(int field_id) const;
    /// A copy in which every test of field `field_id` against a literal value in `names` (in
    /// any ASCII case where the test ignores case) also accepts the literal `alias`, in every
    /// polarity (`not f:name` then also excludes `alias`). `added` counts the tests that gained
    /// it (a test that already accepts `alias` gains nothing). Used for value aliases decided
    /// when a rule loads (rules/ruleset/exec_alias.h), so the AST says what runs.
    Query with_alias(int field_id, const std::vector<std::string>& names, std::string_view alias,
                     std::size_t& added) const;

    /// The parsed tree, for static analysis (the rule index, rules/index/); null when empty.
    const query::Expr* expr() const { return root_.get(); }

private:
    friend std::variant<EqlQuery, QueryError> parse_eql(std::string_view text,
                                                      const FieldResolver& resolver);

    std::shared_ptr<const query::Expr> root_;
    bool eql_ = false;  // to_string() writes EQL (rules/query/eql/eql.h) rather than KQL
    std::vector<int> field_ids_;
    std::vector<std::string> field_names_;  // parallel to field_ids_: the name first used
};

}  // namespace scanwatch::rules
