#include "agent/settings.h"

#include <memory>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "agent/outputs/output_spec.h"
#include "rules/toml_guard.h"

#ifndef SCANWATCH_VERSION
#define SCANWATCH_VERSION "0.0.0"
#endif

namespace scanwatch::agent {
namespace {

constexpr const char* kDefaultConfig = "/etc/scanwatch/scanwatch.toml";

struct Cli {
    CLI::App app{
        "scanwatch: network-scan detection on Linux audit records (Elastic rule \"Potential Network "
        "Scan Executed From Host\", evaluated as a stream)"};
    CLI::App* replay = nullptr;
    CLI::App* plugin = nullptr;
    CLI::App* socket = nullptr;
    CLI::App* tail = nullptr;
    CLI::App* rules_show = nullptr;
    CLI::App* rules_check = nullptr;
    CLI::App* doctor = nullptr;
    std::string doctor_input_text = "plugin";  // parsed into Settings::doctor_input by finish()
    std::vector<std::string> output_texts;  // parsed into Settings::outputs by finish()
    std::string events_text;                // parsed into Settings::events by finish()
    // Parsed into Settings' enums by finish(); the validators name the values it accepts.
    std::string profile_text = "hardened";
    std::string name_match_text;
    std::string evaluation_text = "streaming";
    std::string exec_action_text;

    std::string metrics_text;  // parsed into Settings::metrics by finish()
};

// CLI11's TOML reader, given only text that passed rules::check_toml_shape(): a config file gets
// the same size, key-part and depth limits as a rule file, and an error instead of CLI11 dropping
// a key of more than 255 parts without a word.
// The config file holds long options as flat keys (docs/live.md). CLI11 reads it line by line and
// turns `[a.b.c]` sections and dotted keys into subcommand paths, copying the path for every
// section change: 42 KB of section lines took 2 GB (fuzz_toml). Read as CLI11 reads it, the
// file may have neither. Returns the 1-based line of the first offence and what it is, or 0.
std::pair<int, std::string> config_structure_error(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    int number = 0;
    const auto trim = [](std::string& s) {
        const auto begin = s.find_first_not_of(" \t\r");
        const auto end = s.find_last_not_of(" \t\r");
        s = begin == std::string::npos ? std::string() : s.substr(begin, end - begin + 1);
    };
    while (std::getline(in, line)) {
        ++number;
        trim(line);
        if (line.size() < 3 || line.front() == '#' || line.front() == ';') continue;
        if (line.front() == '[' && line.back() == ']') {
            return {number, "a config file has no [sections]: its keys are the long options"};
        }
        const auto eq = line.find('=');
        std::string name = line.substr(0, eq);
        trim(name);
        if (name.find('.') != std::string::npos) {
            return {number, "a config key has no dots: the keys are the long options"};
        }
        if (eq == std::string::npos) continue;
        std::string item = line.substr(eq + 1);
        trim(item);
        // An array CLI11 continues over the following lines, up to one ending with `]`.
        if (item.size() > 1 && item.front() == '[') {
            while (item.back() != ']' && std::getline(in, line)) {
                ++number;
                trim(line);
                item += line;
            }
        }
    }
    return {0, {}};
}

class CheckedConfig : public CLI::ConfigTOML {
public:
    explicit CheckedConfig(const CLI::Option* option) : option_(option) {}

