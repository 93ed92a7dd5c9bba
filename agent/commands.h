#pragma once
// The command line: subcommands, options, and what each runs.

namespace scanwatch::agent {

/// Runs scanwatch with its command line; returns the process exit code (README.md, "Exit
/// status": 0 done, 1 failed while running, 2 bad usage or configuration at start; `rules
/// check`: 1 when a rule file has errors).
int run(int argc, char** argv);

}  // namespace scanwatch::agent
