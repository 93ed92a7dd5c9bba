#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "rules/engines/threshold_engine.h"
#include "tests/rules/rule_fixtures.h"

using scanwatch::ProcessEvent;
using namespace scanwatch::rules;
using scanwatch::test::builtin;
using scanwatch::test::ping;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;
constexpr std::int64_t kMinute = 60'000;

std::shared_ptr<const RuleDefinition> with_max_signals(std::uint64_t n) {
    auto copy = std::make_shared<RuleDefinition>(*builtin());
    copy->max_signals = n;
    return copy;
}

// Feeds pings to targets t0..t(n-1), one per second from `start`; returns alerts.
std::vector<Alert> sweep(ThresholdEngine& rule, int n, std::int64_t start = kT0, const std::string& parent = "P1",
                         const std::string& prefix = "10.0.0.") {
    std::vector<Alert> alerts;
    for (int i = 0; i < n; ++i) {
        rule.process(ping(start + i * 1000, prefix + std::to_string(i), parent, static_cast<std::uint64_t>(i)), alerts);
    }
    return alerts;
}

}  // namespace

TEST_CASE("Threshold: 99 distinct arguments do not alert, the 100th does", "[threshold]") {
    ThresholdEngine rule(builtin(), {});
    // "ping", "-c", "1" plus 96 targets = 99 distinct values.
    CHECK(sweep(rule, 96).empty());
    std::vector<Alert> alerts;
    CHECK(rule.count(ping(kT0 + 96'000, "10.0.0.96", "P1", 96), alerts));
    REQUIRE(alerts.size() == 1);
    const Alert& a = alerts[0];
    CHECK(a.cardinality == 100);
    CHECK(a.count == 97);
    CHECK(a.time_ms == kT0 + 96'000);
    CHECK(a.from_ms == kT0);
    CHECK(a.terms == std::vector<std::pair<std::string, std::string>>{
                         {"host.id", "h1"}, {"process.parent.entity_id", "P1"}, {"process.executable", "/usr/bin/ping"}});
    CHECK(a.evidence.first_event.id == "1700000000.000:0");
    CHECK(a.evidence.last_event.id == "1700000096.000:96");
    CHECK(a.evidence.sample_command_lines.front() == "ping -c 1 10.0.0.0");
    CHECK(a.evidence.sample_values.front() == "ping");
    CHECK(rule.counters().alerts == 1);
}

TEST_CASE("Threshold: the window is 9 minutes of event time, both ends included", "[threshold]") {
    ThresholdEngine rule(builtin(), {});
    std::vector<Alert> alerts;
    // 97 values at t0 (3 fixed + 94 targets... spread over one event each), all at t0.
    for (int i = 0; i < 96; ++i) rule.process(ping(kT0, "10.0.0." + std::to_string(i)), alerts);
    REQUIRE(alerts.empty());  // 99 distinct
    SECTION("exactly 9 minutes later still counts t0") {
        rule.process(ping(kT0 + 9 * kMinute, "10.0.1.1"), alerts);
        CHECK(alerts.size() == 1);
    }
    SECTION("1 ms more and t0 has left the window") {
        rule.process(ping(kT0 + 9 * kMinute + 1, "10.0.1.1"), alerts);
        CHECK(alerts.empty());
    }
}

TEST_CASE("Threshold: events are spent after an alert and must reach the threshold again", "[threshold]") {
    ThresholdEngine rule(builtin(), {});
    REQUIRE(sweep(rule, 97).size() == 1);
    // The same 97 targets again: only new events count, and they reach 100 distinct again.
    auto again = sweep(rule, 96, kT0 + 100'000);
    CHECK(again.empty());
    std::vector<Alert> alerts;
    rule.process(ping(kT0 + 200'000, "10.0.0.96"), alerts);
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].count == 97);
    // An event at or before the alert's time arriving late is spent, not counted.
    rule.process(ping(kT0 + 200'000, "10.9.9.9"), alerts);
    CHECK(rule.counters().spent == 1);
}

TEST_CASE("Threshold: an event without a group-by value counts in no group", "[threshold]") {
    ThresholdEngine rule(builtin(), {});
    std::vector<Alert> alerts;
    for (int i = 0; i < 200; ++i) {
        auto e = ping(kT0 + i, "10.0.0." + std::to_string(i));
        e.parent_entity_id.clear();
        rule.process(e, alerts);
    }
    CHECK(alerts.empty());
    CHECK(rule.counters().missing_group_field == 200);
    CHECK(rule.counters().groups == 0);
}

TEST_CASE("Threshold: different parents (pid reuse) are different groups", "[threshold]") {
    ThresholdEngine rule(builtin(), {});
    // The same parent pid, but two process instances: 60 targets each, never 100 in one group.
    CHECK(sweep(rule, 60, kT0, "instance-A").empty());
    CHECK(sweep(rule, 60, kT0 + 60'000, "instance-B", "10.0.1.").empty());
    CHECK(rule.counters().groups == 2);
}

TEST_CASE("Threshold: only the rule's tools match; comm mode ignores busybox applets", "[threshold]") {
    auto busybox = [](std::int64_t t, int i) {
        ProcessEvent e = ping(t, "10.0.0." + std::to_string(i));
        e.name = "busybox";
        e.executable = "/usr/bin/busybox";
        e.args = {"busybox", "ping", "-c", "1", "10.0.0." + std::to_string(i)};
        return e;
    };
    for (auto mode : {NameMatch::any, NameMatch::comm}) {
        ThresholdEngine rule(builtin(), EngineOptions{mode, 10000, 10, 25});
        std::vector<Alert> alerts;
        for (int i = 0; i < 120; ++i) rule.process(busybox(kT0 + i, i), alerts);
        CHECK(alerts.size() == (mode == NameMatch::any ? 1U : 0U));
    }
    ThresholdEngine rule(builtin(), {});
    std::vector<Alert> alerts;
    for (int i = 0; i < 120; ++i) {
        ProcessEvent e = ping(kT0 + i, std::to_string(i));
        e.name = "curl";
        e.executable = "/usr/bin/curl";
        e.args[0] = "curl";
        rule.process(e, alerts);
    }
    CHECK(alerts.empty());
    CHECK(rule.counters().matched == 0);
}

TEST_CASE("Threshold: a failed exec matches on comm only", "[threshold]") {
    ThresholdEngine rule(builtin(), {});
    std::vector<Alert> alerts;
    for (int i = 0; i < 120; ++i) {
        ProcessEvent e = ping(kT0 + i, std::to_string(i));
        e.name = "bash";  // the image that tried to exec
        e.executable = "/usr/bin/bash";
        e.success = false;
        rule.process(e, alerts);
    }
    CHECK(alerts.empty());
}

TEST_CASE("Threshold: at most max_signals alerts per interval, the rest held back", "[threshold]") {
    ThresholdEngine rule(with_max_signals(2), {});
    std::vector<Alert> alerts;
    for (int g = 0; g < 3; ++g) {
        for (int i = 0; i < 97; ++i) {
            rule.process(ping(kT0 + i, "10.0.0." + std::to_string(i), "P" + std::to_string(g)), alerts);
        }
    }
    CHECK(alerts.size() == 2);
    CHECK(rule.counters().held_back == 1);
    // The next interval may alert again.
    for (int i = 0; i < 97; ++i) rule.process(ping(kT0 + 5 * kMinute + i, "10.0.0." + std::to_string(i), "P9"), alerts);
    CHECK(alerts.size() == 3);
}

TEST_CASE("Threshold: events older than the window are late and ignored", "[threshold]") {
    ThresholdEngine rule(builtin(), {});
    std::vector<Alert> alerts;
    rule.process(ping(kT0 + 20 * kMinute, "a"), alerts);
    rule.process(ping(kT0, "b"), alerts);
    CHECK(rule.counters().late == 1);
}

TEST_CASE("Threshold: groups are capped, the one with the fewest values evicted", "[threshold]") {
    ThresholdEngine rule(builtin(), EngineOptions{NameMatch::any, 50, 10, 25});
    std::vector<Alert> alerts;
    for (int g = 0; g < 500; ++g) rule.process(ping(kT0 + g, "x", "P" + std::to_string(g)), alerts);
    CHECK(rule.counters().groups == 50);
    CHECK(rule.counters().groups_evicted == 450);
}

TEST_CASE("Threshold: out-of-order events within the window still count", "[threshold]") {
    ThresholdEngine rule(builtin(), {});
    std::vector<Alert> alerts;
    for (int i = 96; i >= 0; --i) rule.process(ping(kT0 + i * 100, "10.0.0." + std::to_string(i)), alerts);
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].from_ms == kT0);
}
