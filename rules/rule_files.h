#pragma once
// Rule files from the file system: one file, or a folder of them (docs/rules.md).

#include <memory>
#include <string>
#include <vector>

#include "rules/rule.h"

namespace scanwatch::rules {

/// What loading rule files gave: the rules that loaded and every error found.
struct RuleSet {
    std::vector<std::shared_ptr<const RuleDefinition>> rules;  ///< in load order
    std::vector<RuleError> errors;  ///< in load order; empty when everything loaded
    /// Files of a folder left out because they use what scanwatch does not run
    /// (RuleError::unsupported): warnings, not errors, so a detection-rules checkout loads.
    std::vector<RuleError> skipped;
    /// Whether each of `rules` came from a folder (true) or a file named explicitly (false).
    std::vector<bool> in_folder;
    /// Rules that loaded but say `enabled = false`: Kibana never runs them; they are not in
    /// `rules`. Whether each came from a folder: `disabled_in_folder`.
    std::vector<std::shared_ptr<const RuleDefinition>> disabled;
    std::vector<bool> disabled_in_folder;

    /// True when there is no error.
    bool ok() const { return errors.empty(); }
};

/// Loads the rule file `path`, or every `*.toml` file directly in the folder `path` in byte
/// order of their names (names starting with '.' and subfolders are skipped). A file named
/// explicitly loads whatever its extension. A file of a folder that does not load, or uses what
/// scanwatch does not run, is skipped with its error (RuleSet::skipped; RuleError::unsupported
/// tells which), as Kibana imports the other rules of a set; named explicitly it is an error. A
/// rule with `enabled = false` is set aside (RuleSet::disabled). A folder without rule files, a
/// file that cannot be read, and a rule_id already loaded from another file are errors (the
/// later file's rule is left out). Files that load still load when others fail. Never throws.
RuleSet load_rules(const std::string& path);

/// load_rules() of each path in turn, rule_ids unique across all of them.
RuleSet load_rules(const std::vector<std::string>& paths);

}  // namespace scanwatch::rules
