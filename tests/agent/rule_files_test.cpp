#include <catch2/catch.hpp>

#include <regex>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "rules/exceptions.h"
#include "rules/rule_files.h"
#include "tests/agent/replay_harness.h"
#include "tests/rules/test_files.h"

using scanwatch::rules::EngineOptions;
using scanwatch::rules::Evaluation;
using scanwatch::rules::NameMatch;
using scanwatch::rules::RuleSet;
using scanwatch::test::builtin_rule;
using scanwatch::test::replay_paths;
using scanwatch::test::replay_with_rules;
using scanwatch::test::slurp;
using scanwatch::test::TempDir;

namespace {

const std::string kSamples = SCANWATCH_SOURCE_DIR "/samples/";
const std::string kElasticV4 = SCANWATCH_SOURCE_DIR "/tests/elastic-rules/discovery_ping_sweep_detected.v4.toml";
const std::string kSeedId = "03c23d45-d3cb-4ad4-ab5d-b361ffe8724a";
const std::string kVariantId = "5c0f2f4e-7d1a-4b7e-9a53-6c1f0e5a0050";

// The same detection with a lower bar and two more tools, side by side with the seed.
const std::string kVariant = R"TOML([metadata]
creation_date = "2026/11/27"

[rule]
author = ["scanwatch tests"]
description = "Network probing utilities or scanners under one parent with 50 distinct arguments."
from = "now-9m"
interval = "5m"
language = "kuery"
name = "Network Scan Executed From Host (50 values)"
risk_score = 21
rule_id = "5c0f2f4e-7d1a-4b7e-9a53-6c1f0e5a0050"
severity = "low"
type = "threshold"
query = '''
event.category:process and host.os.type:linux and event.type:start and
process.name:(ping or nping or hping or hping2 or hping3 or nc or ncat or netcat or socat or nmap or masscan)
'''

[rule.threshold]
field = ["host.id", "process.parent.entity_id", "process.executable"]
value = 1

[[rule.threshold.cardinality]]
field = "process.args"
value = 50
)TOML";

