#pragma once
// Live modes: one Boost.Asio io_context reading auditd's records from stdin (plugin) or its
// af_unix socket, with a 1 s aging timer and signals (TERM/INT: stop, HUP: reload, USR1: stats).

#include "agent/settings.h"

namespace scanwatch::agent {

/// Runs `plugin` or `socket` mode until EOF (plugin), SIGTERM or SIGINT; returns 0, or 1 when
/// an input or an output failed (Runner::run). Throws std::runtime_error at start: an output
/// that cannot be opened, rule files with errors.
/// `argc`/`argv` are parsed again on SIGHUP to reload the configuration.
int run_live(const Settings& settings, int argc, const char* const* argv);

}  // namespace scanwatch::agent
