// Issue 25: captures of behaviours Elastic's rules detect once other agents' exec names match
// scanwatch's `executed` (--exec-action any, the hardened default), and of the rule the KQL
// parser used to refuse (samples/README.md, "Issue 25"). Each replays with the whole folder
// tests/elastic-rules/ruleset as rules, aliased as the agent loads them, and must raise exactly
// the reviewed alerts; without the alias none of them fires except the KQL one.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/rule_check.h"
#include "rules/rule_files.h"
#include "rules/ruleset/exec_alias.h"
#include "tests/agent/golden_files.h"
#include "tests/agent/replay_harness.h"

using scanwatch::test::check_golden;

namespace {

const std::string kSamples = SCANWATCH_SOURCE_DIR "/samples/";
const std::string kRules = SCANWATCH_SOURCE_DIR "/tests/elastic-rules/ruleset";
// The rule that lists `executed` itself and was refused by the KQL parser before (its query has
// a value holding a line break, as Kibana reads it).
const std::string kKqlGapRule = "5f0fff18-f340-444b-9a98-c49ade766ff4";

struct Capture {
    const char* sample;                   // under samples/
    std::vector<const char*> rule_ids;    // reviewed: one entry per alert, sorted
};

const std::vector<Capture>& captures() {
    static const std::vector<Capture> list = {
    {"ruleset_chmod_suid.enriched.log", {"8a1b0278-0f9a-487d-96bd-d4833298e87a"}},
    {"ruleset_cloud_creds.enriched.log", {"5f0fff18-f340-444b-9a98-c49ade766ff4", "9a6f5d74-c7e7-4a8b-945e-462c102daee4", "ce73954b-a0a4-4f05-b67b-294c500dac77", "ce73954b-a0a4-4f05-b67b-294c500dac77"}},
    {"ruleset_curl_socks.enriched.log", {"734239fe-eda8-48c0-bca8-9e3dafd81a88"}},
    {"ruleset_discovery.enriched.log", {"3f4d7734-2151-4481-b394-09d7c6c91f75", "90e5976d-ed8c-489a-a293-bfc57ff8ba89", "b81bd314-db5b-4d97-82e8-88e3e5fc9de5", "bf8c007c-7dee-4842-8e9a-ee534c09d205", "e2dc8f8c-5f16-42fa-b49e-0eb8057f7444", "f638a66d-3bbf-46b1-a52c-ef6f39fb6caf"}},
    {"ruleset_dmidecode.enriched.log", {"da0ebebe-5ad3-4277-95e7-889f5a69b959"}},
    {"ruleset_hex_payload.enriched.log", {"0c1e8fda-4f09-451e-bc77-a192b6cbfc32", "0c1e8fda-4f09-451e-bc77-a192b6cbfc32"}},
    {"ruleset_hidden_mkdir.enriched.log", {"b15a15f2-becf-475d-aa69-45c9e0ff1c49"}},
    {"ruleset_hidden_tmp.enriched.log", {"b9666521-4742-49ce-9ddc-b8e84c35acae"}},
    {"ruleset_http_server.enriched.log", {"907a26f5-3eb6-4338-a70e-6c375c1cde8a", "99c2b626-de44-4322-b1f9-157ca408c17e"}},
    {"ruleset_kill_zero.enriched.log", {"f391d3fd-219b-42a3-9ba9-2f66eb0155aa"}},
    {"ruleset_lsmod.enriched.log", {"2d8043ed-5bda-4caf-801c-c1feb7410504"}},
    {"ruleset_mkfifo.enriched.log", {"8167c5ae-3310-439a-8a58-be60f55023d2"}},
    {"ruleset_pam_version.enriched.log", {"135abb91-dcf4-48aa-b81a-5ad036b67c68", "135abb91-dcf4-48aa-b81a-5ad036b67c68"}},
    {"ruleset_passwd_echo.enriched.log", {"79e7291f-9e3b-4a4b-9823-800daa89c8f9"}},
    {"ruleset_rmmod.enriched.log", {"cd66a5af-e34b-4bb0-8931-57d0a043f2ef"}},
    {"ruleset_security_cat.enriched.log", {"7efca3ad-a348-43b2-b544-c93a78a0ef92"}},
    {"ruleset_setcap.enriched.log", {"f18a474c-3632-427f-bcf5-363c994309ee"}},
    {"ruleset_shadow_read.enriched.log", {"9a3a3689-8ed1-4cdb-83fb-9506db54c61f"}},
    {"ruleset_shm_exec.enriched.log", {"3f3f9fe2-d095-11ec-95dc-f661ea17fbce"}},
    {"ruleset_split.enriched.log", {"e302e6c3-448c-4243-8d9b-d41da70db582"}},
    {"ruleset_sudo_list.enriched.log", {"28d39238-0c01-420a-b77a-24e5a7378663"}},
    {"ruleset_suid_find.enriched.log", {"5b06a27f-ad72-4499-91db-0c69667bffa5"}},
    {"ruleset_sysctl_echo.enriched.log", {"3aff6ab1-18bd-427e-9d4c-c5732110c261"}},
    {"ruleset_touch_stomp.enriched.log", {"b0046934-486e-462f-9487-0d4cf9e429c6"}},
    {"ruleset_tty_upgrade.enriched.log", {"84d1f8db-207f-45ab-a578-921d91c23eb2", "d76b02ef-fc95-4001-9297-01cb7412232f"}},
    {"ruleset_vm_fingerprint.enriched.log", {"5b03c9fb-9945-4d2f-9568-fd690fee3fba"}},
    {"ruleset_which_many.enriched.log", {"5b18eef4-842c-4b47-970f-f08d24004bde"}},
    };
    return list;
}

std::vector<std::shared_ptr<const scanwatch::rules::RuleDefinition>> ruleset_rules(
    scanwatch::rules::ExecAction mode) {
    auto set = scanwatch::rules::load_rules(kRules);
    for (const auto& e : set.errors) UNSCOPED_INFO(e.to_string());
    for (const auto& e : set.skipped) UNSCOPED_INFO("skipped: " << e.to_string());
    REQUIRE(set.ok());
    REQUIRE(set.skipped.empty());
    return scanwatch::rules::with_exec_alias(set.rules, mode);
}

std::vector<std::string> alert_rule_ids(const std::vector<std::string>& alerts) {
    std::vector<std::string> ids;
    for (const auto& line : alerts) {
        const auto alert = nlohmann::json::parse(line);
        ids.push_back(alert.at("kibana.alert.rule.rule_id").get<std::string>());
    }
    std::sort(ids.begin(), ids.end());
    return ids;
}

}  // namespace

