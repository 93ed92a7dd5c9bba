#pragma once
// Every setting scanwatch takes, from the command line and the config file (TOML, CLI11's reader:
// the same names as the long options, `key = value`). The command line wins over the file.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/metrics/metrics_address.h"
#include "agent/outputs/output_spec.h"
#include "parsers/ecs/enum_names.h"
#include "rules/engines/engine.h"
#include "rules/rule_loader.h"

namespace scanwatch::agent {

/// A detection profile (docs/detection.md, "Profiles and grouping").
enum class Profile {
    hardened,  ///< the default: wider name match, and session grouping besides the parent's
    elastic,   ///< Elastic's exact semantics: comm names, the rule's parent grouping
};

/// The names of Profile.
inline constexpr EnumName<Profile> kProfileNames[] = {{"hardened", Profile::hardened},
                                                     {"elastic", Profile::elastic}};


/// The mode a run is in.
enum class Mode { replay, plugin, socket, tail, rules_show, rules_check, doctor };

/// What the command line and config file said.
struct Settings {
    Mode mode = Mode::replay;
    std::string config;  ///< the config file read, empty if none
    Profile profile = Profile::hardened;  ///< docs/detection.md
    std::optional<rules::NameMatch> name_match;        ///< --name-match; nullopt: the profile's
    std::string host_id;
    std::string host_name;
    std::vector<OutputSpec> outputs;   ///< alerts: parsed --output specs; at least one ("-")
    std::optional<OutputSpec> events;  ///< --events: stdout or a file; nullopt when off
    bool stats = false;
    std::string stats_file;  ///< also append the stats line here (plugins have no useful stderr)
    std::size_t max_groups = 10000;
    std::size_t max_processes = 65536;
    bool collector = false;            ///< per-node detection state (docs/fleet.md)
    std::size_t max_nodes = 2048;      ///< nodes assembled, and on a collector tracked, at once
    std::size_t node_max_groups = 500; ///< a collector's groups per rule and node
    /// Folders where the rules' tools are stat'ed for the hard-link match (live and tail modes,
    /// name match any); empty: agent/tool_inodes.h's defaults.
    std::vector<std::string> tool_path;
    std::vector<std::string> paths;    ///< replay inputs; rules check: rule files
    bool rules_summary = false;        ///< rules check --summary: a verdict per file and counts
    std::vector<std::string> rules;       ///< rule files or folders; empty: the built-in rule
    std::vector<std::string> exceptions;  ///< exceptions files
    rules::Evaluation evaluation = rules::Evaluation::streaming;  ///< or Kibana's runs on event time
    std::string socket_path = "/var/run/audispd_events";
    std::string tail_path = "/var/log/audit/audit.log";
    std::string state_file;  ///< tail: where reading stands and the rules' state
    bool from_start = false; ///< tail without state: read what is there, else only what comes
    std::string user;  ///< live modes: switch to this user once the inputs and outputs are open
    /// --exec-action: other agents' exec names in rules (rules/ruleset/exec_alias.h); nullopt:
    /// the profile's (any when hardened, executed when elastic)
    std::optional<rules::ExecAction> exec_action;
    bool verbose = false;  ///< print every rule finding at start, not the counts line alone

    /// plugin, socket, tail: serve GET /metrics here (docs/operations.md, "Metrics"); off when unset
    std::optional<MetricsAddress> metrics;
    bool quiet = false;  ///< no progress line on a terminal (replay)

    /// Live modes: a system call allow-list once started (agent/sandbox/seccomp_filter.h);
    /// `--no-seccomp` or `seccomp = false` turns it off.
    bool seccomp = true;
    bool doctor_json = false;           ///< doctor --json
    Mode doctor_input = Mode::plugin;   ///< doctor --input: plugin, socket or tail
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

/// Engine options from settings.
rules::EngineOptions engine_options(const Settings& s);

/// What the settings name for rule loading (rules/rule_loader.h).
rules::RuleSources rule_sources(const Settings& s);

}  // namespace scanwatch::agent
