#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "rules/engines/group_table.h"
#include "rules/engines/engine.h"
#include "tests/rules/rule_fixtures.h"

using scanwatch::ProcessEvent;
using namespace scanwatch::rules;
using scanwatch::test::builtin;

// What a group and an alert keep is capped in bytes (docs/operations.md, "Memory bounds"),
// whatever the size of the event's arguments.

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;

ProcessEvent ping_with(std::vector<std::string> extra_args, const std::string& parent) {
    ProcessEvent e;
    e.time_ms = kT0;
    e.host_id = "h1";
    e.host_name = "host-one";
    e.name = "ping";
    e.executable = "/usr/bin/ping";
    e.args = {"ping"};
    for (auto& a : extra_args) e.args.push_back(std::move(a));
    e.parent_entity_id = parent;
    e.user.id = "0";
    return e;
}

std::string big_arg(std::size_t i, std::size_t bytes) {
    std::string s = std::to_string(i) + ":";
    s.resize(bytes, 'x');
    return s;
}

}  // namespace

TEST_CASE("Evidence caps: strings are cut on a UTF-8 boundary with a marker that counts the rest", "[caps]") {
    std::string s = "ab\xC3\xA9" "cd";  // "abécd": cutting at 3 would split the é
    CHECK(truncate_with_marker(s, 3));
    CHECK(s == "ab\u2026[truncated 4 bytes]");
    std::string fits = "short";
    CHECK_FALSE(truncate_with_marker(fits, 5));
    bool cut = false;
    CHECK(capped_copy("0123456789", 4, cut) == "0123\u2026[truncated 6 bytes]");
    CHECK(cut);
    ProcessEvent e = ping_with({"-c", "1", std::string(1000, 'y')}, "P");
    const std::string line = capped_command_line(e, 20, cut);
    CHECK(cut);
    CHECK(line == "ping -c 1 yyyyyyyyyy\u2026[truncated 990 bytes]");
    CHECK(capped_command_line(ping_with({"-c", "1"}, "P"), 20, cut) == "ping -c 1");
    CHECK_FALSE(cut);
}

TEST_CASE("Evidence caps: one exec of 1,000 arguments of 100 KB makes a small alert", "[caps]") {
    std::vector<std::string> args;
    for (std::size_t i = 0; i < 1000; ++i) args.push_back(big_arg(i, 100'000));
    const ProcessEvent e = ping_with(std::move(args), "P1");
    for (const auto evaluation : {Evaluation::streaming, Evaluation::scheduled}) {
        EngineOptions options;
        options.evaluation = evaluation;
        auto engine = make_engine(builtin(), options);
        std::vector<Alert> alerts;
        engine->process(e, alerts);
        engine->finish(alerts);
        REQUIRE(alerts.size() == 1);
        const Alert& a = alerts[0];
        // "ping" and the 1,000 arguments; streaming keeps at most the rule's cardinality (100)
        // of them, so that is what it can say (docs/rules.md, "Memory").
        CHECK(a.cardinality == (evaluation == Evaluation::streaming ? 100 : 1001));
        REQUIRE(a.evidence.sample_command_lines.size() == 1);
        CHECK(a.evidence.sample_command_lines[0].size() <= limits::kSampleCommandBytes + 40);
        CHECK(a.evidence.sample_command_lines[0].find("\u2026[truncated ") != std::string::npos);
        REQUIRE(a.evidence.sample_values.size() == options.sample_values);
        for (const auto& v : a.evidence.sample_values) {
            if (v != "ping") CHECK(v.size() <= limits::kSampleValueBytes + 40);
        }
        // 1 command line and 24 values cut; the 100 MB event gives an alert line under 16 KiB.
        CHECK(engine->counters().truncated == 25);
        CHECK(alert_to_json(a, 0).size() < 16 * 1024);
    }
}

TEST_CASE("Evidence caps: 200 groups of 100 KB command lines save a small state", "[caps]") {
    for (const auto evaluation : {Evaluation::streaming, Evaluation::scheduled}) {
        EngineOptions options;
        options.evaluation = evaluation;
        auto engine = make_engine(builtin(), options);
        std::vector<Alert> alerts;
        // 2,000 execs, 10 per group, each with a 100 KB argument: 13 values a group, no alert.
        for (int g = 0; g < 200; ++g) {
            for (int i = 0; i < 10; ++i) {
                ProcessEvent e = ping_with({"-c", "1", big_arg(static_cast<std::size_t>(i), 100'000)},
                                           "P" + std::to_string(g));
                e.time_ms = kT0 + i;
                engine->process(e, alerts);
            }
        }
        CHECK(alerts.empty());
        CHECK(engine->counters().groups == 200);
        CHECK(engine->counters().truncated == 200 * 20);  // 10 command lines and 10 values each
        const std::string state = engine->save_state().dump();
        // Uncapped, this state was 200 x 10 x 2 x 100 KB of hex: ~400 MB.
        CHECK(state.size() < 4 * 1024 * 1024);
    }
}
