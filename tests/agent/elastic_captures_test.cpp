#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "rules/rule_check.h"
#include "rules/rule_files.h"
#include "agent/sources/state_file.h"
#include "tests/agent/golden_files.h"
#include "tests/agent/replay_harness.h"
#include "tests/rules/test_files.h"

using scanwatch::test::check_golden;

namespace {

const std::string kSamples = SCANWATCH_SOURCE_DIR "/samples/";
const std::string kRules = SCANWATCH_SOURCE_DIR "/tests/elastic-rules/linux";


struct Capture {
    const char* sample;   // under samples/
    const char* rule_id;  // the rule of tests/elastic-rules/linux that detects it
    std::size_t alerts;   // reviewed: alerts of that rule (and of no other)
};

// samples/README.md, "Issue 14": one behaviour per capture.
constexpr Capture kCaptures[] = {
    {"elastic_dmesg_clear.enriched.log", "2724808c-ba5d-48b2-86d2-0002103df753", 1},
    {"elastic_shred_remove.enriched.log", "a1329140-8de3-4445-9f87-908fb6d824f4", 1},
    {"elastic_openssl_passwd.enriched.log", "f4b857b3-faef-430d-b420-90be48647f00", 1},
    {"elastic_nohup_setsid.enriched.log", "9dc1d59c-fc5f-4a73-8ca6-1473eabdff2a", 2},  // new_terms
    {"elastic_nsenter_pid1.enriched.log", "75f9b95f-370b-4ff3-a84c-66d9ec0b84eb", 1},  // query
    {"elastic_chattr_immutable.enriched.log", "968ccab9-da51-4a87-9ce2-d3c9782fd759", 2},
    {"elastic_unshare_ns.enriched.log", "d00f33e7-b57d-4023-9952-2db91b1767c4", 1},
    {"elastic_usermod_uid0.enriched.log", "494ebba4-ecb7-4be4-8c6f-654c686549ad", 1},
    {"elastic_gpasswd_sudo.enriched.log", "43d6ec12-2b1c-47b5-8f35-e9de65551d3b", 1},
    {"elastic_proc_maps_read.enriched.log", "2f95540c-923e-4f57-9dae-de30169c68b9", 1},
    {"elastic_sudo_probe.enriched.log", "92b11a06-57ab-4f6d-a18b-fb7fdf3cc63f", 1},
    {"elastic_history_delete.enriched.log", "7bcbb3ac-e533-41ad-a612-d6c3bf666aba", 1},
};

std::vector<std::shared_ptr<const scanwatch::rules::RuleDefinition>> elastic_rules() {
    auto set = scanwatch::rules::load_rules(kRules);
    for (const auto& e : set.errors) UNSCOPED_INFO(e.to_string());
    for (const auto& e : set.skipped) UNSCOPED_INFO("skipped: " << e.to_string());
    REQUIRE(set.ok());
    REQUIRE(set.skipped.empty());
    return set.rules;
}

}  // namespace

TEST_CASE("Golden: each issue-14 capture raises its Elastic rule's alert, and no other rule's",
          "[golden][elastic]") {
    const auto rules = elastic_rules();
    REQUIRE(rules.size() == std::size(kCaptures));
    for (const auto& rule : rules) {
        INFO(rule->source);
        CHECK(scanwatch::rules::can_fire(*rule));
    }
    for (const auto& c : kCaptures) {
        SECTION(c.sample) {
            const auto r = scanwatch::test::replay_with_rules({kSamples + c.sample}, rules);
            CHECK(r.alerts.size() == c.alerts);
            for (const auto& line : r.alerts) {
                const auto alert = nlohmann::json::parse(line);
                CHECK(alert.at("kibana.alert.rule.rule_id") == c.rule_id);
                CHECK(alert.at("event").at("kind") == "signal");
                CHECK(alert.at("kibana.alert.original_time") == alert.at("@timestamp"));
            }
            check_golden(std::string(c.sample) + ".alerts.ndjson", r.alerts);
        }
    }
}

TEST_CASE("Golden: every rule of tests/elastic-rules/linux has a capture", "[golden][elastic]") {
    for (const auto& rule : elastic_rules()) {
        const bool covered = std::any_of(std::begin(kCaptures), std::end(kCaptures),
                                         [&](const Capture& c) { return rule->rule_id == c.rule_id; });
        INFO(rule->source);
        CHECK(covered);
    }
}

TEST_CASE("New terms: the history goes through tail's state file; a restart does not make old "
          "combinations new",
          "[golden][elastic][state]") {
    auto set = scanwatch::rules::load_rules(
        kRules + "/execution_setsid_nohup_disown_direct_process_execution.toml");
    REQUIRE(set.ok());
    const std::string sample = kSamples + "elastic_nohup_setsid.enriched.log";
    const auto run = [&](const scanwatch::agent::PipelineState* restore,
                         scanwatch::agent::PipelineState* save) {
        return scanwatch::test::replay_between_restarts(sample, set.rules, restore, save);
    };
    scanwatch::agent::PipelineState saved;
    CHECK(run(nullptr, &saved) == 2);
    scanwatch::test::TempDir dir;
    scanwatch::agent::TailState tail;
    tail.checkpoint.pipeline = saved;
    std::string error;
    REQUIRE(scanwatch::agent::write_state(dir.path() + "/state", tail, error));
    const auto read = scanwatch::agent::read_state(dir.path() + "/state");
    REQUIRE(read);
    CHECK(run(&read->checkpoint.pipeline, nullptr) == 0);  // seen before the restart
    CHECK(run(nullptr, nullptr) == 2);                      // without the state: new again
}
