#pragma once
// Internal to rules/: single-event EQL text to the language-neutral query AST
// (rules/query/ast.h), and that AST back to EQL text.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rules/query/query.h"
#include "rules/query/ast.h"

namespace scanwatch::rules::eql {

/// One term of a sequence or sample: `[CATEGORY where CONDITION] by KEYS`, or `![...]`.
struct ParsedStage {
    std::string category;
    query::Expr root;
    std::vector<int> field_ids;  ///< fields the condition reads, first-use order
    std::vector<std::string> field_names;
    std::vector<int> key_ids;  ///< the term's own `by` fields (the sequence's are apart)
    std::vector<std::string> key_names;
    std::vector<char> key_optional;  ///< written `?field`: may join on null
    bool missing = false;       ///< `![...]`
    std::uint32_t runs = 1;     ///< `with runs=N`
};

/// `sequence [by K] [with maxspan=T] TERM TERM... [until TERM]` or `sample [by K] TERM TERM...`.
struct ParsedSequence {
    bool sample = false;
    std::vector<int> key_ids;  ///< the sequence's `by` fields
    std::vector<std::string> key_names;
    std::vector<char> key_optional;
    std::int64_t maxspan_ms = 0;  ///< 0: none
    std::vector<ParsedStage> stages;  ///< as written (runs not expanded)
    bool has_until = false;
    ParsedStage until;
};

/// The most terms a sequence may have once `runs` are expanded (each a slot of every partial
/// sequence held: docs/operations.md, "Memory").
inline constexpr std::size_t kMaxSequenceStages = 128;
/// The largest `runs` of a term, as Elasticsearch allows.
inline constexpr std::uint32_t kMaxRuns = 100;

/// A parsed query: its category, its condition's AST and every field it reads, in first-use
/// order, without duplicates (an unknown `?field` is not listed).
struct Parsed {
    std::string category;
    query::Expr root;
    std::vector<int> field_ids;
    std::vector<std::string> field_names;  ///< parallel to field_ids: the name first used
    /// A sequence or sample: its terms (then `category` is "sequence" or "sample" and `root`
    /// is empty); field_ids also lists the join keys.
    bool is_sequence = false;
    ParsedSequence sequence;
};

/// Parses `text` with `resolver`; the first error, in text order, when it is not a supported
/// query. Nesting deeper than query::kMaxDepth is an error. May throw what `resolver` or
/// allocation throws (parse_eql catches it).
std::variant<Parsed, QueryError> parse(std::string_view text, const FieldResolver& resolver);

/// Appends EQL text for condition `e` (without the category) to `out`. Parsing it again gives an
/// AST that prints the same and matches the same events.
void print(const query::Expr& e, std::string& out);

}  // namespace scanwatch::rules::eql
