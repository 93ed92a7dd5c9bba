#pragma once
// The query AST every query language compiles to (KQL and EQL), and the field access
// interfaces the matcher reads events through. A parser builds an Expr; rules/query/match.h runs it on
// events, rules/query/check.h reasons about it statically, a language's printer writes it back.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rules/query/pattern.h"

namespace scanwatch::rules {

/// Maps a field name to a small integer id the accessor understands, or -1 if the field is unknown.
using FieldResolver = std::function<int(std::string_view field)>;

/// Calls `visit` for each value of field `id` in the current event until it returns true;
/// returns whether any call returned true. Values are borrowed for the duration of the call.
class FieldAccessor {
public:
    virtual ~FieldAccessor() = default;
    virtual bool any_value(int field_id,
                           const std::function<bool(std::string_view)>& visit) const = 0;
};

namespace query {

/// How deep a parser may nest operators (parentheses, `not`). The matcher, checker, printer and
/// destructor recurse over the tree, so every producer of an Expr must keep within this bound
/// to bound the stack whatever the input.
constexpr int kMaxDepth = 64;

/// A node's operator. The leaves test the values of field `field_id`: the event matches when
/// any value passes (a field with several values, like process.args, matches when one does;
/// a field without values never does). Field id -1 is a field no event has (EQL `?f` unknown).
enum class ExprKind : std::uint8_t {
    and_op,
    or_op,
    not_op,
    match,    ///< a value matches one of `patterns`
    regex,    ///< a value matches one of `regexes`
    compare,  ///< a value passes `comparison`
    exists,   ///< the field has a value (EQL `f != null`)
    cidr,     ///< a value is an address inside one of `cidrs`
    fields,   ///< a value of `field_id` relates by `relation` to a value of `other_id`
};

/// How two fields' values relate in a `fields` node.
enum class FieldRelation : std::uint8_t { equals, starts_with, ends_with, contains };

/// A node. and_op / or_op have two or more children, not_op exactly one, leaves none. A `match`
/// node holds several patterns when a query ORs values of one field: the event matches when
/// any value of the field matches any pattern, in one FieldAccessor::any_value() call.
struct Expr {
    ExprKind kind = ExprKind::match;
    std::vector<Expr> children;
    int field_id = -1;
    std::string field;  ///< the field's name as written, for printing
    bool optional = false;  ///< written `?field` in EQL, for printing
    std::vector<Pattern> patterns;
    /// `match` nodes with many literal patterns (prepare()): those literals as a hash set, and
    /// the indices of the patterns it does not hold, tested one by one.
    std::shared_ptr<const LiteralSet> literal_set;
    std::vector<std::uint32_t> scanned;
    std::vector<RegexPattern> regexes;
    std::vector<CidrRange> cidrs;
    Comparison comparison;
    FieldRelation relation = FieldRelation::equals;
    bool fold = false;  ///< `fields`: compare ASCII letters in any case
    int other_id = -1;
    std::string other;  ///< `fields`: the second field's name
    bool other_optional = false;
};

/// A match node: field `field_id` (named `field`) has a value matching `pattern`.
Expr make_match(int field_id, std::string field, Pattern pattern);

/// `items` joined by `kind` (and_op or or_op); one item is returned as it is. Nested groups of
/// the same kind are flattened, and adjacent ORed matches of one field merge into one node.
Expr make_group(ExprKind kind, std::vector<Expr> items);

/// `not operand`.
Expr make_not(Expr operand);

/// A leaf of `kind` on field `field_id` (named `field`); the caller fills in its test.
Expr make_leaf(ExprKind kind, int field_id, std::string field);

/// True for and_op, or_op and not_op.
bool is_operator(ExprKind kind);

/// True when any leaf below `e` reads field `field_id`.
bool mentions(const Expr& e, int field_id);

}  // namespace query
}  // namespace scanwatch::rules
