#pragma once
// Rule loading policy: the rule files and exceptions files a configuration names, loaded,
// attached and checked, with every finding kept structured (file, line, column, rule) rather
// than flattened into text. The agent and `scanwatch rules check` both load through here.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rules/rule.h"
#include "rules/ruleset/exec_alias.h"

namespace scanwatch::rules {

/// How bad a finding is: an error stops the rules from running; a warning does not.
enum class Severity { error, warning };

/// Kinds of findings that loading a folder of rules (a detection-rules checkout) has by the
/// hundred, counted rather than printed one by one at start.
enum class FindingKind {
    other,
    skipped_unsupported,  ///< a file of a folder using what scanwatch does not run
    skipped_broken,       ///< a file of a folder that does not load (its error)
    disabled,             ///< a rule with enabled = false, not run
    cannot_fire,          ///< a rule that loads but can never alert on scanwatch events
    unfilled_fields,      ///< a rule that reads fields scanwatch never fills, yet may fire
};

/// One thing loading found. line and column are 1-based, 0 when not tied to a place.
struct Finding {
    Severity severity = Severity::error;
    std::string file;       ///< rule or exceptions file; empty when about no file
    int line = 0;
    int column = 0;
    std::string message;
    std::string rule_id;    ///< the rule it is about, when it is about one
    std::string rule_name;
    /// What kind of finding it is, for the agent's one-line summary at start
    /// (rules/ruleset/load_report.h); `other` for the rest.
    FindingKind kind = FindingKind::other;
    std::string reason;      ///< skipped: the refusal's kind ("type esql", "kuery: query error")
    bool in_folder = false;  ///< about a file loaded from a folder (not named explicitly)

    /// "FILE:LINE:COLUMN: MESSAGE" (parts without a value left out); a warning about a rule as
    /// a whole reads "NAME (FILE): MESSAGE".
    std::string to_string() const;
};

/// What loading gave: the rules to run and every finding, errors and warnings in load order.
struct LoadResult {
    std::vector<std::shared_ptr<const RuleDefinition>> rules;
    std::vector<Finding> findings;

    /// True when no finding is an error (the rules may run).
    bool ok() const;
    /// One line per finding, "error: ..." or "warning: ...", each ending with a newline.
    std::string as_string() const;
    /// {"ok":..., "rules":[{"rule_id","name","source"}], "findings":[{"severity","file","line",
    /// "column","message","rule_id","rule_name"}]} on one line, without a trailing newline.
    std::string as_json() const;
};

/// What a configuration names.
struct RuleSources {
    std::vector<std::string> rules;       ///< rule files or folders; empty: the built-in rules
    std::vector<std::string> exceptions;  ///< exceptions files
    /// Whether other agents' exec action names also match scanwatch's exec events
    /// (rules/ruleset/exec_alias.h).
    ExecAction exec_action = ExecAction::any;
};

/// Loads the rules (load_rules() in rules/rule_files.h, or the built-in rule), the exceptions
/// files, attaches the exceptions (with_exceptions()) and the exec alias (with_exec_alias()),
/// and adds warnings for files of a folder skipped, disabled rules, exceptions that apply to no
/// rule and rules that cannot fire (rule_warnings()). Rules that load are kept even when others
/// fail; no rule at all is an error. Never throws.
LoadResult load_rule_sources(const RuleSources& sources);

/// One rule file's text, loaded and checked as load_rule_sources() loads and checks a file;
/// `source` names it in findings. Never throws.
LoadResult load_rule_text(std::string_view toml_text, std::string_view source);

/// The built-in rule of `text` (default: the exec rule, rules/builtin/network_scan.toml,
/// compiled in; builtin_rule_texts() gives them all). Throws std::logic_error if it does not
/// load, which is a build defect (the rules are tested), not user input.
std::shared_ptr<const RuleDefinition> builtin_rule(std::string_view text = builtin_rule_text());

}  // namespace scanwatch::rules
