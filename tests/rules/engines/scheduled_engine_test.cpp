#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "rules/engines/scheduled_engine.h"
#include "rules/engines/threshold_engine.h"
#include "tests/rules/rule_fixtures.h"

using scanwatch::ProcessEvent;
using namespace scanwatch::rules;
using scanwatch::test::builtin;

namespace {

constexpr std::int64_t kSecond = 1000;
constexpr std::int64_t kMinute = 60 * kSecond;
// A run time of the built-in rule (interval 5m): runs fall on multiples of 5 minutes since the
// epoch, here 2023-11-14T22:15:00Z.
constexpr std::int64_t kRun0 = 5'666'667 * 5 * kMinute;
static_assert(kRun0 % (5 * kMinute) == 0);

std::shared_ptr<const RuleDefinition> with_max_signals(std::uint64_t n) {
    auto copy = std::make_shared<RuleDefinition>(*builtin());
    copy->max_signals = n;
    return copy;
}

EngineOptions scheduled_options() {
    EngineOptions o;
    o.evaluation = Evaluation::scheduled;
    return o;
}

// The shared ping with a pid per serial and no entity id of its own.
ProcessEvent ping(std::int64_t time_ms, const std::string& target, const std::string& parent = "P1",
                  std::uint64_t serial = 1) {
    ProcessEvent e = scanwatch::test::ping(time_ms, target, parent, serial);
    e.pid = static_cast<std::int64_t>(1000 + serial);
    e.entity_id.clear();
    return e;
}

// Something else the host ran: moves event time forward, matches no rule.
ProcessEvent other(std::int64_t time_ms) {
    ProcessEvent e = ping(time_ms, "x");
    e.name = "ls";
    e.executable = "/usr/bin/ls";
    e.args = {"ls"};
    return e;
}

// `n` pings to 10.0.N.i from `start`, one every `step` ms, targets numbered from `first`.
void pings(RuleEngine& rule, std::vector<Alert>& alerts, int first, int n, std::int64_t start, std::int64_t step,
           const std::string& parent = "P1") {
    for (int i = 0; i < n; ++i) {
        rule.process(ping(start + i * step, "10.0.0." + std::to_string(first + i), parent,
                          static_cast<std::uint64_t>(first + i)),
                     alerts);
    }
}

}  // namespace

// A sweep of 120 targets split by a run boundary: 60 pings in the minute before the run at
// kRun0 + 5m, 60 in the minute after it. By hand, what Kibana's runs give:
//   run kRun0+5m,  window [kRun0-4m, kRun0+5m]:  60 events, 3 + 60 = 63 distinct args: nothing.
//   run kRun0+10m, window [kRun0+1m, kRun0+10m]: all 120 events, 3 + 120 = 123 distinct: alert,
//     @timestamp kRun0+10m, count 120, cardinality 123, from = the first ping (kRun0+4m).
// Streaming alerts once, on the event that brings the 100th distinct value (target 96, the 37th
// ping after the boundary), with count 97.
TEST_CASE("Scheduled: a sweep split across two runs alerts at the run whose window holds it", "[scheduled]") {
    const std::int64_t first_half = kRun0 + 4 * kMinute;
    const std::int64_t second_half = kRun0 + 5 * kMinute + kSecond;

    ThresholdEngine streaming(builtin(), {});
    std::vector<Alert> s_alerts;
    pings(streaming, s_alerts, 0, 60, first_half, kSecond);
    pings(streaming, s_alerts, 60, 60, second_half, kSecond);
    REQUIRE(s_alerts.size() == 1);
    CHECK(s_alerts[0].time_ms == second_half + 36 * kSecond);
    CHECK(s_alerts[0].count == 97);
    CHECK(s_alerts[0].cardinality == 100);

    ScheduledEngine scheduled(builtin(), scheduled_options());
    std::vector<Alert> alerts;
    pings(scheduled, alerts, 0, 60, first_half, kSecond);
    CHECK(scheduled.next_run_ms() == kRun0 + 5 * kMinute);
    pings(scheduled, alerts, 60, 60, second_half, kSecond);
    CHECK(alerts.empty());
    CHECK(scheduled.runs() == 1);  // the run at kRun0+5m happened, and found 63 distinct values
    // The run at kRun0+10m is due when event time passes it.
    scheduled.process(other(kRun0 + 10 * kMinute), alerts);
    CHECK(alerts.empty());  // an event exactly at the run time belongs to that run
    scheduled.process(other(kRun0 + 10 * kMinute + 1), alerts);
    REQUIRE(alerts.size() == 1);
    const Alert& a = alerts[0];
    CHECK(a.time_ms == kRun0 + 10 * kMinute);
    CHECK(a.count == 120);
    CHECK(a.cardinality == 123);
    CHECK(a.from_ms == first_half);
    CHECK(a.terms == s_alerts[0].terms);
    CHECK(a.evidence.first_event.id == ping(first_half, "", "P1", 0).event_id());
    CHECK(a.evidence.last_event.id == ping(second_half + 59 * kSecond, "", "P1", 119).event_id());
    CHECK(a.evidence.process_pid == 1119);  // of the last event of the bucket
    CHECK(a.evidence.sample_command_lines.front() == "ping -c 1 10.0.0.0");
    CHECK(a.evidence.sample_values.size() == 25);
    CHECK(a.uuid.size() == 32);
    CHECK(a.uuid != s_alerts[0].uuid);
    CHECK(scheduled.counters().alerts == 1);
    CHECK(scheduled.runs() == 2);
    std::vector<Alert> more;
    scheduled.finish(more);
    CHECK(more.empty());
}

