#include "agent/cli.h"

#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "agent/diagnostics.h"
#include "agent/host_identity.h"
#include "agent/outputs.h"
#include "agent/pipeline.h"
#include "agent/replay.h"
#include "rules/rule.h"

#ifndef SCANWATCH_VERSION
#define SCANWATCH_VERSION "0.0.0"
#endif

namespace scanwatch::agent {
namespace {

struct CommonSettings {
    std::string name_match = "any";
    std::string host_id;
    std::string host_name;
    std::string events;
    bool stats = false;
    std::size_t max_groups = 10000;
    std::size_t max_processes = 65536;
};

void add_common_options(CLI::App& cmd, CommonSettings& s) {
    cmd.add_option("--name-match", s.name_match,
                   "How process.name matches: any (comm, exe and argv[0] basenames, busybox/toybox "
                   "applet) or comm (Elastic's exact behaviour)")
        ->check(CLI::IsMember({"any", "comm"}))
        ->capture_default_str();
    cmd.add_option("--host-id", s.host_id,
                   "host.id for records without node= (default: /etc/machine-id)");
    cmd.add_option("--host-name", s.host_name,
                   "host.name for records without node= (default: the hostname)");
    cmd.add_option("--events", s.events,
                   "Also write every exec as an ECS event, NDJSON, to - (stdout) or a file (appended)");
    cmd.add_flag("--stats", s.stats, "Print the counters as one JSON line on stderr at exit");
    cmd.add_option("--max-groups", s.max_groups, "Threshold groups kept per rule (LRU evicted)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}))
        ->capture_default_str();
    cmd.add_option("--max-processes", s.max_processes,
                   "Process instances kept for entity ids (LRU evicted)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100'000'000}))
        ->capture_default_str();
}

std::shared_ptr<const rules::RuleDefinition> builtin_rule() {
    auto loaded = rules::load_rule(rules::builtin_rule_text(), "built-in");
    if (auto* err = std::get_if<rules::RuleError>(&loaded)) {
        // The built-in rule is tested; failing here is a build defect, not user input.
        throw std::logic_error("built-in rule does not load: " + err->to_string());
    }
    return std::get<std::shared_ptr<const rules::RuleDefinition>>(loaded);
}

PipelineOptions pipeline_options(const CommonSettings& s) {
    PipelineOptions o;
    o.normalizer.host_id = s.host_id.empty() ? local_machine_id() : s.host_id;
    o.normalizer.host_name = s.host_name.empty() ? local_hostname() : s.host_name;
    o.normalizer.max_processes = s.max_processes;
    rules::parse_name_match(s.name_match, o.engine.name_match);
    o.engine.max_groups = s.max_groups;
    o.rules.push_back(builtin_rule());
    return o;
}

int run_replay(const CommonSettings& s, const std::vector<std::string>& paths) {
    Diagnostics diagnostics;
    std::vector<std::string> files;
    std::unique_ptr<NdjsonOutput> events_out;
    try {
        files = expand_replay_paths(paths);
        if (!s.events.empty()) events_out = std::make_unique<NdjsonOutput>(s.events);
    } catch (const std::exception& e) {
        diagnostics.warn(e.what());
        return 2;
    }
    NdjsonOutput alerts_out("-");
    AlertWriter alerts(alerts_out);
    std::optional<EventWriter> events;
    if (events_out) events.emplace(*events_out);
    Pipeline pipeline(
        pipeline_options(s), [&alerts](const rules::Alert& a) { alerts.write(a); },
        events ? Pipeline::EventSink([&events](const ProcessEvent& e) { events->write(e); })
               : Pipeline::EventSink{},
        diagnostics);
    int rc = 0;
    try {
        replay(files, pipeline);
    } catch (const std::exception& e) {
        diagnostics.warn(e.what());
        rc = 1;
    }
    if (events_out) events_out->flush();
    if (s.stats) {
        std::fputs((pipeline.stats_json() + "\n").c_str(), stderr);
    }
    if (alerts_out.failed() > 0 || (events_out && events_out->failed() > 0)) {
        diagnostics.warn("writing output failed");
        rc = 1;
    }
    return rc;
}

}  // namespace

int run(int argc, char** argv) {
    CLI::App app{"scanwatch: network-scan detection on Linux audit records (Elastic rule "
                 "\"Potential Network Scan Executed From Host\", streaming)"};
    app.set_version_flag("--version", std::string("scanwatch ") + SCANWATCH_VERSION);
    app.require_subcommand(1);

    CommonSettings settings;
    std::vector<std::string> paths;
    CLI::App* replay_cmd = app.add_subcommand(
        "replay", "Replay captured audit logs (files, rotated-set folders, - for stdin) and print alerts");
    add_common_options(*replay_cmd, settings);
    replay_cmd->add_option("PATH", paths, "Log files, folders of rotated logs, or - for stdin")
        ->required();

    CLI::App* rules_cmd = app.add_subcommand("rules", "Inspect rules");
    rules_cmd->require_subcommand(1);
    CLI::App* rules_show = rules_cmd->add_subcommand("show", "Print the built-in rule (TOML)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    try {
        if (*replay_cmd) return run_replay(settings, paths);
        if (*rules_show) {
            std::fwrite(rules::builtin_rule_text().data(), 1, rules::builtin_rule_text().size(), stdout);
            return 0;
        }
    } catch (const std::exception& e) {
        fmt::print(stderr, "scanwatch: {}\n", e.what());
        return 1;
    }
    return 2;
}

}  // namespace scanwatch::agent
