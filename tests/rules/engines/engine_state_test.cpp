#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include "rules/engines/engine.h"
#include "tests/rules/rule_fixtures.h"

using scanwatch::ProcessEvent;
using namespace scanwatch::rules;
using scanwatch::test::builtin;

// Tail mode's state file goes through restore_state(): any damaged shape is refused (false,
// engine unchanged), never undefined behaviour through a float or an out-of-range number.

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;

// The shared ping of 10.0.0.TARGET under P1, without pid, argument count or entity id.
ProcessEvent ping(std::int64_t time_ms, int target, std::uint64_t serial) {
    ProcessEvent e = scanwatch::test::ping(time_ms, "10.0.0." + std::to_string(target), "P1", serial);
    e.pid = 0;
    e.ppid = 0;
    e.args_count = 0;
    e.entity_id.clear();
    return e;
}

EngineOptions options_for(Evaluation evaluation) {
    EngineOptions o;
    o.evaluation = evaluation;
    return o;
}

// 60 pings, a restart (when `restart`), 60 more: the alerts.
std::vector<std::string> sweep(Evaluation evaluation, bool restart) {
    auto engine = make_engine(builtin(), options_for(evaluation));
    std::vector<Alert> alerts;
    for (int i = 0; i < 60; ++i) engine->process(ping(kT0 + i * 1000, i, static_cast<std::uint64_t>(i)), alerts);
    if (restart) {
        const std::string saved = engine->save_state().dump();
        engine = make_engine(builtin(), options_for(evaluation));
        REQUIRE(engine->restore_state(nlohmann::json::parse(saved)));
    }
    for (int i = 60; i < 120; ++i) engine->process(ping(kT0 + i * 1000, i, static_cast<std::uint64_t>(i)), alerts);
    engine->finish(alerts);
    std::vector<std::string> out;
    for (const auto& a : alerts) out.push_back(alert_to_json(a, 0));
    return out;
}

}  // namespace

TEST_CASE("Engine state: a restart mid-sweep gives the alerts of an uninterrupted run", "[engine_state]") {
    for (const auto evaluation : {Evaluation::streaming, Evaluation::scheduled}) {
        const auto continuous = sweep(evaluation, false);
        CHECK(continuous.size() == 1);
        CHECK(sweep(evaluation, true) == continuous);
    }
}

TEST_CASE("Engine state: damaged shapes are refused and change nothing", "[engine_state]") {
    using Damage = std::function<void(nlohmann::json&)>;
    const std::vector<std::pair<std::string, Damage>> damages = {
        {"float watermark", [](nlohmann::json& s) { s["watermark_ms"] = 1.7e12; }},
        {"float last_ms", [](nlohmann::json& s) { s["groups"][0]["last_ms"] = 0.5; }},
        {"watermark over INT64_MAX", [](nlohmann::json& s) { s["watermark_ms"] = std::uint64_t{1} << 63; }},
        {"negative count", [](nlohmann::json& s) { s["groups"][0]["seconds"][0][1] = -1; }},
        {"float count", [](nlohmann::json& s) { s["groups"][0]["seconds"][0][1] = 2.0; }},
        {"negative value hash", [](nlohmann::json& s) { s["groups"][0]["values"][0][0] = -5; }},
        {"duplicate value hash", [](nlohmann::json& s) {
             s["groups"][0]["values"][1][0] = s["groups"][0]["values"][0][0];
         }},
        {"duplicate group key", [](nlohmann::json& s) { s["groups"].push_back(s["groups"][0]); }},
        {"key of the wrong type", [](nlohmann::json& s) { s["groups"][0]["key"] = 5; }},
        {"key not hex", [](nlohmann::json& s) { s["groups"][0]["key"] = "zz"; }},
        {"groups not an array", [](nlohmann::json& s) { s["groups"] = "none"; }},
        {"samples not an array", [](nlohmann::json& s) { s["groups"][0]["sample_values"] = 3; }},
        {"seconds out of order", [](nlohmann::json& s) {
             s["groups"][0]["seconds"].push_back(s["groups"][0]["seconds"][0]);
         }},
    };
    for (const auto evaluation : {Evaluation::streaming, Evaluation::scheduled}) {
        auto source = make_engine(builtin(), options_for(evaluation));
        std::vector<Alert> alerts;
        for (int i = 0; i < 10; ++i) source->process(ping(kT0 + i * 1000, i, static_cast<std::uint64_t>(i)), alerts);
        const nlohmann::json good = source->save_state();
        REQUIRE(good["groups"].size() == 1);
        REQUIRE(good["groups"][0]["values"].size() >= 2);

        auto engine = make_engine(builtin(), options_for(evaluation));
        REQUIRE(engine->restore_state(good));
        const std::string before = engine->save_state().dump();
        for (const auto& [what, damage] : damages) {
            INFO((evaluation == Evaluation::scheduled ? "scheduled: " : "streaming: ") << what);
            nlohmann::json bad = good;
            damage(bad);
            CHECK_FALSE(engine->restore_state(bad));
            CHECK(engine->save_state().dump() == before);
            CHECK(engine->counters().groups == 1);
        }
    }
}

TEST_CASE("Engine state: a group's hardening-only mark survives a restart", "[engine_state]") {
    // 60 targets whose comm is not ping (only the wider name match sees them), a restart, then
    // 60 by ping itself: the alert needed the hardened profile, so it counts as hardening-only.
    for (const auto evaluation : {Evaluation::streaming, Evaluation::scheduled}) {
        auto engine = make_engine(builtin(), options_for(evaluation));
        std::vector<Alert> alerts;
        for (int i = 0; i < 60; ++i) {
            ProcessEvent e = ping(kT0 + i * 1000, i, static_cast<std::uint64_t>(i));
            e.name = "pong";  // a renamed comm: exe and argv[0] still say ping
            engine->process(e, alerts);
        }
        nlohmann::json saved = engine->save_state();
        const char* key = evaluation == Evaluation::streaming ? "beyond_comm" : "hardening_only";
        REQUIRE(saved["groups"][0].value(key, false));
        engine = make_engine(builtin(), options_for(evaluation));
        REQUIRE(engine->restore_state(saved));
        for (int i = 60; i < 120; ++i) {
            engine->process(ping(kT0 + i * 1000, i, static_cast<std::uint64_t>(i)), alerts);
        }
        engine->finish(alerts);
        CHECK(alerts.size() == 1);
        CHECK(engine->counters().alerts_hardening_only == 1);
        // Not a boolean: damage, refused.
        saved["groups"][0][key] = 1;
        CHECK_FALSE(make_engine(builtin(), options_for(evaluation))->restore_state(saved));
    }
}