// 97 targets (100 distinct values) over 8 minutes from kRun0+3m: every 9-minute window ending at
// an event holds them all, so streaming alerts on the last one. No run's window does:
//   run +5m  [-4m, +5m]:  pings at +3m..+5m   = 25 events, 28 distinct
//   run +10m [+1m, +10m]: pings at +3m..+10m  = 85 events, 88 distinct
//   run +15m [+6m, +15m]: pings at +6m..+11m  = 61 events, 64 distinct
//   run +20m [+11m, +20m]: the ping at +11m   = 1 event, 4 distinct
// so Kibana, and scheduled mode, never alert.
TEST_CASE("Scheduled: a scan no single run sees whole alerts in streaming only", "[scheduled]") {
    ThresholdEngine streaming(builtin(), {});
    ScheduledEngine scheduled(builtin(), scheduled_options());
    std::vector<Alert> s_alerts;
    std::vector<Alert> alerts;
    pings(streaming, s_alerts, 0, 97, kRun0 + 3 * kMinute, 5 * kSecond);
    pings(scheduled, alerts, 0, 97, kRun0 + 3 * kMinute, 5 * kSecond);
    scheduled.finish(alerts);
    CHECK(s_alerts.size() == 1);
    CHECK(alerts.empty());
    CHECK(scheduled.runs() == 4);
}

TEST_CASE("Scheduled: the window includes both ends", "[scheduled]") {
    // The run at kRun0+10m looks at [kRun0+1m, kRun0+10m]: 96 targets at kRun0+9m (99 distinct)
    // plus one more target at the window's start, or 1 ms before it.
    for (const std::int64_t offset : {std::int64_t{0}, std::int64_t{-1}}) {
        INFO("offset " << offset);
        ScheduledEngine rule(builtin(), scheduled_options());
        std::vector<Alert> alerts;
        rule.process(ping(kRun0 + kMinute + offset, "10.9.9.9"), alerts);
        pings(rule, alerts, 0, 96, kRun0 + 9 * kMinute, 0);
        rule.process(ping(kRun0 + 10 * kMinute, "10.0.0.0"), alerts);  // a repeat, at the run time
        rule.finish(alerts);
        REQUIRE(alerts.size() == (offset == 0 ? 1U : 0U));
        if (offset == 0) {
            CHECK(alerts[0].count == 98);
            CHECK(alerts[0].cardinality == 100);
            CHECK(alerts[0].from_ms == kRun0 + kMinute);
        }
    }
}

