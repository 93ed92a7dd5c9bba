#pragma once
// Exceptions files (docs/rules.md) and attaching exceptions to loaded rules. An exceptions file
// holds `[[exception]]` tables:
//
//   [[exception]]
//   description = "nightly inventory job"                # optional
//   rule_id = "03c23d45-d3cb-4ad4-ab5d-b361ffe8724a"     # optional: absent = every rule
//   query = 'process.parent.executable:"/usr/local/bin/inventory"'
//
// Exceptions written inside a rule file (`[[rule.exceptions]]`) are read by load_rule().

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rules/rule.h"

namespace scanwatch::rules {

/// What an exceptions file gave: the exceptions that loaded and every error found.
struct ExceptionSet {
    std::vector<RuleException> exceptions;  ///< in file order
    std::vector<RuleError> errors;          ///< in file order; empty when the whole file loaded

    /// True when there is no error.
    bool ok() const { return errors.empty(); }
};

/// Loads exceptions from TOML text; `source` names it in errors and in RuleException::source.
/// A bad `[[exception]]` table is reported (file, line, column) and the others still load.
/// Never throws.
ExceptionSet load_exceptions(std::string_view toml_text, std::string_view source);

/// Reads and loads the exceptions file at `path`; a file that cannot be read is one error
/// naming it. Never throws.
ExceptionSet load_exceptions_file(const std::string& path);

/// `rules` with every exception that applies (rule_id equal to the rule's, or empty) appended to
/// each rule's own exceptions. A rule no exception applies to is returned as it was (the same
/// pointer); the others are new definitions whose fingerprint also covers the added queries, so
/// an engine keyed by fingerprint restarts when its exceptions change.
std::vector<std::shared_ptr<const RuleDefinition>> with_exceptions(
    const std::vector<std::shared_ptr<const RuleDefinition>>& rules,
    const std::vector<RuleException>& exceptions);

/// Messages for exceptions that name a rule_id none of `rules` has ("FILE:LINE: ..."): they
/// apply to nothing, which is most likely a typo.
std::vector<std::string> exception_warnings(
    const std::vector<std::shared_ptr<const RuleDefinition>>& rules,
    const std::vector<RuleException>& exceptions);

}  // namespace scanwatch::rules
