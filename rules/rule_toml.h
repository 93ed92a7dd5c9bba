#pragma once
// Internal to rules/: TOML helpers shared by the rule loader (rule.cpp) and the exceptions
// loader (exceptions.cpp). toml++ is a private dependency of scanwatch_rules, so only rules/*.cpp
// include this header.

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <toml++/toml.h>

#include "rules/rule.h"

namespace scanwatch::rules::detail {

/// A 1-based place in a file; 0 when unknown.
struct Place {
    int line = 0;
    int column = 0;
};

/// Where `node` starts in its file.
Place place_of(const toml::node& node);

/// Where line `kql_line`, column `kql_column` of a query string lands in the file, given where
/// the TOML string value holding it starts (`value`).
Place query_place(std::string_view file_text, Place value, int kql_line, int kql_column);

/// A RuleError for `source` at `at`.
RuleError error_at(std::string_view source, Place at, std::string message);

/// Reads the whole file at `path` (at most 4 MiB: no rule or exceptions file is near that) into
/// `out`; returns an error naming the path and the reason when it cannot.
std::optional<RuleError> read_text_file(const std::string& path, std::string& out);

/// Parses `text` into `out`; returns the syntax error, with its place, when it is not TOML.
std::optional<RuleError> parse_toml(std::string_view text, std::string_view source,
                                    toml::table& out);

/// Reads one exception table: `query` (required) and `description`; with `allow_rule_id` (the
/// exceptions-file form) also `rule_id`. Any other key is an error, so a typo never silently
/// drops an exception. `what` names the table in messages ("rule.exceptions", "exception").
std::variant<RuleException, RuleError> read_exception(const toml::node& node,
                                                      std::string_view file_text,
                                                      std::string_view source,
                                                      std::string_view what, bool allow_rule_id);

}  // namespace scanwatch::rules::detail
