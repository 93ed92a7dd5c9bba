#pragma once
// What the agent says about its rules at start and on reload (docs/rules.md, "Loading files and
// folders"). A detection-rules checkout gives hundreds of routine findings (files using what
// scanwatch does not run, rules that cannot fire on its events): they are counted on one line,
// and `scanwatch rules check` lists them; everything else is shown one by one.

#include <string>
#include <vector>

#include "rules/rule_loader.h"

namespace scanwatch::rules {

/// The findings to print and the counts line.
struct LoadReport {
    std::vector<Finding> shown;  ///< in load order: errors, and warnings not counted away
    /// One line without a newline ("rules: 362 loaded, ..."); empty when no finding was routine.
    std::string summary;
};

/// Splits `loaded`'s findings. Routine, counted and not shown (unless `verbose`): about a file of
/// a folder, a file skipped as unsupported, a disabled rule, a rule that cannot fire or reads
/// fields scanwatch never fills. A file of a folder that does not load is shown and counted.
LoadReport load_report(const LoadResult& loaded, bool verbose);

}  // namespace scanwatch::rules
