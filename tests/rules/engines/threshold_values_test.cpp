#include <catch2/catch.hpp>

#include <chrono>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/engines/threshold_engine.h"

using scanwatch::ProcessEvent;
using namespace scanwatch::rules;

// Issue 21, item 7: a group kept every distinct value until the event count was met (10 parents
// x 19 execs x 20,000 arguments: 312 MB), and values arriving out of order walked the
// time-ordered list (8 execs of 20,000 arguments, each 1 s earlier: 168 s).

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;

std::shared_ptr<const RuleDefinition> rule_with(std::uint64_t value, std::uint64_t cardinality) {
    auto r = load_rule(builtin_rule_text(), "built-in");
    REQUIRE(std::holds_alternative<std::shared_ptr<const RuleDefinition>>(r));
    auto copy = std::make_shared<RuleDefinition>(*std::get<std::shared_ptr<const RuleDefinition>>(r));
    copy->threshold_value = value;
    copy->cardinality->value = cardinality;
    return copy;
}

// One ping exec with `n` distinct arguments named after `tag`.
ProcessEvent exec(std::int64_t time_ms, int n, const std::string& tag, std::uint64_t serial,
                  const std::string& parent = "P1") {
    ProcessEvent e;
    e.time_ms = time_ms;
    e.serial = serial;
    e.host_id = "h1";
    e.host_name = "host-one";
    e.pid = 1000;
    e.ppid = 999;
    e.name = "ping";
    e.executable = "/usr/bin/ping";
    e.args.push_back("ping");
    for (int i = 0; i < n; ++i) e.args.push_back(tag + "-" + std::to_string(i));
    e.args_count = e.args.size();
    e.entity_id = "E";
    e.parent_entity_id = parent;
    e.user.id = "0";
    return e;
}

std::size_t values_kept(const ThresholdEngine& rule) {
    std::size_t n = 0;
    const nlohmann::json state = rule.save_state();  // kept: the loop reads into it
    for (const auto& g : state.at("groups")) n += g.at("values").size();
    return n;
}

}  // namespace

TEST_CASE("Threshold values: a group keeps at most the cardinality's values while its count is "
          "short", "[threshold][threshold-values]") {
    ThresholdEngine rule(rule_with(20, 100), {});
    std::vector<Alert> alerts;
    for (int p = 0; p < 10; ++p) {
        for (int i = 0; i < 19; ++i) {
            rule.process(exec(kT0 + i * 1000, 2000, "p" + std::to_string(p) + "e" + std::to_string(i), static_cast<std::uint64_t>(i),
                              "P" + std::to_string(p)),
                         alerts);
        }
    }
    CHECK(alerts.empty());
    CHECK(values_kept(rule) == 10 * 100);  // was 10 x 19 x 2,000
    // The 20th exec crosses: the count is met and the cardinality was never lost.
    rule.process(exec(kT0 + 19'000, 1, "last", 19, "P3"), alerts);
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].count == 20);
    CHECK(alerts[0].cardinality == 100);
}

TEST_CASE("Threshold values: the values kept are the most recently seen, so a crossing is exact",
          "[threshold][threshold-values]") {
    // cardinality 3, value 3. Four old values at t0, then two new ones late in the window: the
    // old ones leave the window at t0 + 9 min, and only values seen since count.
    ThresholdEngine rule(rule_with(3, 3), {});
    std::vector<Alert> alerts;
    rule.process(exec(kT0, 4, "old", 1), alerts);  // "ping" + 4: 5 values, 3 kept
    rule.process(exec(kT0 + 500'000, 1, "new", 2), alerts);  // "ping" seen again, "new-0"
    CHECK(alerts.empty());  // 2 events
    // 9 min + 1 s after t0: t0's values are gone; in the window: "ping", "new-0", "late-0".
    rule.process(exec(kT0 + 541'000, 1, "late", 3), alerts);
    CHECK(alerts.empty());  // only 2 events in the window
    rule.process(exec(kT0 + 542'000, 0, "", 4), alerts);
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].cardinality == 3);
}

TEST_CASE("Threshold values: values arriving out of order cost O(log n), not a walk",
          "[threshold][threshold-values]") {
    // A large cardinality keeps everything: 8 execs of 12,000 arguments, each 1 s earlier.
    ThresholdEngine rule(rule_with(1000, 100'000), {});
    std::vector<Alert> alerts;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 8; ++i) {
        rule.process(exec(kT0 - i * 1000, 12'000, "t" + std::to_string(i),
                          static_cast<std::uint64_t>(i)),
                     alerts);
    }
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(values_kept(rule) == 8 * 12'000 + 1);
    CHECK(took < std::chrono::seconds(5));  // was minutes
    // Saved oldest first, as restore requires.
    const nlohmann::json state = rule.save_state();
    std::int64_t previous = std::numeric_limits<std::int64_t>::min();
    bool ordered = true;
    for (const auto& v : state.at("groups").at(0).at("values")) {
        ordered = ordered && v.at(1).get<std::int64_t>() >= previous;
        previous = v.at(1).get<std::int64_t>();
    }
    CHECK(ordered);
    ThresholdEngine restored(rule_with(1000, 100'000), {});
    CHECK(restored.restore_state(state));
    CHECK(values_kept(restored) == 8 * 12'000 + 1);
    // A state saved with more values than the cardinality keeps the most recent ones.
    ThresholdEngine smaller(rule_with(1000, 100), {});
    CHECK(smaller.restore_state(state));
    CHECK(values_kept(smaller) == 100);
}

TEST_CASE("Threshold values: a cardinality over 100,000 is refused at load", "[threshold-values]") {
    std::string text(builtin_rule_text());
    const auto at = text.find("value = 100\n");
    REQUIRE(at != std::string::npos);
    text.replace(at, 12, "value = 10000000\n");
    auto r = load_rule(text, "big.toml");
    REQUIRE(std::holds_alternative<RuleError>(r));
    CHECK(std::get<RuleError>(r).message.find("over 100000") != std::string::npos);
}
