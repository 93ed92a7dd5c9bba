#pragma once
// `scanwatch rules check --summary DIR`: a verdict per rule file of a folder tree (loads and can
// fire; loads but cannot fire, and why; refused, and why) and the counts (docs/rules.md).

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "rules/rule.h"
#include "rules/ruleset/exec_alias.h"

namespace scanwatch::rules {

/// What scanwatch makes of one rule file.
enum class Verdict { can_fire, cannot_fire, refused, disabled };

/// One file's verdict.
struct FileVerdict {
    std::string file;
    std::string rule_name;  ///< empty when refused before the name was read
    std::string type;       ///< the rule's `type` as written, when it could be read
    Verdict verdict = Verdict::refused;
    std::string reason;  ///< cannot_fire: the first reason; refused: the load error
    bool eql_sequence = false;  ///< loaded, an EQL sequence or sample
};

/// The verdicts of a folder tree and their counts.
struct Summary {
    std::vector<FileVerdict> files;  ///< in path byte order
    std::map<std::string, std::size_t> refused_by;  ///< "type eql", "query error", ... -> files

    std::size_t count(Verdict v) const;
    /// One line per file ("can-fire FILE", "cannot-fire FILE: WHY", "refused FILE: WHY"), then
    /// the counts; each line ends with a newline.
    std::string to_string() const;
};

/// The kind of a load failure, for counts: "type esql", "language lucene", "eql: not supported",
/// "kuery: query error", "eql: query error", "other". `rule_text` is the file's text (its
/// `type` is read from it, since a rule refused has none).
std::string refusal_kind(const RuleError& error, std::string_view rule_text);

/// The `type = "..."` written in a rule file's text, or empty.
std::string written_type(std::string_view rule_text);

/// Verdicts for every `*.toml` file under `paths` (folders walked recursively, names starting
/// with '.' skipped; a file named explicitly is taken whatever its extension). A path that
/// cannot be read is a refused entry. Never throws.
Summary summarize_rules(const std::vector<std::string>& paths);
/// As above, with the exec alias (rules/ruleset/exec_alias.h) of `exec_action` applied to each
/// rule before its verdict; a rule with `enabled = false` gets the verdict disabled.
Summary summarize_rules(const std::vector<std::string>& paths, ExecAction exec_action);

}  // namespace scanwatch::rules
