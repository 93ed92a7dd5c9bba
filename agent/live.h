#pragma once
// Live modes: one Boost.Asio io_context reading auditd's records from stdin (plugin) or its
// af_unix socket, with a 1 s aging timer and signals (TERM/INT: stop, HUP: reload, USR1: stats).

#include "agent/settings.h"

namespace scanwatch::agent {

/// Runs `plugin` or `socket` mode until EOF (plugin), SIGTERM or SIGINT; returns the exit code.
/// `argc`/`argv` are parsed again on SIGHUP to reload the configuration.
int run_live(const Settings& settings, int argc, const char* const* argv);

}  // namespace scanwatch::agent
