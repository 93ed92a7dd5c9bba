#pragma once
// Test helper: replay paths through the real pipeline with a fixed host identity; collect the
// alert lines (event.created fixed at 0 so they are deterministic) and optionally event lines.

#include <stdexcept>
#include <string>
#include <vector>

#include "agent/pipeline.h"
#include "agent/sources/replay.h"
#include "parsers/ecs/ecs_json.h"

namespace scanwatch::test {

struct ReplayResult {
    std::vector<std::string> alerts;
    std::vector<std::string> events;
    std::string stats;
};

inline std::shared_ptr<const rules::RuleDefinition> builtin_rule() {
    return std::get<std::shared_ptr<const rules::RuleDefinition>>(
        rules::load_rule(rules::builtin_rule_text(), "built-in"));
}

/// Replays `paths` through the pipeline with `rule_list` (e.g. from rules::load_rules) and
/// `engine` options (evaluation mode, name matching) instead of the built-in rule.
inline ReplayResult replay_with_rules(const std::vector<std::string>& paths,
                                      std::vector<std::shared_ptr<const rules::RuleDefinition>> rule_list,
                                      const rules::EngineOptions& engine = {},
                                      bool with_events = false, bool rule_index = true) {
    ReplayResult r;
    agent::PipelineOptions options;
    options.normalizer.host_id = "sample-host-id";
    options.normalizer.host_name = "sample-host";
    options.engine = engine;
    options.rules = std::move(rule_list);
    options.rule_index = rule_index;
    std::FILE* devnull = std::fopen("/dev/null", "w");
    agent::Diagnostics diagnostics(devnull);
    agent::Pipeline pipeline(
        options, [&](const rules::Alert& a) { r.alerts.push_back(rules::alert_to_json(a, 0)); },
        with_events ? agent::Pipeline::EventSink([&](const ProcessEvent& e) {
            std::string line;
            append_event_json(line, e);
            r.events.push_back(std::move(line));
        })
                    : agent::Pipeline::EventSink{},
        diagnostics);
    agent::replay(agent::expand_replay_paths(paths), pipeline,
                  [](const std::string& message) { throw std::runtime_error(message); });
    r.stats = pipeline.stats_json();
    std::fclose(devnull);
    return r;
}

/// Replays `paths` with the built-in rule in streaming mode.
inline ReplayResult replay_paths(const std::vector<std::string>& paths,
                                 rules::NameMatch name_match = rules::NameMatch::any,
                                 bool with_events = false) {
    rules::EngineOptions engine;
    engine.name_match = name_match;
    return replay_with_rules(paths, {builtin_rule()}, engine, with_events);
}

/// Replays `log` with `rule_list`, first restoring `restore` (when given, and checked to fit)
/// and then saving the pipeline's state into `save` (when given): one run of an agent between
/// restarts. Returns the number of alerts.
inline std::size_t replay_between_restarts(
    const std::string& log, std::vector<std::shared_ptr<const rules::RuleDefinition>> rule_list,
    const agent::PipelineState* restore, agent::PipelineState* save) {
    agent::PipelineOptions options;
    options.normalizer.host_id = "sample-host-id";
    options.rules = std::move(rule_list);
    std::FILE* devnull = std::fopen("/dev/null", "w");
    agent::Diagnostics diagnostics(devnull);
    std::size_t alerts = 0;
    agent::Pipeline pipeline(options, [&](const rules::Alert&) { ++alerts; }, {}, diagnostics);
    if (restore != nullptr && !pipeline.restore_state(*restore).empty()) {
        std::fclose(devnull);
        throw std::runtime_error("saved state does not fit the rules");
    }
    agent::replay({log}, pipeline, [](const std::string&) {});
    if (save != nullptr) *save = pipeline.save_state();
    std::fclose(devnull);
    return alerts;
}

}  // namespace scanwatch::test
