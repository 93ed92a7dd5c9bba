#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "rules/engines/engine.h"
#include "tests/rules/rule_fixtures.h"

using scanwatch::ProcessEvent;
using namespace scanwatch::rules;
using scanwatch::test::builtin;

// A flood of one-off execs, each from its own parent, must not evict a ping sweep's group
// (docs/detection.md, "Memory bounds"): eviction takes the group with the fewest distinct values.

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;
constexpr int kSweepTargets = 150;

enum class Shape { burst, spread };

struct FloodResult {
    std::vector<Alert> alerts;
    RuleCounters counters;
};

// A 150-target sweep, one ping a second from one parent, with `flood` one-off pings (4 values
// each, own parent) either all between the 75th and 76th sweep exec (burst) or spread evenly
// between the sweep's execs.
FloodResult sweep_with_flood(Evaluation evaluation, std::size_t flood, Shape shape) {
    EngineOptions options;
    options.evaluation = evaluation;
    auto engine = make_engine(builtin(), options);
    FloodResult r;
    ProcessEvent e;
    e.host_id = "h1";
    e.host_name = "host-one";
    e.name = "ping";
    e.executable = "/usr/bin/ping";
    e.args = {"ping", "-c", "1", ""};
    e.user.id = "0";
    std::size_t flooded = 0;
    const auto flood_until = [&](std::size_t until, std::int64_t time_ms) {
        e.time_ms = time_ms;
        for (; flooded < until; ++flooded) {
            e.serial = 1'000'000 + flooded;
            e.parent_entity_id = "F" + std::to_string(flooded);
            e.args[3] = "172.16." + std::to_string(flooded % 65536);
            engine->process(e, r.alerts);
        }
    };
    for (int i = 0; i < kSweepTargets; ++i) {
        e.time_ms = kT0 + i * 1000;
        e.serial = static_cast<std::uint64_t>(i);
        e.parent_entity_id = "SWEEP";
        e.args[3] = "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256);
        engine->process(e, r.alerts);
        if (shape == Shape::burst && i == kSweepTargets / 2) flood_until(flood, e.time_ms + 500);
        if (shape == Shape::spread)
            flood_until(flood * static_cast<std::size_t>(i + 1) / kSweepTargets, e.time_ms + 500);
    }
    engine->finish(r.alerts);
    r.counters = engine->counters();
    return r;
}

void check_sweep_alerted(const FloodResult& r, std::size_t flood) {
    std::size_t sweep_alerts = 0;
    for (const auto& a : r.alerts) {
        for (const auto& [field, value] : a.terms) {
            if (field == "process.parent.entity_id" && value == "SWEEP") ++sweep_alerts;
        }
    }
    CHECK(sweep_alerts == 1);
    CHECK(r.alerts.size() == 1);
    // Memory stays bounded by --max-groups (10000) whatever the flood.
    CHECK(r.counters.groups <= 10000);
    CHECK(r.counters.groups_evicted >= flood - 10000);
    // Only one-off groups went: none held more than its own exec's 4 values.
    CHECK(r.counters.values_evicted_max == 4);
    CHECK(r.counters.values_evicted == 4 * r.counters.groups_evicted);
}

}  // namespace

TEST_CASE("Flood: 20k one-off execs in a sweep's middle or spread through it still alert", "[flood]") {
    for (const auto evaluation : {Evaluation::streaming, Evaluation::scheduled}) {
        for (const auto shape : {Shape::burst, Shape::spread}) {
            INFO("scheduled " << (evaluation == Evaluation::scheduled) << " spread "
                              << (shape == Shape::spread));
            check_sweep_alerted(sweep_with_flood(evaluation, 20'000, shape), 20'000);
        }
    }
}

// Each engine and each shape once at 1M (all four take ~8 s of CPU): fast, and still bounded.
TEST_CASE("Flood: 1M one-off execs in a sweep's middle or spread through it still alert", "[flood]") {
    SECTION("streaming, burst") {
        check_sweep_alerted(sweep_with_flood(Evaluation::streaming, 1'000'000, Shape::burst), 1'000'000);
    }
    SECTION("scheduled, spread") {
        check_sweep_alerted(sweep_with_flood(Evaluation::scheduled, 1'000'000, Shape::spread), 1'000'000);
    }
}
