// Golden replays of the ES|QL captures (samples/README.md, CAPTURE_SET=esql) with Elastic's
// ES|QL rules as Elastic ships them (tests/elastic-rules/esql/).

#include <catch2/catch.hpp>

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "rules/rule_check.h"
#include "rules/rule_files.h"
#include "tests/agent/golden_files.h"
#include "tests/agent/replay_harness.h"

using scanwatch::test::check_golden;

namespace {

const std::string kSamples = SCANWATCH_SOURCE_DIR "/samples/";
const std::string kRules = SCANWATCH_SOURCE_DIR "/tests/elastic-rules/esql";

constexpr const char* kPortScan = "6b341d03-1d63-41ac-841a-2009c86959ca";
constexpr const char* kSubnetScan = "860f2a03-a1cf-48d6-a674-c6d62ae608a1";
constexpr const char* kEgress = "1fa350e0-0aa2-4055-bf8f-ab8b59233e59";
constexpr const char* kGrep = "b8e4c2a1-7f3d-4e9b-8c5a-1d0e6f2a4b8c";
constexpr const char* kSu = "835c0622-114e-40b5-a346-f843ea5d01f1";
constexpr const char* kBase64 = "c5637438-e32d-4bb3-bc13-bd7932b3289f";
constexpr const char* kPadding = "5a876e0d-d39a-49b9-8ad8-19c9b622203b";

struct Capture {
    const char* sample;
    std::map<std::string, std::size_t> alerts;  // reviewed: alerts per rule_id, and no other
};

// The grep rule runs every 5 minutes over 9: the second run's window still holds the three
// greps and alerts again, as Kibana does for an aggregating query (docs/rules.md, "ES|QL").
const Capture kCaptures[] = {
    {"esql_port_scan.enriched.log", {{kPortScan, 1}}},  // nmap -sT 0.0.0.0 -p1-1000
    {"net_nmap_sweep.enriched.log", {{kSubnetScan, 1}}},  // 254 hosts of 127.0.60.0/24
    {"net_nmap_ports.enriched.log", {}},  // 127.0.0.1: the port-scan rule leaves loopback out
    {"esql_tmp_egress.enriched.log", {{kEgress, 1}}},
    {"esql_exec.enriched.log", {{kGrep, 2}, {kSu, 1}, {kBase64, 1}, {kPadding, 1}}},
};

}  // namespace

TEST_CASE("Golden: Elastic's ES|QL rules fire unmodified on the ES|QL captures", "[golden][esql]") {
    auto set = scanwatch::rules::load_rules(kRules);
    for (const auto& e : set.errors) UNSCOPED_INFO(e.to_string());
    REQUIRE(set.ok());
    REQUIRE(set.skipped.empty());
    REQUIRE(set.rules.size() == 7);
    for (const auto& rule : set.rules) {
        INFO(rule->source);
        CHECK(scanwatch::rules::can_fire(*rule));
    }
    for (const auto& c : kCaptures) {
        SECTION(c.sample) {
            const auto r = scanwatch::test::replay_with_rules({kSamples + c.sample}, set.rules);
            std::map<std::string, std::size_t> by_rule;
            for (const auto& line : r.alerts) {
                const auto alert = nlohmann::json::parse(line);
                ++by_rule[alert.at("kibana.alert.rule.rule_id").get<std::string>()];
                CHECK(alert.at("kibana.alert.rule.type") == "esql");
                CHECK(alert.at("event").at("kind") == "signal");
            }
            CHECK(by_rule == c.alerts);
            check_golden(std::string(c.sample) + ".esql.alerts.ndjson", r.alerts);
        }
    }
}