TEST_CASE("Scheduled: at most max_signals alerts per run, held back groups alert in a later run", "[scheduled]") {
    ScheduledEngine rule(with_max_signals(2), scheduled_options());
    std::vector<Alert> alerts;
    // Three groups reach 100 distinct values between kRun0+1m and kRun0+2m.
    for (const char* parent : {"P2", "P0", "P1"}) pings(rule, alerts, 0, 97, kRun0 + kMinute, 100, parent);
    CHECK(alerts.empty());
    rule.finish(alerts);
    // The run at +5m alerts for the first two groups by their terms; P2 is held back and its
    // events stay unspent (Kibana keeps no signal history for it), so the run at +10m, whose
    // window [+1m, +10m] still holds them, alerts for it.
    REQUIRE(alerts.size() == 3);
    CHECK(alerts[0].time_ms == kRun0 + 5 * kMinute);
    CHECK(alerts[0].terms[1].second == "P0");
    CHECK(alerts[1].time_ms == kRun0 + 5 * kMinute);
    CHECK(alerts[1].terms[1].second == "P1");
    CHECK(alerts[2].time_ms == kRun0 + 10 * kMinute);
    CHECK(alerts[2].terms[1].second == "P2");
    CHECK(alerts[2].count == 97);
    CHECK(rule.counters().held_back == 1);
    CHECK(rule.counters().alerts == 3);
    CHECK(rule.runs() == 2);
}

TEST_CASE("Scheduled: after an alert the group's events are spent", "[scheduled]") {
    ScheduledEngine rule(builtin(), scheduled_options());
    std::vector<Alert> alerts;
    pings(rule, alerts, 0, 97, kRun0 + kMinute, kSecond);           // +1m .. +2m36s
    pings(rule, alerts, 0, 97, kRun0 + 6 * kMinute, kSecond);       // the same targets again
    REQUIRE(alerts.size() == 1);                                    // at +5m, due at the +6m event
    CHECK(alerts[0].time_ms == kRun0 + 5 * kMinute);
    CHECK(alerts[0].count == 97);
    // A late event at or before the alerted bucket's last event is spent.
    rule.process(ping(kRun0 + kMinute + 96 * kSecond, "10.1.1.1"), alerts);
    CHECK(rule.counters().spent == 1);
    rule.finish(alerts);
    // The run at +10m looks at [+1m, +10m], but the first sweep is spent: only the second counts.
    REQUIRE(alerts.size() == 2);
    CHECK(alerts[1].time_ms == kRun0 + 10 * kMinute);
    CHECK(alerts[1].count == 97);
    CHECK(alerts[1].cardinality == 100);
    CHECK(alerts[1].from_ms == kRun0 + 6 * kMinute);
}

TEST_CASE("Scheduled: finish() does the last due run", "[scheduled]") {
    ScheduledEngine rule(builtin(), scheduled_options());
    std::vector<Alert> alerts;
    pings(rule, alerts, 0, 96, kRun0 + 4 * kMinute, 10);
    rule.process(ping(kRun0 + 5 * kMinute, "10.0.0.96", "P1", 96), alerts);  // exactly at the run
    CHECK(alerts.empty());
    CHECK(rule.runs() == 0);
    rule.finish(alerts);
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].time_ms == kRun0 + 5 * kMinute);
    CHECK(alerts[0].count == 97);
    CHECK(alerts[0].evidence.last_event.time_ms == kRun0 + 5 * kMinute);
    CHECK(rule.runs() == 1);  // the run at +10m would see only spent events: not done
}

TEST_CASE("Scheduled: advance() does the runs an event at that time would", "[scheduled]") {
    ScheduledEngine rule(builtin(), scheduled_options());
    std::vector<Alert> alerts;
    rule.advance(kRun0 + 20 * kMinute, alerts);  // before any event: nothing to do
    CHECK(rule.next_run_ms() == std::numeric_limits<std::int64_t>::min());
    pings(rule, alerts, 0, 97, kRun0 + kMinute, 10);
    rule.advance(kRun0 + 5 * kMinute, alerts);
    CHECK(alerts.empty());
    rule.advance(kRun0 + 5 * kMinute + 1, alerts);
    CHECK(alerts.size() == 1);
}

