// Golden replays of the network captures (samples/README.md, CAPTURE_SET=network) with every
// built-in rule, in the hardened (default) and elastic profiles.

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include "rules/rule_loader.h"
#include "tests/agent/golden_files.h"
#include "tests/agent/replay_harness.h"

using scanwatch::rules::NameMatch;

namespace {

const std::string kSamples = SCANWATCH_SOURCE_DIR "/samples/";

constexpr const char* kPortScan = "ef8c9193-0ebd-4305-bb76-d76a916f8187";
constexpr const char* kHostSweep = "100739c9-bd25-450c-85ee-0ce2c72a88d4";
constexpr const char* kRawSocket = "30834ca9-3c70-4191-8fd0-eba79efd9e0d";

struct NetSample {
    const char* path;
    const char* rule_id;  // the rule every alert comes from (nullptr: a control, no alert)
    std::size_t hardened_alerts;
    std::size_t elastic_alerts;
};

// Reviewed counts (docs/detection.md, "Network scan rules"): a threshold group alerts at 100
// distinct values and is then spent up to the alert's millisecond, connects of that same
// millisecond included, so a fast 1,000-port scan gives 4-5 alerts rather than 10.
constexpr NetSample kNetSamples[] = {
    {"net_nc_ports.enriched.log", kPortScan, 4, 4},
    {"net_nc_ports.raw.log", kPortScan, 5, 5},
    {"net_nmap_ports.enriched.log", kPortScan, 5, 5},
    {"net_nmap_sweep.enriched.log", kHostSweep, 2, 2},
    {"net_python_ports.enriched.log", kPortScan, 5, 5},
    {"net_python_hosts.enriched.log", kHostSweep, 1, 1},
    // A process per connection: only the hardened profile's session grouping sees them.
    {"net_bash_ports.enriched.log", kPortScan, 3, 0},
    {"net_bash_hosts.enriched.log", kHostSweep, 2, 0},
    {"net_curl_ports.enriched.log", kPortScan, 3, 0},
    {"net_curl_hosts.enriched.log", kHostSweep, 2, 0},
    // nmap -sS: no connect at all; its raw IP socket and its packet socket.
    {"net_nmap_syn.enriched.log", kRawSocket, 2, 2},
    // Controls.
    {"net_pooled_client.enriched.log", nullptr, 0, 0},
    {"net_monitor.enriched.log", nullptr, 0, 0},
    {"net_stub_resolver.enriched.log", nullptr, 0, 0},
    {"net_curl_same.enriched.log", nullptr, 0, 0},
    {"net_ping.enriched.log", nullptr, 0, 0},  // ping's raw ICMP socket is excepted
};

std::vector<std::shared_ptr<const scanwatch::rules::RuleDefinition>> builtin_rules() {
    std::vector<std::shared_ptr<const scanwatch::rules::RuleDefinition>> out;
    for (const auto text : scanwatch::rules::builtin_rule_texts()) {
        out.push_back(scanwatch::rules::builtin_rule(text));
    }
    return out;
}

scanwatch::test::ReplayResult replay_profile(const std::string& path, bool hardened,
                                             bool with_events = false) {
    scanwatch::rules::EngineOptions o;
    o.session_grouping = hardened;
    o.name_match = hardened ? NameMatch::any : NameMatch::comm;
    return scanwatch::test::replay_with_rules({path}, builtin_rules(), o, with_events);
}

std::size_t count_rule(const std::vector<std::string>& alerts, const char* rule_id) {
    std::size_t n = 0;
    for (const auto& a : alerts) {
        if (a.find(std::string("\"kibana.alert.rule.rule_id\":\"") + rule_id + "\"") !=
            std::string::npos) {
            ++n;
        }
    }
    return n;
}

}  // namespace

TEST_CASE("Golden: network scans alert, controls stay quiet, in both profiles",
          "[golden][network]") {
    for (const auto& s : kNetSamples) {
        SECTION(s.path) {
            const auto hardened = replay_profile(kSamples + s.path, true);
            CHECK(hardened.alerts.size() == s.hardened_alerts);
            if (s.rule_id != nullptr) CHECK(count_rule(hardened.alerts, s.rule_id) == s.hardened_alerts);
            scanwatch::test::check_golden(std::string(s.path) + ".alerts.ndjson", hardened.alerts);
            const auto elastic = replay_profile(kSamples + s.path, false);
            CHECK(elastic.alerts.size() == s.elastic_alerts);
            if (s.rule_id != nullptr) CHECK(count_rule(elastic.alerts, s.rule_id) == s.elastic_alerts);
            scanwatch::test::check_golden(std::string(s.path) + ".elastic.alerts.ndjson",
                                          elastic.alerts);
        }
    }
}

TEST_CASE("Golden: network ECS events", "[golden][network]") {
    for (const char* name : {"net_nmap_syn.enriched.log", "net_ping.enriched.log"}) {
        SECTION(name) {
            const auto r = replay_profile(kSamples + name, true, true);
            scanwatch::test::check_golden(std::string(name) + ".events.ndjson", r.events);
        }
    }
}

TEST_CASE("Network: the exec rule alone passes no network record to auparse", "[network]") {
    const auto exec_only = scanwatch::test::replay_paths({kSamples + "net_nc_ports.enriched.log"});
    CHECK(exec_only.stats.find("\"network_syscalls\":0,") != std::string::npos);
    CHECK(exec_only.stats.find("\"connects\":0,") != std::string::npos);
    const auto all = replay_profile(kSamples + "net_nc_ports.enriched.log", true);
    CHECK(all.stats.find("\"connects\":1000,") != std::string::npos);
}

TEST_CASE("Network: an exceptions file by process.executable silences a scraper's sweep",
          "[golden][network]") {
    const std::string path = "/tmp/scanwatch-net-exceptions-test.toml";
    {
        std::ofstream out(path);
        out << "[[exception]]\n"
               "description = \"metrics scraper\"\n"
               "rule_id = \"100739c9-bd25-450c-85ee-0ce2c72a88d4\"\n"
               "query = 'process.executable:(/usr/bin/prometheus or /usr/bin/python3.11)'\n";
    }
    const auto loaded = scanwatch::rules::load_rule_sources({{}, {path}});
    std::remove(path.c_str());
    REQUIRE(loaded.rules.size() == 4);
    scanwatch::rules::EngineOptions o;
    o.session_grouping = true;
    const auto r = scanwatch::test::replay_with_rules(
        {kSamples + "net_python_hosts.enriched.log"}, loaded.rules, o);
    CHECK(r.alerts.empty());
    CHECK(r.stats.find("\"excepted\":254") != std::string::npos);
    // The port scan rule is not named: python's port scan still alerts.
    const auto ports = scanwatch::test::replay_with_rules(
        {kSamples + "net_python_ports.enriched.log"}, loaded.rules, o);
    CHECK(count_rule(ports.alerts, kPortScan) == 5);
}
