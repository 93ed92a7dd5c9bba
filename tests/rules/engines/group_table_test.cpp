#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "rules/engines/group_table.h"
#include "rules/engines/scheduled_engine.h"
#include "rules/engines/threshold_engine.h"
#include "tests/rules/rule_fixtures.h"

using scanwatch::ProcessEvent;
using namespace scanwatch::rules;
using scanwatch::test::builtin;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;

struct TestGroup : GroupBase {};

// The shared ping without pid, serial, argument count or entity id.
ProcessEvent ping(std::int64_t time_ms, const std::string& target, const std::string& parent) {
    ProcessEvent e = scanwatch::test::ping(time_ms, target, parent, 0);
    e.pid = 0;
    e.ppid = 0;
    e.args_count = 0;
    e.entity_id.clear();
    return e;
}

// The scheduled engine saves its value hashes in hash-table order: compare them as sets.
nlohmann::json sorted_values(nlohmann::json state) {
    for (auto& g : state["groups"]) std::sort(g["values"].begin(), g["values"].end());
    return state;
}

std::vector<std::string> keys(const GroupTable<TestGroup>& table) {
    std::vector<std::string> out;
    for (const auto& g : table.groups()) out.push_back(g.key);
    return out;
}

}  // namespace

TEST_CASE("GroupTable: a full table evicts the least weight, then the least recently ranked", "[group_table]") {
    RuleCounters counters;
    GroupTable<TestGroup> table(3, counters);
    for (const char* k : {"a", "b", "c"}) {
        TestGroup& g = table.add(k);
        g.events = 1;
    }
    table.rank(*table.find("a"), 50);  // near its threshold, though least recently used below
    table.rank(*table.find("b"), 4);
    table.rank(*table.find("c"), 4);
    REQUIRE(table.find("b") != nullptr);  // a lookup alone does not change the eviction order
    table.add("d");
    // b had weight 4 and was ranked before c; a, least recently used, is kept for its weight.
    CHECK(keys(table) == std::vector<std::string>{"d", "c", "a"});
    CHECK(table.find("a") != nullptr);
    CHECK(counters.groups_evicted == 1);
    CHECK(counters.values_evicted == 4);
    CHECK(counters.values_evicted_max == 4);
    CHECK(counters.groups == 3);
}

TEST_CASE("GroupTable: groups are dropped by age, and by predicate", "[group_table]") {
    RuleCounters counters;
    GroupTable<TestGroup> table(10, counters);
    for (int i = 0; i < 5; ++i) table.add(std::to_string(i)).last_ms = i;
    table.drop_lru_while([](const TestGroup& g) { return g.last_ms < 2; });
    CHECK(keys(table) == std::vector<std::string>{"4", "3", "2"});
    table.drop_if([](const TestGroup& g) { return g.last_ms == 3; });
    CHECK(keys(table) == std::vector<std::string>{"4", "2"});
    CHECK(counters.groups == 2);
    CHECK(counters.groups_evicted == 0);
}

TEST_CASE("Group state: a duplicate group key is refused by both engines, nothing changed", "[group_table]") {
    for (const auto evaluation : {Evaluation::streaming, Evaluation::scheduled}) {
        EngineOptions options;
        options.evaluation = evaluation;
        auto engine = make_engine(builtin(), options);
        std::vector<Alert> alerts;
        engine->process(ping(kT0, "10.0.0.1", "P1"), alerts);
        engine->process(ping(kT0 + 1, "10.0.0.2", "P2"), alerts);
        nlohmann::json state = engine->save_state();
        REQUIRE(state["groups"].size() == 2);

        auto restored = make_engine(builtin(), options);
        REQUIRE(restored->restore_state(state));
        CHECK(restored->counters().groups == 2);
        CHECK(sorted_values(restored->save_state()) == sorted_values(state));

        state["groups"].push_back(state["groups"][0]);
        CHECK_FALSE(restored->restore_state(state));
        CHECK(restored->counters().groups == 2);
        CHECK(restored->save_state()["groups"].size() == 2);
    }
}

TEST_CASE("Group state: restored under a lower --max-groups, the most recently used come back", "[group_table]") {
    EngineOptions options;
    auto engine = make_engine(builtin(), options);
    std::vector<Alert> alerts;
    for (int g = 0; g < 5; ++g) engine->process(ping(kT0 + g, "10.0.0.1", "P" + std::to_string(g)), alerts);
    options.max_groups = 2;
    auto smaller = make_engine(builtin(), options);
    REQUIRE(smaller->restore_state(engine->save_state()));
    CHECK(smaller->counters().groups == 2);
    const auto groups = smaller->save_state()["groups"];
    REQUIRE(groups.size() == 2);
    CHECK(groups[1]["terms"][1][1] == "5034");  // hex of "P4", the most recently used
}
