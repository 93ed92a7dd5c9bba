#pragma once
// `scanwatch doctor` (docs/operations.md, "scanwatch doctor"): the checks of
// docs/troubleshooting.md run for the operator, each finding with what to run to fix it.

#include "agent/settings.h"

namespace scanwatch::agent::doctor {

/// Runs every check for what `s` would load and run, prints the report (text, or JSON with
/// --json) on stdout, and returns 0 when no finding is a problem, else 1.
int run_doctor(const Settings& s);

}  // namespace scanwatch::agent::doctor
