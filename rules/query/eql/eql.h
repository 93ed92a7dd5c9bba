#pragma once
// Single-event EQL (Event Query Language), as Elastic's detection rules use it:
// `CATEGORY where CONDITION` without sequence, join or pipes (docs/rules.md, "EQL queries").
// The condition compiles to the same AST as KQL (rules/query/ast.h) and runs through the same
// matcher, so a rule's query is evaluated the same way whatever its language.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rules/query/query.h"

namespace scanwatch::rules {

/// One term of a sequence or sample (docs/rules.md, "EQL sequences").
struct EqlStage {
    std::string category;  ///< "process", "network", "any"...
    Query query;           ///< its condition
    /// The join key: the sequence's `by` fields, then the term's own. Terms join when these
    /// fields' values are equal, position by position.
    std::vector<int> key_ids;
    std::vector<std::string> key_names;
    /// Per key field: written `?field`, so an event without it joins on null. An event without
    /// a value of a key field written plainly takes no part in the term (as in Elasticsearch).
    std::vector<char> key_optional;
    bool missing = false;      ///< `![...]`: no such event may come in its place
    std::size_t written = 0;   ///< the index of the term as written (runs repeat one term)
};

/// `sequence ...` or `sample ...`, with `with runs=N` expanded into N equal stages.
struct EqlSequence {
    bool sample = false;
    std::int64_t maxspan_ms = 0;  ///< 0: none
    std::size_t sequence_keys = 0;  ///< how many leading key fields are the sequence's `by`
    std::vector<EqlStage> stages;
    bool has_until = false;
    EqlStage until;
};

/// A parsed EQL query.
struct EqlQuery {
    /// The event category before `where`, as written: "process", "network", "any"...; for a
    /// sequence or sample, "sequence" or "sample".
    std::string category;
    /// The condition; Query::matches() runs it on an event, as for a KQL rule. For a sequence:
    /// any of its terms' conditions (the events it may use), reading the join keys too.
    Query query;
    /// Set for a sequence or sample.
    std::shared_ptr<const EqlSequence> sequence;
};

/// Parses `text` with `resolver` (unknown fields, resolver returning -1, are an error naming the
/// field and its position). Errors carry 1-based line and column like KQL's. Never throws.
std::variant<EqlQuery, QueryError> parse_eql(std::string_view text, const FieldResolver& resolver);

}  // namespace scanwatch::rules
