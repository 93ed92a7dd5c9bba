#pragma once
// Every setting scanwatch takes, from the command line and the config file (TOML, CLI11's reader:
// the same names as the long options, `key = value`). The command line wins over the file.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rules/rule.h"
#include "rules/rule_engine.h"

namespace scanwatch::agent {

/// The mode a run is in.
enum class Mode { replay, plugin, socket, tail, rules_show, rules_check };

/// What the command line and config file said.
struct Settings {
    Mode mode = Mode::replay;
    std::string config;  ///< the config file read, empty if none
    std::string profile = "hardened";  ///< or "elastic" (docs/detection.md)
    std::string name_match;             ///< "any" / "comm"; empty: the profile's
    std::string host_id;
    std::string host_name;
    std::vector<std::string> outputs;  ///< "-", "file:PATH" or a syslog spec; empty means "-"
    std::string events;                ///< "" (off), "-" or a file
    bool stats = false;
    std::string stats_file;  ///< also append the stats line here (plugins have no useful stderr)
    std::size_t max_groups = 10000;
    std::size_t max_processes = 65536;
    std::vector<std::string> paths;    ///< replay inputs; rules check: rule files
    std::vector<std::string> rules;       ///< rule files or folders; empty: the built-in rule
    std::vector<std::string> exceptions;  ///< exceptions files
    std::string evaluation = "streaming"; ///< or "scheduled" (Kibana's runs on event time)
    std::string socket_path = "/var/run/audispd_events";
    std::string tail_path = "/var/log/audit/audit.log";
    std::string state_file;  ///< tail: where reading stands and the rules' state
    bool from_start = false; ///< tail without state: read what is there
    bool from_end = false;   ///< tail without state: only what comes (the default)
};

/// A parse result: settings to run with, or an exit code (help, version, usage error) after
/// CLI11 has printed what it had to.
struct ParsedSettings {
    std::optional<Settings> settings;
    int exit_code = 0;
};

/// Parses the command line (and the config file it names, or /etc/scanwatch/scanwatch.toml when
/// present). Prints help, version or the usage error itself.
ParsedSettings parse_settings(int argc, const char* const* argv);

/// Parses again, quietly, for a reload: the error text instead of printing it.
std::optional<Settings> reparse_settings(int argc, const char* const* argv, std::string& error);

/// The built-in rule (rules/builtin/network_scan.toml, compiled in).
std::shared_ptr<const rules::RuleDefinition> builtin_rule();

/// Engine options from settings.
rules::EngineOptions engine_options(const Settings& s);

/// The rules the settings name (rule files and exceptions files), with what went wrong.
struct LoadedRules {
    std::vector<std::shared_ptr<const rules::RuleDefinition>> rules;
    std::vector<std::string> errors;    ///< "FILE:LINE:COLUMN: message"; the rules must not run
    std::vector<std::string> warnings;  ///< rules that cannot fire, exceptions that match no rule
};
LoadedRules load_configured_rules(const Settings& s);

}  // namespace scanwatch::agent