    std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
        std::string text;
        char buffer[64 * 1024];
        while (input.read(buffer, sizeof buffer) || input.gcount() > 0) {
            text.append(buffer, static_cast<std::size_t>(input.gcount()));
            if (text.size() > rules::kMaxTomlBytes) break;
        }
        const std::string name =
            option_->count() > 0 ? option_->as<std::string>() : std::string(kDefaultConfig);
        if (auto shape = rules::check_toml_shape(text)) {
            throw CLI::ConfigError(shape->line > 0 ? fmt::format("{}:{}:{}: {}", name, shape->line,
                                                                 shape->column, shape->message)
                                                   : fmt::format("{}: {}", name, shape->message));
        }
        if (const auto [line, what] = config_structure_error(text); line > 0) {
            throw CLI::ConfigError(fmt::format("{}:{}: {}", name, line, what));
        }
        std::istringstream checked(text);
        return CLI::ConfigTOML::from_config(checked);
    }

private:
    const CLI::Option* option_;
};

// CLI11 validators: "" when the spec parses, else what is wrong with it (naming the value).
std::string check_output_spec(const std::string& text) {
    std::string error;
    return parse_output_spec(text, error) ? std::string() : error;
}

std::string check_metrics_address(const std::string& text) {
    std::string error;
    return text.empty() || parse_metrics_address(text, error) ? std::string() : error;
}

std::string check_events_spec(const std::string& text) {
    std::string error;
    return text.empty() || parse_events_spec(text, error) ? std::string() : error;
}

// A repeatable option that takes one value each time it is given (`--rules A --rules B`).
CLI::Option* add_repeatable(CLI::App& app, const std::string& name, std::vector<std::string>& values,
                            const std::string& help) {
    return app.add_option(name, values, help)->allow_extra_args(false);
}

// An option whose value is one of `names` (finish() parses it into its enum).
CLI::Option* add_choice(CLI::App& app, const std::string& name, std::string& text,
                        std::vector<std::string> names, const std::string& help) {
    CLI::Option* option = app.add_option(name, text, help)->check(CLI::IsMember(std::move(names)));
    return text.empty() ? option : option->capture_default_str();
}

void build(Cli& cli, Settings& s) {
    CLI::App& app = cli.app;
    app.set_version_flag("--version", std::string("scanwatch ") + SCANWATCH_VERSION);
    app.require_subcommand(1);
    // Options of the main app are accepted after the subcommand too: auditd passes a plugin at
    // most two arguments, so `plugin --config=FILE` must be a complete command line.
    app.fallthrough();
    app.allow_config_extras(CLI::config_extras_mode::error);
    const CLI::Option* config =
        app.set_config("--config", kDefaultConfig,
                       "TOML config file with any of the long options as keys (default: " +
                           std::string(kDefaultConfig) + " when present)");
    app.config_formatter(std::make_shared<CheckedConfig>(config));

    add_choice(app, "--profile", cli.profile_text, enum_names(kProfileNames),
               "hardened (wider name match; rules grouping by parent also group by audit "
               "session, or without one by the parent's parent or the user) or elastic "
               "(Elastic's exact semantics: comm names, parent grouping)");
    add_choice(app, "--name-match", cli.name_match_text, enum_names(rules::kNameMatchNames),
               "How process.name matches, overriding the profile's: any (comm, exe and argv[0] "
               "basenames, busybox/toybox applet, program run by ld.so, hard links in live "
               "modes) or comm (Elastic's exact behaviour); default: any (hardened), comm "
               "(elastic)");
    add_choice(app, "--exec-action", cli.exec_action_text, enum_names(rules::kExecActionNames),
               "Which event.action a rule's exec test accepts on scanwatch's exec events, "
               "overriding the profile's: any (a test for another agent's exec name: exec, "
               "exec_event, start, ProcessRollup2, process_started, also accepts executed) or "
               "executed (only executed: Elastic's exact behaviour on auditd data); default: any "
               "(hardened), executed (elastic)");
    app.add_flag("--verbose", s.verbose,
                 "At start and on reload, print every rule finding (each file of a folder "
                 "skipped, each rule that cannot fire) instead of one line of counts");
    app.add_option("--host-id", s.host_id, "host.id for records without node= (default: /etc/machine-id)");
    app.add_option("--host-name", s.host_name, "host.name for records without node= (default: the hostname)");
    add_repeatable(app, "--output", cli.output_texts,
                   "Where alerts go, repeatable: - (stdout, the default), file:PATH (appended, "
                   "reopened on SIGHUP), syslog (/dev/log), syslog:udp://HOST:PORT or "
                   "syslog:tcp://HOST:PORT, relp://HOST:PORT (acknowledged); syslog and relp take ?facility=NAME (default authpriv) and "
                   "&backlog=LINES (default 10000)")
        ->check(check_output_spec);
    app.add_option("--events", cli.events_text,
                   "Also write every exec as an ECS event, NDJSON, to - (stdout) or a file (appended)")
        ->check(check_events_spec);
    add_repeatable(app, "--rules", s.rules,
                   "Rule file or folder of *.toml rule files, repeatable (default: the built-in rules)");
    add_repeatable(app, "--exceptions", s.exceptions,
                   "Exceptions file ([[exception]] tables with query and optional rule_id), repeatable");
    add_choice(app, "--evaluation", cli.evaluation_text, enum_names(rules::kEvaluationNames),
               "streaming (alert on the crossing event) or scheduled (Kibana's runs on event time)");
    app.add_flag("--stats", s.stats, "Print the counters as one JSON line on stderr at exit");
    app.add_option("--stats-file", s.stats_file,
                   "Also append the stats line to this file at exit and on SIGUSR1");
    app.add_option("--max-groups", s.max_groups, "Threshold groups kept per rule (fewest distinct values evicted first)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}))
        ->capture_default_str();
    app.add_option("--max-processes", s.max_processes,
                   "Process instances kept for entity ids (LRU evicted)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100'000'000}))
        ->capture_default_str();

    app.add_flag("--collector", s.collector,
                 "Central collector of auditd remote logging: detection state, watermark and "
                 "max_signals per node=, node clocks checked (docs/fleet.md)");
    app.add_option("--max-nodes", s.max_nodes,
                   "Nodes kept at once (least recently seen finished and dropped first)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
        ->capture_default_str();
    app.add_option("--node-max-groups", s.node_max_groups,
                   "--collector: threshold groups kept per rule and node")
        ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}))
        ->capture_default_str();
    app.add_option("--tool-path", s.tool_path,
                   "Folder where the rules' process names are looked up for the hard-link match "
                   "(plugin, socket, tail; name match any), repeatable (default: /usr/local/sbin "
                   "/usr/local/bin /usr/sbin /usr/bin /sbin /bin)")
        ->allow_extra_args(false);
    app.add_option("--metrics", cli.metrics_text,
                   "plugin, socket, tail: serve Prometheus metrics at http://ADDR:PORT/metrics "
                   "(e.g. 127.0.0.1:9477; no authentication: keep it on loopback or behind a "
                   "firewall; docs/operations.md)")
        ->check(check_metrics_address);
    app.add_flag("--quiet", s.quiet, "replay: no progress line on stderr, even on a terminal");

    cli.replay = app.add_subcommand(
        "replay", "Replay captured audit logs (files, rotated-set folders, - for stdin) and print alerts");
    cli.replay->add_option("PATH", s.paths, "Log files, folders of rotated logs, or - for stdin")->required();

    cli.plugin = app.add_subcommand(
        "plugin", "Run as an auditd plugin: records on stdin (plugins.d format = string)");

    cli.socket = app.add_subcommand(
        "socket", "Read auditd's builtin af_unix plugin socket (format string); reconnects");
    cli.socket->add_option("PATH", s.socket_path, "The socket")->capture_default_str();

    cli.tail = app.add_subcommand(
        "tail", "Follow the log auditd writes, across rotation; resumes where it stopped with --state");
    cli.tail->add_option("FILE", s.tail_path, "The log")->capture_default_str();
    app.add_option("--state", s.state_file,
                   "tail: state file (written atomically every few seconds and at exit) to resume "
                   "from after a restart without losing or repeating events or alerts");
    app.add_option("--user", s.user,
                   "plugin, socket, tail: switch to this user (name or uid) once the input and the "
                   "outputs are open, keeping no capability (tail: only CAP_DAC_READ_SEARCH)");
    auto* from_start = app.add_flag("--from-start", s.from_start,
                                    "tail, first start without state: read the whole file");
    auto* from_end =
        app.add_flag("--from-end", "tail, first start without state: only what is appended (default)");
    from_start->excludes(from_end);

    CLI::App* rules = app.add_subcommand("rules", "Inspect rules");
    rules->require_subcommand(1);
    cli.rules_show = rules->add_subcommand("show", "Print the built-in rules (TOML, one file after another)");
    cli.rules_check = rules->add_subcommand(
        "check", "Validate rule files (Elastic detection-rules TOML) and explain each rule");
    cli.rules_check->add_option("FILE", s.paths, "Rule files or folders")->required();
    cli.rules_check->add_flag("--summary", s.rules_summary,
                              "A verdict per rule file (folders walked recursively) and the counts");

    app.add_flag("--seccomp,!--no-seccomp", s.seccomp,
                 "plugin, socket, tail: allow only the system calls a run makes once started "
                 "(default on; a forbidden call kills the process with SIGSYS)");
    cli.doctor = app.add_subcommand(
        "doctor", "Check what a live run needs (kernel audit, auditd, audit rules, plugins.d, "
                  "access, readers of the af_unix socket) and say how to fix it; exit 1 on a problem");
    cli.doctor->add_flag("--json", s.doctor_json, "One JSON document on stdout (docs/operations.md)");
    cli.doctor->add_option("--input", cli.doctor_input_text, "How scanwatch reads auditd")
        ->check(CLI::IsMember({"plugin", "socket", "tail"}))
        ->capture_default_str();
    cli.doctor->add_option("--socket", s.socket_path, "--input socket: the socket `scanwatch socket` reads")
        ->capture_default_str();
    cli.doctor->add_option("--log", s.tail_path, "--input tail: the log `scanwatch tail` follows")
        ->capture_default_str();
}

void finish(const Cli& cli, Settings& s) {
    if (*cli.replay) s.mode = Mode::replay;
    if (*cli.plugin) s.mode = Mode::plugin;
    if (*cli.socket) s.mode = Mode::socket;
    if (*cli.tail) s.mode = Mode::tail;
    if (*cli.rules_show) s.mode = Mode::rules_show;
    if (*cli.rules_check) s.mode = Mode::rules_check;
    if (*cli.doctor) s.mode = Mode::doctor;
    s.doctor_input = cli.doctor_input_text == "socket" ? Mode::socket
                     : cli.doctor_input_text == "tail" ? Mode::tail
                                                       : Mode::plugin;
    if (const CLI::Option* config = cli.app.get_option("--config"); config->count() > 0) {
        s.config = config->as<std::string>();
    }
    // The validators accepted every spec: parsing again cannot fail.
    std::string error;
    for (const auto& text : cli.output_texts) s.outputs.push_back(*parse_output_spec(text, error));
    if (s.outputs.empty()) s.outputs.emplace_back();
    if (!cli.events_text.empty()) s.events = parse_events_spec(cli.events_text, error);
    if (!cli.metrics_text.empty()) s.metrics = parse_metrics_address(cli.metrics_text, error);
    parse_enum(cli.profile_text, kProfileNames, s.profile);
    rules::parse_evaluation(cli.evaluation_text, s.evaluation);
    if (rules::NameMatch m{}; rules::parse_name_match(cli.name_match_text, m)) s.name_match = m;
    if (rules::ExecAction a{}; parse_enum(cli.exec_action_text, rules::kExecActionNames, a)) {
        s.exec_action = a;
    }
}

// Builds the command line, parses, and completes the settings; `on_error` sees a parse error.
template <typename OnError>
std::optional<Settings> parse_with(int argc, const char* const* argv, OnError on_error) {
    Cli cli;
    Settings s;
    build(cli, s);
    try {
        cli.app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        on_error(cli, e);
        return std::nullopt;
    }
    finish(cli, s);
    return s;
}

}  // namespace