// Every sample: the *.log files and the rotated set.
std::vector<std::string> all_samples() {
    std::vector<std::string> out;
    for (const auto& entry : std::filesystem::directory_iterator(kSamples)) {
        if (entry.path().extension() == ".log") out.push_back(entry.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    out.push_back("rotated");
    return out;
}

// The alert with the value of scanwatch.rule_source emptied (paths hold no '"').
std::string blank_rule_source(std::string alert) {
    const std::string key = "\"rule_source\":\"";
    const auto begin = alert.find(key);
    if (begin == std::string::npos) return alert;
    const auto value = begin + key.size();
    alert.erase(value, alert.find('"', value) - value);
    return alert;
}

std::size_t count_for(const std::vector<std::string>& alerts, const std::string& rule_id) {
    const std::string needle = "\"kibana.alert.rule.rule_id\":\"" + rule_id + "\"";
    return static_cast<std::size_t>(std::count_if(alerts.begin(), alerts.end(), [&](const std::string& a) {
        return a.find(needle) != std::string::npos;
    }));
}

// The number after "key": in a JSON line (first occurrence), or -1.
long long number_after(const std::string& json, const std::string& key) {
    const auto at = json.find("\"" + key + "\":");
    if (at == std::string::npos) return -1;
    return std::stoll(json.substr(at + key.size() + 3));
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("Rule files: Elastic's v4 file, loaded unmodified, alerts exactly like the built-in rule", "[rule-files]") {
    const RuleSet set = scanwatch::rules::load_rules(kElasticV4);
    REQUIRE(set.ok());
    REQUIRE(set.rules.size() == 1);
    for (NameMatch mode : {NameMatch::any, NameMatch::comm}) {
        EngineOptions engine;
        engine.name_match = mode;
        for (const auto& sample : all_samples()) {
            INFO(sample << (mode == NameMatch::any ? " (any)" : " (comm)"));
            const auto from_file = replay_with_rules({kSamples + sample}, set.rules, engine);
            const auto builtin = replay_paths({kSamples + sample}, mode);
            REQUIRE(from_file.alerts.size() == builtin.alerts.size());
            for (std::size_t i = 0; i < builtin.alerts.size(); ++i) {
                CHECK(contains(from_file.alerts[i], "\"rule_source\":\"" + kElasticV4 + "\""));
                CHECK(blank_rule_source(from_file.alerts[i]) == blank_rule_source(builtin.alerts[i]));
            }
        }
    }
    // The loop did compare alerts: ping_sweep has one.
    CHECK(replay_with_rules({kSamples + "ping_sweep.enriched.log"}, set.rules).alerts.size() == 1);
}

TEST_CASE("Rule files: two rules from a folder each alert on their own", "[rule-files]") {
    TempDir dir;
    dir.write("10-seed.toml", slurp(kElasticV4));
    dir.write("20-variant.toml", kVariant);
    const RuleSet set = scanwatch::rules::load_rules(dir.path());
    REQUIRE(set.ok());
    REQUIRE(set.rules.size() == 2);
    CHECK(set.rules[0]->rule_id == kSeedId);
    CHECK(set.rules[1]->rule_id == kVariantId);

    // The variant's events are spent at each alert, and the rest of a scan can reach 50 again:
    // 96 pings give 3 + 47 targets = 50, then 3 + the other 49 = 52.
    SECTION("99 distinct values: only the variant's 50 is reached, twice") {
        const auto r = replay_with_rules({kSamples + "ping_99_distinct.enriched.log"}, set.rules);
        CHECK(count_for(r.alerts, kSeedId) == 0);
        REQUIRE(count_for(r.alerts, kVariantId) == 2);
        CHECK(number_after(r.alerts[0], "count") == 47);
        CHECK(number_after(r.alerts[1], "count") == 47);
        CHECK(contains(r.alerts[0], "\"cardinality\":[{\"field\":\"process.args\",\"value\":50}]"));
        CHECK(contains(r.alerts[0], "\"rule_source\":\"" + dir.path() + "/20-variant.toml\""));
    }
    SECTION("a sweep of 120: both rules, each on its own count") {
        const auto r = replay_with_rules({kSamples + "ping_sweep.enriched.log"}, set.rules);
        REQUIRE(r.alerts.size() == 3);
        // ping -c 1 -W 1: 4 + 46 targets = 50 (twice for the variant), 4 + 96 = 100 for the seed.
        CHECK(count_for({r.alerts[0]}, kVariantId) == 1);
        CHECK(number_after(r.alerts[0], "count") == 46);
        CHECK(count_for({r.alerts[1]}, kVariantId) == 1);
        CHECK(number_after(r.alerts[1], "count") == 46);
        CHECK(count_for({r.alerts[2]}, kSeedId) == 1);
        CHECK(number_after(r.alerts[2], "count") == 96);
        // The seed alerts as it does alone.
        CHECK(blank_rule_source(r.alerts[2]) == blank_rule_source(replay_paths({kSamples + "ping_sweep.enriched.log"}).alerts[0]));
        // Both rules report in the stats, each with its own counters.
        CHECK(contains(r.stats, "\"rule_id\":\"" + kSeedId + "\""));
        CHECK(contains(r.stats, "\"rule_id\":\"" + kVariantId + "\""));
    }
    SECTION("ordinary commands: neither") {
        CHECK(replay_with_rules({kSamples + "noise.enriched.log"}, set.rules).alerts.empty());
    }
}

TEST_CASE("Rule files: an exception on the parent executable suppresses the xargs sweep only", "[rule-files]") {
    TempDir dir;
    const std::string path = dir.write("exceptions.toml", R"([[exception]]
description = "parallel checks run from xargs"
rule_id = "03c23d45-d3cb-4ad4-ab5d-b361ffe8724a"
query = 'process.parent.executable:"/usr/bin/xargs"'
)");
    const auto exceptions = scanwatch::rules::load_exceptions_file(path);
    REQUIRE(exceptions.ok());
    const auto with = scanwatch::rules::with_exceptions({builtin_rule()}, exceptions.exceptions);
    REQUIRE(with[0]->exceptions.size() == 1);

    for (Evaluation mode : {Evaluation::streaming, Evaluation::scheduled}) {
        INFO(scanwatch::rules::evaluation_name(mode));
        EngineOptions engine;
        engine.evaluation = mode;
        const auto xargs = replay_with_rules({kSamples + "xargs_parallel_ping.enriched.log"}, with, engine);
        CHECK(xargs.alerts.empty());
        // The 150 pings matched the query and the exception; the 450 failed execve of xargs did not match.
        CHECK(number_after(xargs.stats, "matched") == 150);
        CHECK(number_after(xargs.stats, "excepted") == 150);
        CHECK(number_after(xargs.stats, "alerts") == 0);
        // Without the exception the same file alerts.
        CHECK(replay_with_rules({kSamples + "xargs_parallel_ping.enriched.log"}, {builtin_rule()}, engine)
                  .alerts.size() == 1);

        // ping_sweep's parent is a bash subshell that never exec'd: no parent executable, no exception.
        const auto sweep = replay_with_rules({kSamples + "ping_sweep.enriched.log"}, with, engine);
        CHECK(sweep.alerts.size() == 1);
        CHECK(number_after(sweep.stats, "excepted") == 0);
    }

    SECTION("the same exception inside the rule file") {
        std::string text = slurp(kElasticV4);
        text += "\n[[rule.exceptions]]\nquery = 'process.parent.executable:\"/usr/bin/xargs\"'\n";
        const auto rule = dir.write("seed-with-exception.toml", text);
        const RuleSet set = scanwatch::rules::load_rules(rule);
        REQUIRE(set.ok());
        CHECK(replay_with_rules({kSamples + "xargs_parallel_ping.enriched.log"}, set.rules).alerts.empty());
        CHECK(replay_with_rules({kSamples + "ping_sweep.enriched.log"}, set.rules).alerts.size() == 1);
    }
}

// Every sample was captured within one 5-minute interval (21:03 to 21:05 UTC on 2026-11-27), so
// Kibana's run at 21:05:00 sees each scan whole: the alert comes at the run time, with the count
// and cardinality of every event, where streaming alerts at the 100th distinct value.
TEST_CASE("Rule files: scheduled mode on the samples alerts like Kibana's runs", "[rule-files]") {
    EngineOptions scheduled;
    scheduled.evaluation = Evaluation::scheduled;

    SECTION("ping_sweep: one alert at the run, the whole sweep counted") {
        const auto streaming = replay_paths({kSamples + "ping_sweep.enriched.log"});
        const auto r = replay_with_rules({kSamples + "ping_sweep.enriched.log"}, {builtin_rule()}, scheduled);
        REQUIRE(streaming.alerts.size() == 1);
        REQUIRE(r.alerts.size() == 1);
        const std::string& s = streaming.alerts[0];
        const std::string& a = r.alerts[0];
        CHECK(contains(s, "\"@timestamp\":\"2026-11-27T21:03:36.826Z\""));  // the crossing event
        CHECK(contains(a, "\"@timestamp\":\"2026-11-27T21:05:00.000Z\""));  // the run
        CHECK(number_after(s, "count") == 96);
        CHECK(number_after(a, "count") == 120);
        CHECK(contains(s, "\"field\":\"process.args\",\"value\":100}"));
        CHECK(contains(a, "\"field\":\"process.args\",\"value\":124}"));
        // Both start at the first ping.
        CHECK(contains(s, "\"from\":\"2026-11-27T21:03:36.574Z\""));
        CHECK(contains(a, "\"from\":\"2026-11-27T21:03:36.574Z\""));
        CHECK(contains(a, "ran 120 times"));
    }
    SECTION("multihost: both hosts alert in the same run, in the order of their terms") {
        const auto r = replay_with_rules({kSamples + "multihost.node.log"}, {builtin_rule()}, scheduled);
        REQUIRE(r.alerts.size() == 2);
        CHECK(contains(r.alerts[0], "\"host\":{\"id\":\"scanhost-a\""));
        CHECK(contains(r.alerts[1], "\"host\":{\"id\":\"scanhost-b\""));
        for (const auto& a : r.alerts) {
            CHECK(contains(a, "\"@timestamp\":\"2026-11-27T21:05:00.000Z\""));
            CHECK(number_after(a, "count") == 120);
        }
    }
    SECTION("every sample: as many alerts as streaming, at the run time") {
        for (const auto& sample : all_samples()) {
            INFO(sample);
            const auto streaming = replay_paths({kSamples + sample});
            const auto r = replay_with_rules({kSamples + sample}, {builtin_rule()}, scheduled);
            // Scheduled hardened groups by session alone (docs/detection.md): a root loop that
            // writes its loginuid per exec is caught by streaming's parent grouping only.
            const bool session_per_exec = sample == "loginuid_per_target_ping.enriched.log";
            CHECK(r.alerts.size() == (session_per_exec ? 0 : streaming.alerts.size()));
            // Kibana's runs fall on whole 5-minute marks of event time.
            const std::regex run_time("\"@timestamp\":\"2026-\\d\\d-\\d\\dT\\d\\d:\\d[05]:00\\.000Z\"");
            for (const auto& a : r.alerts) CHECK(std::regex_search(a, run_time));
        }
    }
}
