#include "agent/commands.h"

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "agent/doctor/doctor.h"
#include "agent/outputs/safe_open.h"
#include "agent/privilege.h"
#include "agent/sources/live.h"
#include "agent/sources/replay.h"
#include "agent/session.h"
#include "agent/settings.h"
#include "agent/sources/tail.h"
#include "rules/rule_check.h"
#include "rules/rule_summary.h"

namespace scanwatch::agent {
namespace {

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
    if (!replay(files, session.pipeline(), report)) rc = 1;
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
        const std::string summary = rules::summarize_rules(s.paths).to_string();
        std::fwrite(summary.data(), 1, summary.size(), stdout);
        return 0;
    }
    rules::RuleSources sources = rule_sources(s);
    sources.rules = s.paths;
    const rules::LoadResult loaded = rules::load_rule_sources(sources);
    const std::string findings = loaded.as_string();
    std::fwrite(findings.data(), 1, findings.size(), stderr);
    const bool session_grouping = engine_options(s).session_grouping;
    for (const auto& rule : loaded.rules) {
        fmt::print("{}\n", rules::explain_rule(*rule, session_grouping));
    }
    return loaded.ok() ? 0 : 1;
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