TEST_CASE("Scheduled: a long gap in event time skips the runs that can see nothing", "[scheduled]") {
    ScheduledEngine rule(builtin(), scheduled_options());
    std::vector<Alert> alerts;
    pings(rule, alerts, 0, 50, kRun0 + kMinute, 10);
    constexpr std::int64_t kTenYears = 10LL * 365 * 24 * 60 * kMinute;
    pings(rule, alerts, 50, 60, kRun0 + kTenYears + kMinute, 10);
    CHECK(alerts.empty());  // neither half reaches 100 on its own
    CHECK(rule.runs() == 2);  // +5m and +10m saw the first half; the next million runs saw nothing
    CHECK(rule.counters().groups == 1);
    rule.finish(alerts);
    CHECK(alerts.empty());
    CHECK(rule.runs() == 4);
    // An event no future run can see is late.
    rule.process(ping(kRun0 + 2 * kMinute, "10.2.2.2"), alerts);
    CHECK(rule.counters().late == 1);
}

TEST_CASE("Scheduled: memory is bounded by a value cap and a group cap", "[scheduled]") {
    SECTION("distinct values per group") {
        ScheduledEngine rule(builtin(), scheduled_options());
        CHECK(rule.value_cap() == 1000);
        std::vector<Alert> alerts;
        pings(rule, alerts, 0, 5000, kRun0 + kMinute, 1);
        rule.finish(alerts);
        REQUIRE(alerts.size() == 1);
        CHECK(alerts[0].count == 5000);  // exact
        CHECK(alerts[0].cardinality >= 1000);  // a lower bound past the cap
        CHECK(alerts[0].cardinality <= 1250);
    }
    SECTION("groups, the one with the fewest values evicted") {
        EngineOptions options = scheduled_options();
        options.max_groups = 50;
        ScheduledEngine rule(builtin(), options);
        std::vector<Alert> alerts;
        for (int g = 0; g < 500; ++g) rule.process(ping(kRun0 + g, "x", "P" + std::to_string(g)), alerts);
        CHECK(rule.counters().groups == 50);
        CHECK(rule.counters().groups_evicted == 450);
    }
}

TEST_CASE("Scheduled: events without a group-by value and unmatched events are counted as in streaming", "[scheduled]") {
    ScheduledEngine rule(builtin(), scheduled_options());
    std::vector<Alert> alerts;
    for (int i = 0; i < 200; ++i) {
        auto e = ping(kRun0 + i, "10.0.0." + std::to_string(i));
        e.parent_entity_id.clear();
        rule.process(e, alerts);
        rule.process(other(kRun0 + i), alerts);
    }
    rule.finish(alerts);
    CHECK(alerts.empty());
    CHECK(rule.counters().matched == 200);
    CHECK(rule.counters().missing_group_field == 200);
    CHECK(rule.counters().groups == 0);
}

TEST_CASE("Scheduled: a saved state continues where it stopped (tail mode restarts)", "[scheduled]") {
    // The sweep split by a run boundary, with a restart between its halves.
    const auto run = [](bool restart) {
        auto first = std::make_unique<ScheduledEngine>(builtin(), scheduled_options());
        std::vector<Alert> alerts;
        pings(*first, alerts, 0, 60, kRun0 + 4 * kMinute, kSecond);
        std::unique_ptr<ScheduledEngine> second;
        if (restart) {
            const auto state = first->save_state();
            first.reset();
            second = std::make_unique<ScheduledEngine>(builtin(), scheduled_options());
            REQUIRE(second->restore_state(nlohmann::json::parse(state.dump())));
        } else {
            second = std::move(first);
        }
        pings(*second, alerts, 60, 60, kRun0 + 5 * kMinute + kSecond, kSecond);
        second->finish(alerts);
        return alerts;
    };
    const auto continuous = run(false);
    const auto restarted = run(true);
    REQUIRE(continuous.size() == 1);
    REQUIRE(restarted.size() == 1);
    CHECK(restarted[0].time_ms == continuous[0].time_ms);
    CHECK(restarted[0].count == 120);
    CHECK(restarted[0].cardinality == continuous[0].cardinality);
    CHECK(restarted[0].uuid == continuous[0].uuid);
    CHECK(alert_to_json(restarted[0], 0) == alert_to_json(continuous[0], 0));

    ScheduledEngine fresh(builtin(), scheduled_options());
    ThresholdEngine streaming(builtin(), {});
    CHECK_FALSE(fresh.restore_state(streaming.save_state()));  // another engine's state
    CHECK_FALSE(fresh.restore_state(nlohmann::json{{"engine", "scheduled"}}));
    CHECK(fresh.next_run_ms() == std::numeric_limits<std::int64_t>::min());
}
