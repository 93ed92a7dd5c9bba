// Elastic's EQL sequence rules on real captures (samples/README.md, "Issue 25"): each capture
// raises its rule's sequence, as Kibana writes it (a building block per event, then the shell),
// and no other rule's; through tail's state file a sequence cut by a restart still completes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/sources/state_file.h"
#include "rules/rule_check.h"
#include "rules/rule_files.h"
#include "tests/agent/golden_files.h"
#include "tests/agent/replay_harness.h"
#include "tests/rules/test_files.h"

using scanwatch::test::check_golden;

namespace {

const std::string kSamples = SCANWATCH_SOURCE_DIR "/samples/";
const std::string kRules = SCANWATCH_SOURCE_DIR "/tests/elastic-rules/sequences";

struct Capture {
    const char* sample;
    std::size_t events;  // reviewed: events of the one sequence
};

constexpr Capture kCaptures[] = {
    // git clone --recursive http://127.0.0.1/...; its post-checkout hook is a dash script (the
    // exe's basename matches "dash" under --name-match any; comm is post-checkout).
    {"seq_git_clone_hook.enriched.log", 2},
    {"seq_suid_su.enriched.log", 2},
    {"seq_unshare_root.enriched.log", 2},
};

std::vector<std::shared_ptr<const scanwatch::rules::RuleDefinition>> sequence_rules() {
    auto set = scanwatch::rules::load_rules(kRules);
    for (const auto& e : set.errors) UNSCOPED_INFO(e.to_string());
    for (const auto& e : set.skipped) UNSCOPED_INFO("skipped: " << e.to_string());
    REQUIRE(set.ok());
    REQUIRE(set.skipped.empty());
    return set.rules;
}

std::string rule_id_of(const std::vector<std::shared_ptr<const scanwatch::rules::RuleDefinition>>& rules,
                       const std::string& file_part) {
    for (const auto& r : rules) {
        if (r->source.find(file_part) != std::string::npos) return r->rule_id;
    }
    FAIL("no rule file " << file_part);
    return {};
}

}  // namespace

TEST_CASE("Golden: each sequence capture raises its Elastic sequence rule's alerts, and no "
          "other rule's",
          "[golden][elastic][sequence]") {
    const auto rules = sequence_rules();
    REQUIRE(rules.size() == std::size(kCaptures));
    const std::string ids[] = {rule_id_of(rules, "execution_git_exploit_cve_2025_48384"),
                               rule_id_of(rules, "suspicious_suid_binary_execution_auditd_sequence"),
                               rule_id_of(rules, "unshare_to_root_process_auditd_sequence")};
    for (const auto& rule : rules) {
        INFO(rule->source);
        REQUIRE(rule->eql_sequence);
        CHECK(scanwatch::rules::can_fire(*rule));
    }
    for (std::size_t i = 0; i < std::size(kCaptures); ++i) {
        const Capture& c = kCaptures[i];
        SECTION(c.sample) {
            const auto r = scanwatch::test::replay_with_rules({kSamples + c.sample}, rules);
            REQUIRE(r.alerts.size() == c.events + 1);
            const auto shell = nlohmann::json::parse(r.alerts.back());
            const std::string group = shell.at("kibana.alert.group.id");
            for (std::size_t k = 0; k < r.alerts.size(); ++k) {
                const auto alert = nlohmann::json::parse(r.alerts[k]);
                CHECK(alert.at("kibana.alert.rule.rule_id") == ids[i]);
                CHECK(alert.at("event").at("kind") == "signal");
                CHECK(alert.at("kibana.alert.group.id") == group);
                if (k + 1 < r.alerts.size()) {
                    CHECK(alert.at("kibana.alert.building_block_type") == "default");
                    CHECK(alert.at("kibana.alert.group.index") == k);
                    CHECK(alert.at("kibana.alert.depth") == 1);
                }
            }
            CHECK_FALSE(shell.contains("kibana.alert.building_block_type"));
            CHECK(shell.at("kibana.alert.depth") == 2);
            CHECK(shell.at("kibana.alert.ancestors").size() == 2 * c.events);
            CHECK(shell.at("host").at("id") == "sample-host-id");
            check_golden(std::string(c.sample) + ".alerts.ndjson", r.alerts);
        }
    }
}

TEST_CASE("Sequence: a partial sequence goes through tail's state file", "[golden][elastic][sequence][state]") {
    auto set = scanwatch::rules::load_rules(
        kRules + "/privilege_escalation_unshare_to_root_process_auditd_sequence.toml");
    REQUIRE(set.ok());
    // The capture cut after the unshare exec: the first run holds the partial sequence, the
    // second (restored from the state file) sees the root shell and alerts.
    std::ifstream in(kSamples + "seq_unshare_root.enriched.log");
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto cut = all.find("comm=\"true\"");
    REQUIRE(cut != std::string::npos);
    const auto line_end = all.rfind('\n', cut);
    scanwatch::test::TempDir dir;
    const std::string first = dir.path() + "/first.log";
    const std::string second = dir.path() + "/second.log";
    std::ofstream(first) << all.substr(0, line_end + 1);
    std::ofstream(second) << all.substr(line_end + 1);
    const auto run = [&](const std::string& log, const scanwatch::agent::PipelineState* restore,
                         scanwatch::agent::PipelineState* save) {
        scanwatch::agent::PipelineOptions options;
        options.normalizer.host_id = "sample-host-id";
        options.rules = set.rules;
        std::FILE* devnull = std::fopen("/dev/null", "w");
        scanwatch::agent::Diagnostics diagnostics(devnull);
        std::size_t alerts = 0;
        scanwatch::agent::Pipeline pipeline(
            options, [&](const scanwatch::rules::Alert&) { ++alerts; }, {}, diagnostics);
        if (restore != nullptr) CHECK(pipeline.restore_state(*restore).empty());
        scanwatch::agent::replay({log}, pipeline, [](const std::string&) {});
        if (save != nullptr) *save = pipeline.save_state();
        std::fclose(devnull);
        return alerts;
    };
    scanwatch::agent::PipelineState saved;
    CHECK(run(first, nullptr, &saved) == 0);
    scanwatch::agent::TailState tail;
    tail.checkpoint.pipeline = saved;
    std::string error;
    REQUIRE(scanwatch::agent::write_state(dir.path() + "/state", tail, error));
    const auto read = scanwatch::agent::read_state(dir.path() + "/state");
    REQUIRE(read);
    CHECK(run(second, &read->checkpoint.pipeline, nullptr) == 3);
    CHECK(run(second, nullptr, nullptr) == 0);  // without the state: nothing to complete
}
