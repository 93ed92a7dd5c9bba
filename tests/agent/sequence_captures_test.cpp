// Elastic's EQL sequence rules on real captures (samples/README.md, "Issue 25"): each capture
// raises its rule's sequence, as Kibana writes it (a building block per event, then the shell),
// and no other rule's; through tail's state file a sequence cut by a restart still completes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <variant>

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
        return scanwatch::test::replay_between_restarts(log, set.rules, restore, save);
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

TEST_CASE("Golden: a process and network sequence on a real capture: download, chmod, run",
          "[golden][sequence]") {
    // A rule of our own (Elastic's network sequences test Elastic Defend's network actions, or
    // exclude loopback): curl connects, then chmod and the run of a file under /tmp.
    const char* text = R"([rule]
rule_id = "scanwatch-test-download-chmod-run"
name = "Download, chmod and run from /tmp"
type = "eql"
language = "eql"
severity = "high"
risk_score = 73
query = '''
sequence by host.id, user.id with maxspan=30s
  [network where event.action == "connected-to" and process.name in ("curl", "wget") and destination.port != null]
  [process where process.name == "chmod" and process.args like ("/tmp/*", "/var/tmp/*", "/dev/shm/*")]
  [process where process.args like ("/tmp/*", "/var/tmp/*", "/dev/shm/*") and process.name != "chmod"]
'''
)";
    auto loaded = scanwatch::rules::load_rule(text, "download_chmod_run.toml");
    REQUIRE(std::holds_alternative<std::shared_ptr<const scanwatch::rules::RuleDefinition>>(loaded));
    const auto rule = std::get<std::shared_ptr<const scanwatch::rules::RuleDefinition>>(loaded);
    const auto r = scanwatch::test::replay_with_rules({kSamples + "seq_download_exec.enriched.log"}, {rule});
    REQUIRE(r.alerts.size() == 4);
    const auto first = nlohmann::json::parse(r.alerts[0]);
    CHECK(first.at("event").at("category") == nlohmann::json::array({"network"}));
    CHECK(first.at("destination").at("ip") == "127.0.0.1");
    CHECK(first.at("destination").at("port") == 18082);
    CHECK(nlohmann::json::parse(r.alerts[1]).at("process").at("name") == "chmod");
    CHECK(nlohmann::json::parse(r.alerts[2]).at("process").at("name") == "payload.sh");
    const auto shell = nlohmann::json::parse(r.alerts[3]);
    CHECK_FALSE(shell.contains("destination"));  // only the first event has one
    CHECK(shell.at("user").at("id") == "0");
    check_golden("seq_download_exec.enriched.log.alerts.ndjson", r.alerts);
    // Without the network event (an exec-only capture) there is no sequence.
    const auto no_net = scanwatch::test::replay_with_rules({kSamples + "seq_suid_su.enriched.log"}, {rule});
    CHECK(no_net.alerts.empty());
}
