#pragma once
// A detection rule as Elastic's detection-rules TOML states it, compiled for scanwatch.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rules/event_fields.h"
#include "rules/query/eql/eql.h"

#include "rules/query/esql/esql.h"
#include "rules/query/query.h"

namespace scanwatch::rules {

/// A MITRE ATT&CK reference (tactic, technique or subtechnique).
struct ThreatRef {
    std::string id;
    std::string name;
    std::string reference;
};

/// One `[[rule.threat]]` entry.
struct Threat {
    std::string framework;
    ThreatRef tactic;
    std::vector<ThreatRef> techniques;
};

/// `[[rule.threshold.cardinality]]`: at least `value` distinct values of `field`.
/// Largest threshold.cardinality value a rule may have: a group keeps up to that many distinct
/// values (~100 bytes each; docs/rules.md, "Memory").
inline constexpr std::uint64_t kMaxCardinality = 100'000;

struct Cardinality {
    std::string field;
    int field_id = -1;
    std::uint64_t value = 0;
};

/// An exception (docs/rules.md): an event the rule's query matches is not counted when this
/// query matches it too. From `[[rule.exceptions]]` in a rule file or `[[exception]]` in an
/// exceptions file (rules/exceptions.h).
struct RuleException {
    std::string query_text;  ///< as written
    Query query;
    std::string description;
    std::string rule_id;  ///< exceptions file only: the rule it applies to; empty = every rule
    std::string source;   ///< the file it came from
    int line = 0;         ///< where its table starts in `source` (1-based)
    /// Fields the query reads that scanwatch events never carry (they never have a value).
    std::vector<std::string> unknown_fields;

    /// "SOURCE:LINE", for messages.
    std::string place() const;
};

/// What a rule does with the events its query matches (docs/rules.md, "Rule types").
enum class RuleType {
    threshold,  ///< count per group in a window; alert when a group crosses the threshold
    query,      ///< an alert per matching event (KQL, language "kuery")
    eql,        ///< an alert per matching event (single-event EQL, language "eql")
    new_terms,  ///< an alert when a value combination is first seen in the history window
    esql,       ///< an ES|QL query run on Kibana's schedule; an alert per result row
};

/// `[rule.new_terms]`: the fields whose value combinations are tracked, and how far back.
struct NewTerms {
    std::vector<std::string> fields;
    std::vector<int> field_ids;
    std::string history_window_start_text;  ///< as written, e.g. "now-7d"
    std::int64_t history_window_ms = 0;
};

/// A loaded rule. Immutable once loaded; shared by engines and alerts.
struct RuleDefinition {
    std::string source;  ///< file it came from, or "built-in"
    /// Hash of the rule's file text and of exceptions attached from elsewhere (with_exceptions):
    /// equal fingerprint, equal behaviour.
    std::string fingerprint;
    std::string rule_id;
    std::string name;
    std::string description;
    std::string severity;
    std::string type;  ///< "threshold", "query", "eql" or "new_terms"
    RuleType rule_type = RuleType::threshold;
    std::string language;  ///< "kuery" or "eql"
    /// EQL only: the event category of `CATEGORY where ...` ("process", "any", "file", ...).
    std::string eql_category;
    /// EQL sequence or sample only (eql_category "sequence" / "sample"): its terms; `query` is
    /// then any of the terms' conditions (rules/engines/sequence/sequence_engine.h).
    std::shared_ptr<const EqlSequence> eql_sequence;
    std::int64_t risk_score = 0;
    std::int64_t version = 1;
    std::string from_text;      ///< as written, e.g. "now-9m"
    std::string interval_text;  ///< as written, e.g. "5m"
    std::int64_t from_ms = 0;   ///< look-back of the window
    std::int64_t interval_ms = 0;
    std::uint64_t max_signals = 100;
    std::string query_text;
    Query query;
    std::vector<std::string> group_by;
    std::vector<int> group_by_ids;
    std::uint64_t threshold_value = 1;
    std::optional<Cardinality> cardinality;
    NewTerms new_terms;  ///< new_terms rules only
    std::vector<Threat> threat;
    std::vector<std::string> tags;
    /// Fields the query, group-by or cardinality read that scanwatch events never carry; they
    /// never have a value (rule_warnings() in rules/rule_check.h says whether the rule can fire).
    std::vector<std::string> unknown_fields;
    /// ES|QL rules only: the parsed query (`query` stays empty).
    std::shared_ptr<const esql::Pipeline> esql;
    /// The rule file's own `[[rule.exceptions]]`, then those attached by with_exceptions().
    std::vector<RuleException> exceptions;
    /// `rule.enabled` (default true). Kibana never runs a disabled rule; neither does scanwatch:
    /// load_rules() sets such a rule aside (RuleSet::disabled).
    bool enabled = true;
    /// True when with_exec_alias() (rules/ruleset/exec_alias.h) made the query's tests of other
    /// agents' exec action names also accept scanwatch's `executed`.
    bool exec_alias = false;

    /// True when any exception matches the event behind `fields` (the query is not checked).
    bool excepted(const FieldAccessor& fields) const;
    /// True when the query, an exception, the group-by or the cardinality reads field `id`.
    bool reads(int field_id) const;
};

/// A load failure with its place in the file (1-based; 0 when not tied to a place).
struct RuleError {
    std::string source;
    int line = 0;
    int column = 0;
    std::string message;
    /// The file is a valid detection-rules file that uses what scanwatch does not run (a rule
    /// type, a query language, an EQL sequence or pipe): a folder skips it with a warning.
    bool unsupported = false;
    /// For counts: the refusal's kind, refusal_kind() in rules/rule_summary.h ("type esql",
    /// "kuery: query error", ...); set by load_rules() for the files of a folder it skips.
    std::string kind = {};

    /// "FILE:LINE:COLUMN: MESSAGE".
    std::string to_string() const;
};

using RuleResult = std::variant<std::shared_ptr<const RuleDefinition>, RuleError>;

/// Parses a detection-rules `type`; false (and `out` untouched) for a type scanwatch lacks.
bool parse_rule_type(std::string_view text, RuleType& out);

/// Loads one rule from detection-rules TOML text; `source` names it in errors.
RuleResult load_rule(std::string_view toml_text, std::string_view source);

/// The longest duration a rule may give (`from`, `interval`): 3650 days.
inline constexpr std::int64_t kMaxDurationMs = 3650LL * 86400 * 1000;

/// Parses a detection-rules duration: "now-9m", "9m", "300s", "1h" -> milliseconds; -1 if bad
/// or longer than kMaxDurationMs.
std::int64_t parse_duration_ms(std::string_view text);

/// The built-in exec rule's TOML text (rules/builtin/network_scan.toml, compiled in).
std::string_view builtin_rule_text();
/// Every built-in rule's TOML text, the exec rule first, then the network rules
/// (rules/builtin/port_scan.toml, host_sweep.toml, raw_socket.toml).
const std::vector<std::string_view>& builtin_rule_texts();

}  // namespace scanwatch::rules
