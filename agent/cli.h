#pragma once
// The command line: subcommands, options, and what each runs.

namespace scanwatch::agent {

/// Runs scanwatch with its command line; returns the process exit code
/// (0 done, 1 failed while running, 2 bad usage or configuration).
int run(int argc, char** argv);

}  // namespace scanwatch::agent