TEST_CASE("Golden: each issue-25 capture raises its Elastic rules' alerts with the exec alias",
          "[golden][ruleset]") {
    const auto rules = ruleset_rules(scanwatch::rules::ExecAction::any);
    for (const auto& rule : rules) {
        INFO(rule->source);
        CHECK(scanwatch::rules::can_fire(*rule));
    }
    for (const auto& c : captures()) {
        SECTION(c.sample) {
            const auto r = scanwatch::test::replay_with_rules({kSamples + c.sample}, rules);
            CHECK(alert_rule_ids(r.alerts) == std::vector<std::string>(c.rule_ids.begin(), c.rule_ids.end()));
            check_golden(std::string(c.sample) + ".alerts.ndjson", r.alerts);
        }
    }
}

TEST_CASE("Golden: every rule of tests/elastic-rules/ruleset fires on a capture, and only with the alias",
          "[golden][ruleset]") {
    std::set<std::string> fired;
    for (const auto& c : captures()) fired.insert(c.rule_ids.begin(), c.rule_ids.end());
    const auto aliased = ruleset_rules(scanwatch::rules::ExecAction::any);
    CHECK(aliased.size() == fired.size());
    for (const auto& rule : aliased) {
        INFO(rule->source);
        CHECK(fired.count(rule->rule_id) == 1);
        CHECK(rule->exec_alias == (rule->rule_id != kKqlGapRule));
    }
    // Elastic's exact behaviour on auditd data: only the rule that lists executed can fire.
    std::size_t alerts = 0;
    std::vector<std::string> files;
    for (const auto& c : captures()) files.push_back(kSamples + c.sample);
    for (const auto& file : files) {
        const auto r = scanwatch::test::replay_with_rules(
            {file}, ruleset_rules(scanwatch::rules::ExecAction::executed));
        for (const auto& id : alert_rule_ids(r.alerts)) {
            CHECK(id == kKqlGapRule);
            ++alerts;
        }
    }
    CHECK(alerts == 1);
}
