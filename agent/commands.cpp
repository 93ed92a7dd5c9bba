#include "agent/commands.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "agent/metrics/progress.h"

#include "agent/doctor/doctor.h"
#include "agent/outputs/safe_open.h"
#include "agent/privilege.h"
#include "agent/sources/live.h"
#include "agent/sources/replay.h"
#include "agent/session.h"
#include "agent/settings.h"
#include "agent/sources/tail.h"
#include "rules/engines/engine.h"
#include "rules/index/rule_index.h"
#include "rules/rule_check.h"
#include "rules/rule_summary.h"

namespace scanwatch::agent {
namespace {

// A progress line on stderr when it is a terminal (docs/operations.md, "Progress").
std::unique_ptr<ProgressLine> replay_progress(const Settings& s, const std::vector<std::string>& files,
                                              Session& session) {
    if (!ProgressLine::wanted(STDERR_FILENO, s.quiet)) return nullptr;
    const bool has_stdin = std::find(files.begin(), files.end(), "-") != files.end();
    return std::make_unique<ProgressLine>(
        stderr, has_stdin ? 0 : replay_bytes(files), files.size(), [&session] {
            const PipelineStats stats = session.pipeline().stats();
            ProgressCounts counts;
            counts.events = stats.events;
            for (const auto& rule : stats.detection.rules) counts.alerts += rule.alerts;
            return counts;
        });
}

int run_replay(const Settings& s) {
    std::vector<std::string> files;
    try {
        files = expand_replay_paths(s.paths);
    } catch (const std::exception& e) {
        fmt::print(stderr, "scanwatch: {}\n", e.what());
        return 2;
    }
    // Every input is opened before any is read: one that cannot be is a start-up error (exit 2),
    // not alerts silently missing from a run that looks complete.
    if (const std::string error = check_replay_files(files); !error.empty()) {
        fmt::print(stderr, "scanwatch: {}\n", error);
        return 2;
    }
    Session session(s, Input::replay);
    int rc = 0;
    const auto report = [&session](const std::string& message) { session.diagnostics().warn(message); };
    std::unique_ptr<ProgressLine> progress = replay_progress(s, files, session);
    // A message takes a line of its own; the progress line is drawn again after it.
    if (progress) session.diagnostics().before_message([&progress] { progress->clear(); });
    if (!replay(files, session.pipeline(), report, progress.get())) rc = 1;
    session.diagnostics().before_message({});
    progress.reset();  // the line is cleared before the stats and messages that follow
    session.close();
    if (s.stats || !s.stats_file.empty()) session.report_stats(s.stats);
    if (session.output_failures()) {
        session.diagnostics().warn("writing output failed");
        rc = 1;
    }
    return rc;
}

// `scanwatch rules check FILE...`: every error with its place, then what each rule does.
int check_rules(const Settings& s) {
    if (s.rules_summary) {
        const std::string summary =
            rules::summarize_rules(s.paths, rule_sources(s).exec_action).to_string();
        std::fwrite(summary.data(), 1, summary.size(), stdout);
        return 0;
    }
    rules::RuleSources sources = rule_sources(s);
    sources.rules = s.paths;
    const rules::LoadResult loaded = rules::load_rule_sources(sources);
    const std::string findings = loaded.as_string();
    std::fwrite(findings.data(), 1, findings.size(), stderr);
    const rules::EngineOptions options = engine_options(s);
    for (const auto& rule : loaded.rules) {
        // Which events the rule is tried on (rules/index/rule_index.h), under these options.
        const rules::IndexBucket bucket =
            rules::bucket_of(rules::make_engine(rule, options)->interest());
        fmt::print("{}{}\n\n", rules::explain_rule(*rule, options.session_grouping),
                   rules::describe_bucket(bucket));
    }
    // A file of a folder that does not load is skipped when the agent starts, yet it is an
    // error to fix: checking says so in the exit code.
    const bool broken = std::any_of(loaded.findings.begin(), loaded.findings.end(), [](const auto& f) {
        return f.kind == rules::FindingKind::skipped_broken;
    });
    return loaded.ok() && !broken ? 0 : 1;
}

}  // namespace

int run(int argc, char** argv) {
    const ParsedSettings parsed = parse_settings(argc, argv);
    if (!parsed.settings) return parsed.exit_code;
    const Settings& s = *parsed.settings;
    // Doctor reports an unknown --user as a finding instead of failing on it below.
    if (s.mode == Mode::doctor) return doctor::run_doctor(s);
    try {
        if (!s.user.empty()) {
            const auto [uid, gid] = user_ids(s.user);
            trust_user(uid, gid);  // its folders hold outputs and state (safe_open.h)
        }
        switch (s.mode) {
            case Mode::replay: return run_replay(s);
            case Mode::plugin:
            case Mode::socket: return run_live(s, argc, argv);
            case Mode::tail: return run_tail(s, argc, argv);
            case Mode::rules_check: return check_rules(s);
            case Mode::doctor: return doctor::run_doctor(s);
            case Mode::rules_show: {
                bool first = true;
                for (const std::string_view text : rules::builtin_rule_texts()) {
                    if (!first) std::fputs("\n", stdout);  // the files stay apart
                    std::fwrite(text.data(), 1, text.size(), stdout);
                    first = false;
                }
                return 0;
            }
        }
    } catch (const std::exception& e) {
        // Start-up failures: an output that cannot be opened, and the like.
        fmt::print(stderr, "scanwatch: {}\n", e.what());
        return 2;
    }
    return 2;
}

}  // namespace scanwatch::agent
