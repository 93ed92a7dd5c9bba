#pragma once
// Tail mode: follows the log auditd writes (docs/tail.md), with a state file so that a restart
// neither loses nor repeats events or alerts.

#include "agent/settings.h"

namespace scanwatch::agent {

/// Runs `tail` until SIGTERM or SIGINT; returns the exit code. `argc`/`argv` are parsed again
/// on SIGHUP to reload the configuration.
int run_tail(const Settings& settings, int argc, const char* const* argv);

}  // namespace scanwatch::agent
