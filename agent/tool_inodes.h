#pragma once
// Hard links of the rules' tools (docs/detection.md, "Profiles and grouping"): the files the
// names a rule's process.name requires resolve to in the binary folders, by device and inode,
// so that an exec of a hard link under another name (`pong`) still matches as the tool. Live
// and tail modes only, built at start and on each reload; never in a replay (the log's inodes
// are another host's).

#include <memory>
#include <string>
#include <vector>

#include "parsers/execve_normalizer.h"
#include "rules/rule.h"

namespace scanwatch::agent {

/// The folders searched when none is set (--tool-path): where a PATH lookup finds tools.
const std::vector<std::string>& default_tool_folders();

/// The process.name values the rules' queries require (Query::required_values), without
/// duplicates, in first-seen order.
std::vector<std::string> rule_tool_names(
    const std::vector<std::shared_ptr<const rules::RuleDefinition>>& rules);

/// For each name (a plain file name, no '/') and each folder: stat FOLDER/NAME, following
/// symlinks; a regular file's (st_dev, st_ino) maps to the name (the first name found wins).
/// A multi-call binary (busybox, toybox: its applets are matched by argv) is skipped, or every
/// applet it runs would count as the tool. Missing files are skipped silently.
parsers::ToolInodes find_tool_inodes(const std::vector<std::string>& names,
                                     const std::vector<std::string>& folders);

}  // namespace scanwatch::agent