ParsedSettings parse_settings(int argc, const char* const* argv) {
    int rc = 0;
    auto s = parse_with(argc, argv, [&rc](Cli& cli, const CLI::ParseError& e) {
        rc = cli.app.exit(e) == 0 ? 0 : 2;  // prints help, version or the usage error
    });
    return {std::move(s), rc};
}

std::optional<Settings> reparse_settings(int argc, const char* const* argv, std::string& error) {
    return parse_with(argc, argv, [&error](Cli&, const CLI::ParseError& e) { error = e.what(); });
}

rules::EngineOptions engine_options(const Settings& s) {
    rules::EngineOptions o;
    const bool hardened = s.profile == Profile::hardened;
    o.session_grouping = hardened;
    // An explicit --name-match wins over the profile's.
    o.name_match = s.name_match.value_or(hardened ? rules::NameMatch::any : rules::NameMatch::comm);
    o.evaluation = s.evaluation;
    o.max_groups = s.max_groups;
    return o;
}

rules::RuleSources rule_sources(const Settings& s) {
    rules::RuleSources sources{s.rules, s.exceptions};
    sources.exec_action = s.exec_action.value_or(
        s.profile == Profile::hardened ? rules::ExecAction::any : rules::ExecAction::executed);
    return sources;
}

}  // namespace scanwatch::agent
